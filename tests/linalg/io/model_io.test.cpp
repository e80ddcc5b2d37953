#include "linalg/io/model_io.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "linalg/core/random.hpp"
#include "linalg/io/npy.hpp"
#include "linalg/train/sequential_trainer.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;
using paramserv::test::same_bits;

namespace {

namespace fs = std::filesystem;

using json = nlohmann::json;

using test::blobs;

// Test folders live in paramserv-model-<pid>-<n>.
struct temp_dir : test::temp_dir {
  temp_dir() : test::temp_dir{"paramserv-model"} {}
};

// Everything save_model takes.
struct model_data {
  model_spec spec;
  parameter_set params;
  scaling input_scaling = scaling::none;
  feature_transform transform;
};

// A 4-8-3 relu MLP (tensors W1, b1, W2, b2) with every parameter drawn from
// `seed`, and an input transform fitted with `s` on blobs of that seed.
model_data make_mlp(uint64_t seed, scaling s) {
  model_data m;
  m.spec.kind = "mlp";
  m.spec.inputs = 4;
  m.spec.hidden = {8};
  m.spec.classes = 3;
  m.params = parameter_set{make_model(m.spec)->shapes()};
  rng gen{seed};
  for (auto& x : m.params.flat())
    x = static_cast<float>(gen.uniform(-1.0, 1.0));
  m.input_scaling = s;
  m.transform = feature_transform::fit(s, blobs(50, seed));
  return m;
}

void save(const model_data& m, const fs::path& dir,
  detail::save_faults* faults = nullptr) {
  save_model(
    dir.string(), m.spec, m.params, m.input_scaling, m.transform, faults);
}

using paramserv::test::same_bits;

bool same_bits(const arma::fvec& a, const arma::fvec& b) {
  return same_bits(std::span{a.memptr(), a.n_elem}, {b.memptr(), b.n_elem});
}

// Whether `loaded` is `m`, bit for bit.
bool is_model(const saved_model& loaded, const model_data& m) {
  return loaded.spec.kind == m.spec.kind
         && loaded.spec.layers() == m.spec.layers()
         && loaded.spec.act == m.spec.act
         && loaded.input_scaling == m.input_scaling
         && loaded.params.shapes() == m.params.shapes()
         && same_bits(std::as_const(loaded.params).flat(), m.params.flat())
         && same_bits(loaded.transform.shift, m.transform.shift)
         && same_bits(loaded.transform.scale, m.transform.scale);
}

json read_manifest(const fs::path& dir) {
  std::ifstream in{dir / "manifest.json"};
  REQUIRE(in.good());
  return json::parse(in);
}

void write_manifest(const fs::path& dir, const json& manifest) {
  std::ofstream out{dir / "manifest.json", std::ios::trunc};
  out << manifest.dump(2) << '\n';
  REQUIRE(out.good());
}

// The names of the entries of `dir`.
std::set<std::string> list(const fs::path& dir) {
  std::set<std::string> result;
  for (auto& entry : fs::directory_iterator(dir))
    result.insert(entry.path().filename().string());
  return result;
}

// The files a saved manifest names, plus manifest.json.
std::set<std::string> files_named(const fs::path& dir) {
  auto m = read_manifest(dir);
  std::set<std::string> result{
    "manifest.json", m["input"]["shift"], m["input"]["scale"]};
  for (auto& t : m["tensors"])
    result.insert(t["file"].get<std::string>());
  return result;
}

// What() of the std::runtime_error load_model throws, checked to be one line
// that starts with the manifest's path.
std::string load_error(const fs::path& dir) {
  try {
    load_model(dir.string());
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    INFO("message: " << what);
    CHECK(what.find('\n') == std::string::npos);
    CHECK(what.rfind((dir / "manifest.json").string() + ": ", 0) == 0);
    return what;
  }
  FAIL("load_model did not throw");
  return {};
}

// Records every step of a save.
struct recording_hook : detail::save_faults {
  std::vector<std::string> steps;

  void before(std::string_view step, const std::string&) override {
    steps.emplace_back(step);
  }
};

struct simulated_crash {};

// Crashes the save just before its step `k` (zero-based).
struct crash_at : detail::save_faults {
  size_t k;
  size_t seen = 0;

  explicit crash_at(size_t k) : k(k) {}

  void before(std::string_view, const std::string&) override {
    if (seen++ == k)
      throw simulated_crash{};
  }
};

} // namespace

