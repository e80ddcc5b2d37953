#include "linalg/io/model_io.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "linalg/io/npy.hpp"
#include "linalg/io/posix_file.hpp"

namespace paramserv {

namespace {

namespace fs = std::filesystem;

using json = nlohmann::json;

constexpr const char* format_name = "paramserv-model";

constexpr int format_version = 1;

constexpr const char* manifest_name = "manifest.json";

// A tensor's shape in the saved (C order) orientation: an Armadillo (r x c)
// matrix is c rows of r contiguous values; a column vector is 1-D.
std::vector<size_t> saved_shape(const tensor_shape& s) {
  if (s.cols == 1)
    return {s.rows};
  return {s.cols, s.rows};
}

[[noreturn]] void fail(const fs::path& file, const std::string& what) {
  throw std::runtime_error(file.string() + ": " + what);
}

// `text` as a JSON string literal: quoted, escaped, on one line.
std::string quote(const std::string& text) {
  return json(text).dump(-1, ' ', false, json::error_handler_t::replace);
}

// Whether `name` names an entry directly in the model folder.
bool plain_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".."
         && name.find('/') == std::string::npos
         && name.find('\0') == std::string::npos;
}

// -- saving -------------------------------------------------------------------

// The files that the manifest in `root` names, if there is one and it
// parses: plain names only, never the manifest itself, so that removing
// them cannot reach outside the folder.
std::set<std::string> files_of_previous_save(const fs::path& root) {
  std::set<std::string> result;
  std::ifstream in{root / manifest_name};
  if (!in)
    return result;
  auto doc = json::parse(in, nullptr, false);
  if (!doc.is_object())
    return result;
  auto add = [&](const json& obj, const char* key) {
    if (!obj.is_object())
      return;
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_string())
      return;
    auto name = it->get<std::string>();
    if (plain_name(name) && name != manifest_name)
      result.insert(name);
  };
  if (auto t = doc.find("tensors"); t != doc.end() && t->is_array())
    for (auto& entry : *t)
      add(entry, "file");
  if (auto input = doc.find("input"); input != doc.end()) {
    add(*input, "shift");
    add(*input, "scale");
  }
  return result;
}

// -- loading ------------------------------------------------------------------

// Typed access to the manifest; errors name the manifest and the member,
// e.g. `DIR/manifest.json: model.layers: expected an array, got string`.
class manifest_reader {
public:
  explicit manifest_reader(fs::path path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& what) const {
    paramserv::fail(path_, what);
  }

  const json& member(
    const json& obj, const std::string& where, const std::string& key) const {
    if (!obj.is_object())
      fail((where.empty() ? "the document" : where)
           + ": expected an object, got " + obj.type_name());
    auto it = obj.find(key);
    if (it == obj.end())
      fail("missing key \"" + join(where, key) + "\"");
    return *it;
  }

  std::string string(
    const json& obj, const std::string& where, const std::string& key) const {
    return typed(obj, where, key, json::value_t::string).get<std::string>();
  }

  const json& array(
    const json& obj, const std::string& where, const std::string& key) const {
    return typed(obj, where, key, json::value_t::array);
  }

  const json& object(
    const json& obj, const std::string& where, const std::string& key) const {
    return typed(obj, where, key, json::value_t::object);
  }

private:
  static std::string join(const std::string& where, const std::string& key) {
    return where.empty() ? key : where + "." + key;
  }

  const json& typed(const json& obj, const std::string& where,
    const std::string& key, json::value_t type) const {
    auto& x = member(obj, where, key);
    if (x.type() != type)
      fail(join(where, key) + ": expected " + json(type).type_name() + ", got "
           + x.type_name());
    return x;
  }

  fs::path path_;
};

// The path of the model file `file` that manifest entry `entry` names,
// after checking that it is a plain name and that it resolves (symlinks
// followed) to a file inside the folder. A missing file passes, for
// read_npy to report.
fs::path model_file(const manifest_reader& manifest, const fs::path& root,
  const fs::path& canonical_root, const std::string& entry,
  const std::string& file) {
  if (!plain_name(file))
    manifest.fail(entry + ": file " + quote(file)
                  + " is not a plain file name inside the model folder");
  auto path = root / file;
  std::error_code ec;
  auto target = fs::canonical(path, ec);
  if (ec)
    return path;
  auto [r, t] = std::mismatch(
    canonical_root.begin(), canonical_root.end(), target.begin(), target.end());
  if (r != canonical_root.end() || t == target.end())
    manifest.fail(entry + ": file " + quote(file) + " resolves to "
                  + quote(target.string()) + ", outside the model folder");
  return path;
}

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

} // namespace

