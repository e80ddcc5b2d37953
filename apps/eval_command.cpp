#include "apps/commands.hpp"

#include <cstdio>
#include <string>

#include "apps/options.hpp"
#include "linalg/core/blas_threads.hpp"
#include "linalg/data/load.hpp"
#include "linalg/io/model_io.hpp"

namespace po = boost::program_options;

namespace paramserv::app {

namespace {

int run(int argc, char** argv) {
  std::string model_dir;
  std::string data = "/usr/share/datasets/fashion-mnist";
  std::string format;
  std::string split = "test";
  po::options_description desc("Evaluation options");
  // clang-format off
  desc.add_options()
    ("model", po::value(&model_dir)->required(),
     "directory of a saved model (from train --save)")
    ("data", po::value(&data)->default_value(data),
     "data to evaluate on: an IDX directory or images file, a CSV or a "
     "LIBSVM file")
    ("format", po::value(&format), "idx|csv|libsvm (default: inferred)")
    ("split", po::value(&split)->default_value(split),
     "for an IDX directory: test (t10k-* files) or train");
  // clang-format on
  po::variables_map vm;
  if (!parse_command_line("eval", desc, argc, argv, vm))
    return 0;
  if (split != "test" && split != "train")
    throw usage_error("--split: expected test or train, got \"" + split + "\"");
  std::optional<data_format> fmt;
  if (!format.empty())
    fmt = parse_flag<data_format>("--format", format);
  auto saved = load_model(model_dir);
  load_options lo;
  lo.classes = static_cast<uint32_t>(saved.spec.classes);
  lo.features = saved.spec.inputs;
  auto ds = load_dataset(data, fmt, lo, split == "test");
  saved.transform.apply(ds.x);
  set_blas_threads(1);
  auto net = make_model(saved.spec);
  auto ev = net->evaluate(saved.params, ds.x, ds.y);
  std::printf("eval model=%s samples=%zu loss=%.4f accuracy=%.4f\n",
    model_dir.c_str(), ds.size(), ev.loss, ev.accuracy);
  return 0;
}

} // namespace

int eval_command(int argc, char** argv) {
  return run_command("eval", run, argc, argv);
}

} // namespace paramserv::app