TEST_CASE("a saved model loads back with the same parameters and transform") {
  auto train = blobs(200, 5);
  train_options opts;
  opts.model.kind = "mlp";
  opts.model.inputs = 4;
  opts.model.classes = 3;
  opts.model.hidden = {8};
  opts.optimizer.kind = "adam";
  opts.schedule.base = 0.01f;
  opts.batch_size = 16;
  opts.epochs = 1;
  opts.seed = 9;
  sequential_trainer t{opts, train};
  t.run(nullptr);
  auto tf = feature_transform::fit(scaling::standardize, train);
  temp_dir dir;
  save_model(
    dir.path.string(), opts.model, t.params(), scaling::standardize, tf);
  auto loaded = load_model(dir.path.string());
  CHECK(loaded.spec.layers() == std::vector<size_t>{4, 8, 3});
  CHECK(loaded.input_scaling == scaling::standardize);
  auto fa = t.params().flat();
  auto fb = std::as_const(loaded.params).flat();
  REQUIRE(fa.size() == fb.size());
  CHECK(std::equal(fa.begin(), fa.end(), fb.begin()));
  CHECK(arma::approx_equal(loaded.transform.shift, tf.shift, "absdiff", 0));
  CHECK(arma::approx_equal(loaded.transform.scale, tf.scale, "absdiff", 0));
  // A tensor file whose shape disagrees with the manifest is refused.
  auto w2 = read_manifest(dir.path)["tensors"][2]["file"].get<std::string>();
  CHECK(w2.rfind("W2.", 0) == 0);
  write_npy(dir / w2, t.params().flat().data(), 6, {2, 3});
  auto shape_error = w2 + ": shape";
  CHECK_THROWS_WITH_AS(load_model(dir.path.string()),
    doctest::Contains(shape_error.c_str()), std::runtime_error);
  fs::remove_all(dir.path);
  CHECK_THROWS_WITH_AS(load_model(dir.path.string()),
    doctest::Contains("manifest.json"), std::runtime_error);
}

TEST_CASE("a model save that crashes at any step leaves the old model or the "
          "new one, whole") {
  auto a = make_mlp(1, scaling::standardize);
  auto b = make_mlp(2, scaling::minmax);
  // 4 tensors plus the input transform's shift and scale.
  const size_t arrays = 6;
  recording_hook rec;
  {
    temp_dir dir;
    save(a, dir.path);
    save(b, dir.path, &rec);
    REQUIRE(is_model(load_model(dir.path.string()), b));
  }
  auto& steps = rec.steps;
  REQUIRE(steps.size() >= arrays * 2 + 3);
  // The order save_model documents.
  std::vector<std::string> expected;
  for (size_t i = 0; i < arrays; ++i) {
    expected.push_back("write array");
    expected.push_back("fsync array");
  }
  for (auto s : {"write manifest", "fsync manifest", "fsync folder",
         "rename manifest", "fsync folder"})
    expected.push_back(s);
  for (size_t i = 0; i < arrays; ++i)
    expected.push_back("remove old file");
  CHECK(steps == expected);
  auto rename_step = static_cast<size_t>(
    std::find(steps.begin(), steps.end(), "rename manifest") - steps.begin());
  size_t gave_a = 0;
  for (size_t k = 0; k < steps.size(); ++k) {
    CAPTURE(k);
    CAPTURE(steps[k]);
    temp_dir dir;
    save(a, dir.path);
    crash_at crash{k};
    CHECK_THROWS_AS(save(b, dir.path, &crash), simulated_crash);
    auto loaded = load_model(dir.path.string());
    bool is_a = is_model(loaded, a);
    bool is_b = is_model(loaded, b);
    CHECK((is_a || is_b));
    // The rename is the commit: before it the old model, after it the new.
    CHECK(is_a == (k <= rename_step));
    if (is_a)
      ++gave_a;
    // A later save is not disturbed by what the crash left behind.
    save(b, dir.path);
    CHECK(is_model(load_model(dir.path.string()), b));
  }
  CHECK(gave_a > 0);
  CHECK(rename_step + 1 < steps.size()); // the last steps gave B
}