void save_model(const std::string& dir, const model_spec& spec,
  const parameter_set& params, scaling input_scaling,
  const feature_transform& transform, detail::save_faults* faults) {
  using detail::posix_file;
  fs::path root{dir};
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec)
    fail(root, "cannot create model directory: " + ec.message());
  auto step = [&](std::string_view what, const fs::path& path) {
    if (faults)
      faults->before(what, path.string());
  };
  auto previous = files_of_previous_save(root);
  auto id = detail::unique_id();
  std::set<std::string> written;
  auto write_array = [&](const std::string& file, const float* data,
                       size_t count, const std::vector<size_t>& shape) {
    auto path = root / file;
    step("write array", path);
    posix_file out{path.string(), posix_file::mode::create_new};
    written.insert(file);
    write_npy_to(out, data, count, shape);
    step("fsync array", path);
    out.sync();
    out.close();
  };
  auto tensors = json::array();
  for (size_t i = 0; i < params.count(); ++i) {
    auto& s = params.shape(i);
    auto file = s.name + "." + id + ".npy";
    auto shape = saved_shape(s);
    write_array(file, params.flat().data() + params.offset(i), s.size(), shape);
    tensors.push_back(json::object({{"name", s.name}, {"file", file},
      {"shape", shape}, {"dtype", "float32"}}));
  }
  auto shift_file = "input_shift." + id + ".npy";
  auto scale_file = "input_scale." + id + ".npy";
  write_array(shift_file, transform.shift.memptr(), transform.shift.n_elem,
    {transform.shift.n_elem});
  write_array(scale_file, transform.scale.memptr(), transform.scale.n_elem,
    {transform.scale.n_elem});
  json manifest = {
    {"format", format_name},
    {"version", format_version},
    {"model", {{"kind", spec.kind}, {"layers", spec.layers()},
                {"activation", to_string(spec.act)}}},
    {"input", {{"scaling", to_string(input_scaling)}, {"shift", shift_file},
                {"scale", scale_file}}},
    {"tensors", std::move(tensors)},
  };
  auto text = manifest.dump(2) + "\n";
  auto tmp = root / (std::string{manifest_name} + "." + id + ".tmp");
  step("write manifest", tmp);
  {
    posix_file out{tmp.string(), posix_file::mode::create_new};
    out.write(text.data(), text.size());
    step("fsync manifest", tmp);
    out.sync();
    out.close();
  }
  step("fsync folder", root);
  detail::sync_directory(root.string());
  auto manifest_path = root / manifest_name;
  step("rename manifest", manifest_path);
  fs::rename(tmp, manifest_path, ec);
  if (ec)
    fail(manifest_path,
      "cannot rename " + tmp.string() + " into place: " + ec.message());
  step("fsync folder", root);
  detail::sync_directory(root.string());
  for (auto& file : previous) {
    if (written.count(file) > 0)
      continue;
    step("remove old file", root / file);
    fs::remove(root / file, ec);
  }
}

saved_model load_model(const std::string& dir) {
  fs::path root{dir};
  auto manifest_path = root / manifest_name;
  std::ifstream in(manifest_path);
  if (!in)
    fail(manifest_path, "cannot open (is this a saved model directory?)");
  manifest_reader m{manifest_path};
  saved_model result;
  try {
    auto doc = json::parse(in);
    auto format = m.string(doc, "", "format");
    if (format != format_name)
      m.fail("not a paramserv model (format " + quote(format) + ")");
    auto& version = m.member(doc, "", "version");
    if (!version.is_number_integer()
        || version.get<int64_t>() != format_version)
      m.fail("unsupported format version " + version.dump());
    auto& model = m.object(doc, "", "model");
    auto& spec = result.spec;
    spec.kind = m.string(model, "model", "kind");
    std::vector<size_t> layers;
    for (auto& x : m.array(model, "model", "layers")) {
      if (!x.is_number_unsigned() || x.get<uint64_t>() < 1
          || x.get<uint64_t>() >= 1'000'000'000)
        m.fail("model.layers: bad layer width " + x.dump());
      layers.push_back(x.get<size_t>());
    }
    if (layers.size() < 2)
      m.fail("a model needs at least two layers");
    spec.inputs = layers.front();
    spec.classes = layers.back();
    spec.hidden.assign(layers.begin() + 1, layers.end() - 1);
    auto act_name = m.string(model, "model", "activation");
    auto act = from_string<activation>(act_name);
    if (!act)
      m.fail("unknown activation " + quote(act_name));
    spec.act = *act;
    spec.validate();
    auto net = make_model(spec);
    result.params = parameter_set{net->shapes()};
    std::error_code ec;
    auto canonical_root = fs::canonical(root, ec);
    if (ec)
      fail(root, "cannot resolve the model folder: " + ec.message());
    auto& tensors = m.array(doc, "", "tensors");
    if (tensors.size() != result.params.count())
      m.fail("expected " + std::to_string(result.params.count())
             + " tensors, found " + std::to_string(tensors.size()));
    for (size_t i = 0; i < tensors.size(); ++i) {
      auto where = "tensors[" + std::to_string(i) + "]";
      auto& s = result.params.shape(i);
      auto name = m.string(tensors[i], where, "name");
      if (name != s.name)
        m.fail("tensor " + std::to_string(i) + " is " + quote(name)
               + ", expected " + quote(s.name));
      auto file = model_file(m, root, canonical_root,
        "tensor " + std::to_string(i) + " (" + quote(name) + ")",
        m.string(tensors[i], where, "file"));
      auto arr = read_npy(file.string());
      if (arr.shape != saved_shape(s))
        fail(file, "shape does not match the model in the manifest");
      std::copy(arr.data.begin(), arr.data.end(),
        result.params.flat().begin() + result.params.offset(i));
    }
    auto& input = m.object(doc, "", "input");
    auto scaling_name = m.string(input, "input", "scaling");
    auto sc = from_string<scaling>(scaling_name);
    if (!sc)
      m.fail("unknown scaling " + quote(scaling_name));
    result.input_scaling = *sc;
    for (auto [key, dst] : {std::pair{"shift", &result.transform.shift},
           std::pair{"scale", &result.transform.scale}}) {
      auto file = model_file(m, root, canonical_root,
        std::string{"input \""} + key + "\"", m.string(input, "input", key));
      auto arr = read_npy(file.string());
      if (arr.data.size() != spec.inputs)
        fail(file, "expected " + std::to_string(spec.inputs) + " values");
      *dst = arma::fvec(arr.data);
    }
  } catch (const json::exception& e) {
    m.fail(one_line(e.what()));
  } catch (const std::invalid_argument& e) {
    m.fail(e.what());
  }
  return result;
}

} // namespace paramserv
