// The model loader (linalg/io/model_io.cpp) on an arbitrary manifest.json,
// in a folder that holds the .npy files of a saved softmax model 4 -> 3
// under fixed names (W.npy, input_shift.npy, ...), which the seed's
// manifest names.

#include <filesystem>
#include <fstream>
#include <sstream>

#include "linalg/io/model_io.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace paramserv;

namespace {

struct model_folder {
  std::string dir;
  std::string manifest;
};

// Saves the model, then strips the save id from its file names (in the
// folder and in the manifest), so that the manifest a seed holds names
// files that exist in every process.
const model_folder& folder() {
  static const model_folder made = [] {
    namespace fs = std::filesystem;
    model_folder f;
    f.dir = fuzz::scratch_folder() + "/model";
    model_spec spec;
    spec.kind = "softmax";
    spec.inputs = 4;
    spec.classes = 3;
    auto net = make_model(spec);
    parameter_set params{net->shapes()};
    net->initialize(params, 1);
    feature_transform t;
    t.shift = arma::fvec{0.5f, 0.0f, 1.0f, 2.0f};
    t.scale = arma::fvec{1.0f, 2.0f, 0.5f, 1.0f};
    save_model(f.dir, spec, params, scaling::standardize, t);
    std::ifstream in{f.dir + "/manifest.json"};
    std::stringstream text;
    text << in.rdbuf();
    f.manifest = text.str();
    for (auto& entry : fs::directory_iterator(f.dir)) {
      auto name = entry.path().filename().string();
      auto first = name.find('.');
      auto last = name.rfind('.');
      if (name == "manifest.json" || first == last)
        continue;
      auto id = name.substr(first, last - first); // ".ID"
      fs::rename(
        entry.path(), f.dir + "/" + name.substr(0, first) + name.substr(last));
      for (size_t at; (at = f.manifest.find(id)) != std::string::npos;)
        f.manifest.erase(at, id.size());
    }
    return f;
  }();
  return made;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& f = folder();
  fuzz::write_file("model/manifest.json", data, size);
  fuzz::expect_clean([&] {
    load_model(f.dir);
  });
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  return {folder().manifest};
}