TEST_CASE("a model save removes the files of the save it replaces, and only "
          "those") {
  auto a = make_mlp(1, scaling::standardize);
  auto b = make_mlp(2, scaling::minmax);
  temp_dir dir;
  save(a, dir.path);
  SUBCASE("files of a save with save ids") {
    auto before = list(dir.path);
    CHECK(before.size() == 7); // manifest.json and 6 arrays
    CHECK(before == files_named(dir.path));
    save(b, dir.path);
    auto after = list(dir.path);
    CHECK(after == files_named(dir.path));
    std::set<std::string> common;
    std::set_intersection(before.begin(), before.end(), after.begin(),
      after.end(), std::inserter(common, common.end()));
    CHECK(common == std::set<std::string>{"manifest.json"});
  }
  SUBCASE("files of a save from before save ids (W1.npy)") {
    auto m = read_manifest(dir.path);
    auto rename = [&](json& file, const std::string& name) {
      fs::rename(dir.path / file.get<std::string>(), dir.path / name);
      file = name;
    };
    for (auto& t : m["tensors"])
      rename(t["file"], t["name"].get<std::string>() + ".npy");
    rename(m["input"]["shift"], "input_shift.npy");
    rename(m["input"]["scale"], "input_scale.npy");
    write_manifest(dir.path, m);
    REQUIRE(is_model(load_model(dir.path.string()), a));
    CHECK(list(dir.path)
          == std::set<std::string>{"manifest.json", "W1.npy", "b1.npy",
            "W2.npy", "b2.npy", "input_shift.npy", "input_scale.npy"});
    save(b, dir.path);
    CHECK(list(dir.path) == files_named(dir.path));
    CHECK(list(dir.path).count("W1.npy") == 0);
    CHECK(is_model(load_model(dir.path.string()), b));
  }
  SUBCASE("names outside the folder in the old manifest are left alone") {
    temp_dir outside;
    auto keep = outside.write("keep.npy", "kept");
    auto m = read_manifest(dir.path);
    m["tensors"][0]["file"] = keep;
    m["tensors"][1]["file"]
      = "../" + outside.path.filename().string() + "/keep.npy";
    m["input"]["shift"] = "..";
    write_manifest(dir.path, m);
    save(b, dir.path);
    CHECK(fs::exists(keep));
    CHECK(is_model(load_model(dir.path.string()), b));
  }
}

TEST_CASE("load_model refuses manifest file names that leave the model "
          "folder") {
  auto a = make_mlp(1, scaling::standardize);
  temp_dir base;
  auto dir = base.path / "model";
  save(a, dir);
  auto m = read_manifest(dir);
  auto w1 = m["tensors"][0]["file"].get<std::string>();
  // A valid W1 outside the folder, so that only the check can refuse it.
  auto outside = base.path / "x.npy";
  fs::copy_file(dir / w1, outside);
  auto manifest = (dir / "manifest.json").string();
  auto not_plain = [&](const std::string& entry, const std::string& file) {
    return manifest + ": " + entry + ": file " + json(file).dump()
           + " is not a plain file name inside the model folder";
  };
  SUBCASE("a path up out of the folder") {
    m["tensors"][0]["file"] = "../x.npy";
    write_manifest(dir, m);
    CHECK(load_error(dir) == not_plain("tensor 0 (\"W1\")", "../x.npy"));
  }
  SUBCASE("an absolute path") {
    m["tensors"][0]["file"] = outside.string();
    write_manifest(dir, m);
    CHECK(load_error(dir) == not_plain("tensor 0 (\"W1\")", outside.string()));
  }
  SUBCASE("names that are not plain file names") {
    for (std::string name :
      std::vector<std::string>{"", ".", "..", "sub/x.npy", "./" + w1}) {
      CAPTURE(name);
      auto bad = m;
      bad["tensors"][0]["file"] = name;
      write_manifest(dir, bad);
      CHECK(load_error(dir) == not_plain("tensor 0 (\"W1\")", name));
    }
  }
  SUBCASE("the input transform's files") {
    for (std::string key : {"shift", "scale"}) {
      auto bad = m;
      bad["input"][key] = "../x.npy";
      write_manifest(dir, bad);
      CHECK(load_error(dir) == not_plain("input \"" + key + "\"", "../x.npy"));
    }
  }
  SUBCASE("a symlink in the folder to a file outside it") {
    fs::create_symlink(outside, dir / "evil.npy");
    m["tensors"][0]["file"] = "evil.npy";
    write_manifest(dir, m);
    auto msg = load_error(dir);
    CHECK(msg.rfind(manifest
                      + ": tensor 0 (\"W1\"): file \"evil.npy\" "
                        "resolves to ",
            0)
          == 0);
    CHECK(test::contains(msg, "outside the model folder"));
  }
  SUBCASE("a symlink to a file inside the folder is accepted") {
    fs::create_symlink(w1, dir / "link.npy");
    m["tensors"][0]["file"] = "link.npy";
    write_manifest(dir, m);
    CHECK(is_model(load_model(dir.string()), a));
  }
  SUBCASE("a model folder reached through a symlink is accepted") {
    fs::create_directory_symlink(dir, base.path / "alias");
    CHECK(is_model(load_model((base.path / "alias").string()), a));
  }
}

