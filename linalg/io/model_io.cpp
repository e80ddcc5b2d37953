#include "linalg/io/model_io.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "linalg/io/json.hpp"
#include "linalg/io/npy.hpp"

namespace paramserv {

namespace {

constexpr const char* format_name = "paramserv-model";
constexpr int format_version = 1;

// A tensor's shape in the saved (C order) orientation: an Armadillo (r x c)
// matrix is c rows of r contiguous values; a column vector is 1-D.
std::vector<size_t> saved_shape(const tensor_shape& s) {
  if (s.cols == 1)
    return {s.rows};
  return {s.cols, s.rows};
}

json to_json(const std::vector<size_t>& xs) {
  json::array arr;
  for (auto x : xs)
    arr.emplace_back(x);
  return json{std::move(arr)};
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    if (!out)
      throw std::runtime_error(tmp.string() + ": write failed");
  }
  std::filesystem::rename(tmp, path);
}

[[noreturn]] void fail(
  const std::filesystem::path& file, const std::string& what) {
  throw std::runtime_error(file.string() + ": " + what);
}

} // namespace

void save_model(const std::string& dir, const model_spec& spec,
  const parameter_set& params, scaling input_scaling,
  const feature_transform& transform) {
  namespace fs = std::filesystem;
  fs::path root{dir};
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec)
    fail(root, "cannot create model directory: " + ec.message());
  json::array tensors;
  for (size_t i = 0; i < params.count(); ++i) {
    auto& s = params.shape(i);
    auto file = s.name + ".npy";
    auto shape = saved_shape(s);
    write_npy((root / file).string(), params.flat().data() + params.offset(i),
      s.size(), shape);
    tensors.emplace_back(json::object{{"name", s.name}, {"file", file},
      {"shape", to_json(shape)}, {"dtype", "float32"}});
  }
  write_npy((root / "input_shift.npy").string(), transform.shift.memptr(),
    transform.shift.n_elem, {transform.shift.n_elem});
  write_npy((root / "input_scale.npy").string(), transform.scale.memptr(),
    transform.scale.n_elem, {transform.scale.n_elem});
  json manifest{json::object{
    {"format", format_name},
    {"version", format_version},
    {"model",
      json::object{{"kind", spec.kind}, {"layers", to_json(spec.layers())},
        {"activation", to_string(spec.act)}}},
    {"input", json::object{{"scaling", to_string(input_scaling)},
                {"shift", "input_shift.npy"}, {"scale", "input_scale.npy"}}},
    {"tensors", json{std::move(tensors)}},
  }};
  write_text(root / "manifest.json", manifest.dump() + "\n");
}

saved_model load_model(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path root{dir};
  auto manifest_path = root / "manifest.json";
  std::ifstream in(manifest_path);
  if (!in)
    fail(manifest_path, "cannot open (is this a saved model directory?)");
  std::stringstream text;
  text << in.rdbuf();
  saved_model result;
  try {
    auto doc = json::parse(text.str());
    if (doc.at("format").as_string() != format_name)
      fail(manifest_path, "not a paramserv model (format \""
                            + doc.at("format").as_string() + "\")");
    if (doc.at("version").as_number() != format_version)
      fail(manifest_path, "unsupported format version "
                            + std::to_string(doc.at("version").as_number()));
    auto& m = doc.at("model");
    auto& spec = result.spec;
    spec.kind = m.at("kind").as_string();
    std::vector<size_t> layers;
    for (auto& x : m.at("layers").as_array()) {
      double v = x.as_number();
      if (!(v >= 1 && v < 1e9) || v != static_cast<double>(size_t(v)))
        fail(manifest_path, "bad layer width");
      layers.push_back(static_cast<size_t>(v));
    }
    if (layers.size() < 2)
      fail(manifest_path, "a model needs at least two layers");
    spec.inputs = layers.front();
    spec.classes = layers.back();
    spec.hidden.assign(layers.begin() + 1, layers.end() - 1);
    auto act = parse_activation(m.at("activation").as_string());
    if (!act)
      fail(manifest_path,
        "unknown activation \"" + m.at("activation").as_string() + "\"");
    spec.act = *act;
    spec.validate();
    auto net = make_model(spec);
    result.params = parameter_set{net->shapes()};
    auto& tensors = doc.at("tensors").as_array();
    if (tensors.size() != result.params.count())
      fail(manifest_path, "expected " + std::to_string(result.params.count())
                            + " tensors, found "
                            + std::to_string(tensors.size()));
    for (size_t i = 0; i < tensors.size(); ++i) {
      auto& t = tensors[i];
      auto& s = result.params.shape(i);
      if (t.at("name").as_string() != s.name)
        fail(manifest_path, "tensor " + std::to_string(i) + " is \""
                              + t.at("name").as_string() + "\", expected \""
                              + s.name + "\"");
      auto file = root / t.at("file").as_string();
      auto arr = read_npy(file.string());
      if (arr.shape != saved_shape(s))
        fail(file, "shape does not match the model in the manifest");
      std::copy(arr.data.begin(), arr.data.end(),
        result.params.flat().begin() + result.params.offset(i));
    }
    auto& input = doc.at("input");
    auto sc = parse_scaling(input.at("scaling").as_string());
    if (!sc)
      fail(manifest_path,
        "unknown scaling \"" + input.at("scaling").as_string() + "\"");
    result.input_scaling = *sc;
    for (auto [key, dst] : {std::pair{"shift", &result.transform.shift},
           std::pair{"scale", &result.transform.scale}}) {
      auto file = root / input.at(key).as_string();
      auto arr = read_npy(file.string());
      if (arr.data.size() != spec.inputs)
        fail(file, "expected " + std::to_string(spec.inputs) + " values");
      *dst = arma::fvec(arr.data);
    }
  } catch (const std::invalid_argument& e) {
    fail(manifest_path, e.what());
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    if (what.rfind("json:", 0) == 0)
      fail(manifest_path, what);
    throw;
  }
  return result;
}

} // namespace paramserv