TEST_CASE("load_model names manifest.json for a malformed manifest or a "
          "member of the wrong type") {
  auto a = make_mlp(1, scaling::standardize);
  temp_dir dir;
  save(a, dir.path);
  auto m = read_manifest(dir.path);
  SUBCASE("not a JSON document") {
    for (std::string text : {"", "{", "{\"format\": }", "[1, 2,\n3", "nul"}) {
      CAPTURE(text);
      dir.write("manifest.json", text);
      CHECK(test::contains(load_error(dir.path), "parse error"));
    }
  }
  SUBCASE("members of the wrong type") {
    struct variant {
      json::json_pointer member;
      json value;
      std::string expected;
    };
    for (auto& [member, value, expected] : std::vector<variant>{
           {json::json_pointer{"/model/layers"}, "x",
             "model.layers: expected array, got string"},
           {json::json_pointer{"/model/layers/1"}, -8,
             "model.layers: bad layer width -8"},
           {json::json_pointer{"/model/layers/1"}, 8.5,
             "model.layers: bad layer width 8.5"},
           {json::json_pointer{"/model"}, json::array(),
             "model: expected object, got array"},
           {json::json_pointer{"/version"}, "1",
             "unsupported format version \"1\""},
           {json::json_pointer{"/tensors"}, json::object(),
             "tensors: expected array, got object"},
           {json::json_pointer{"/tensors/0/file"}, 3,
             "tensors[0].file: expected string, got number"},
           {json::json_pointer{"/input/shift"}, nullptr,
             "input.shift: expected string, got null"},
         }) {
      CAPTURE(member.to_string());
      auto bad = m;
      bad[member] = value;
      write_manifest(dir.path, bad);
      CHECK(test::contains(load_error(dir.path), expected));
    }
    write_manifest(dir.path, json::array());
    CHECK(test::contains(
      load_error(dir.path), "the document: expected an object, got array"));
    m.erase("tensors");
    write_manifest(dir.path, m);
    CHECK(test::contains(load_error(dir.path), "missing key \"tensors\""));
  }
}

TEST_CASE("Python's json module and numpy alone load a saved model") {
  if (!test::have_numpy()) {
    MESSAGE("skipped: /usr/bin/python3 with numpy not found");
    return;
  }
  temp_dir dir;
  auto m = make_mlp(3, scaling::standardize);
  save(m, dir.path / "model");
  // Raw samples and the classes paramserv predicts for them.
  auto samples = blobs(40, 4);
  write_npy(dir / "samples.npy", samples.x.memptr(), samples.x.n_elem,
    {samples.x.n_cols, samples.x.n_rows});
  auto loaded = load_model((dir.path / "model").string());
  arma::fmat x = samples.x;
  loaded.transform.apply(x);
  std::vector<uint32_t> classes(x.n_cols);
  make_model(loaded.spec)->predict(loaded.params, x, classes);
  std::ofstream out{dir / "classes.txt"};
  for (auto c : classes)
    out << c << '\n';
  out.close();
  REQUIRE(out.good());
  auto script
    = "import json, sys, numpy as np\n"
      "d = sys.argv[1]\n"
      "m = json.load(open(d + '/model/manifest.json'))\n"
      "assert m['format'] == 'paramserv-model' and m['version'] == 1\n"
      "load = lambda name: np.load(d + '/model/' + name)\n"
      "t = {e['name']: load(e['file']) for e in m['tensors']}\n"
      "for e in m['tensors']:\n"
      "    assert list(t[e['name']].shape) == e['shape'], e\n"
      "x = np.load(d + '/samples.npy')\n"
      "h = (x - load(m['input']['shift'])) * load(m['input']['scale'])\n"
      "L = len(m['model']['layers']) - 1\n"
      "for l in range(1, L + 1):\n"
      "    h = h @ t['W%d' % l] + t['b%d' % l]\n"
      "    if l < L:\n"
      "        relu = m['model']['activation'] == 'relu'\n"
      "        h = np.maximum(h, 0) if relu else np.tanh(h)\n"
      "p = np.exp(h - h.max(1, keepdims=True))\n"
      "p /= p.sum(1, keepdims=True)\n"
      "want = np.loadtxt(d + '/classes.txt', dtype=int)\n"
      "sys.exit(0 if (p.argmax(1) == want).all() else 1)";
  CHECK(test::run_python(script, dir.path.string()) == 0);
}
