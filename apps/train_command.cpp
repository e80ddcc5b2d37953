#include "apps/commands.hpp"

#include <cstdio>
#include <memory>
#include <string>

#include "apps/job_options.hpp"
#include "actors/local_backend.hpp"
#include "linalg/core/blas_threads.hpp"
#include "linalg/train/sequential_trainer.hpp"

namespace po = boost::program_options;

namespace paramserv::app {

namespace {

int run(int argc, char** argv) {
  train_cli cli;
  auto desc = describe_job(cli, true);
  po::variables_map vm;
  if (!parse_command_line("train", desc, argc, argv, vm))
    return 0;
  auto opts = to_train_options(cli, vm);
  bool local = cli.backend == "local";
  local_options lopts;
  if (local)
    lopts = to_local_options(cli, vm);
  try {
    if (local)
      validate(opts, lopts);
    else
      validate(opts);
  } catch (const std::invalid_argument& e) {
    throw usage_error(e.what());
  }
  auto data = load_data(cli.data);
  opts.model.inputs = data.train.features();
  opts.model.classes = data.train.classes;
  try {
    if (local)
      validate(opts, lopts, data.train);
    else
      validate(opts, data.train);
  } catch (const std::invalid_argument& e) {
    throw usage_error(e.what());
  }
  run_report report{cli, opts, local ? &lopts : nullptr, data, cli.backend};
  report.header();
  set_blas_threads(1);
  if (local) {
    // Where the data came from, so that a worker without this process's
    // copy could read it itself.
    lopts.data = source_of(cli.data, data);
    auto train_ptr = std::make_shared<const dataset>(std::move(data.train));
    std::shared_ptr<const dataset> test_ptr;
    if (data.test)
      test_ptr = std::make_shared<const dataset>(std::move(*data.test));
    auto r = train_local(opts, lopts, train_ptr, test_ptr, report.hooks());
    report.finish(r.history, r.params, data, &r, r.stopped, r.target_s);
  } else {
    sequential_trainer trainer{opts, data.train};
    auto history = trainer.run(
      data.test ? &*data.test : nullptr,
      [&](const epoch_metrics& m) {
        report.epoch(m);
      },
      [&](size_t e, size_t done, size_t total, double loss) {
        report.batch(e, done, total, loss);
      },
      [&](const evaluation_record& e) {
        report.evaluated(e);
      });
    report.finish(history, trainer.params(), data, nullptr, trainer.stopped(),
      trainer.target_s());
  }
  return 0;
}

} // namespace

int train_command(int argc, char** argv) {
  return run_command("train", run, argc, argv);
}

} // namespace paramserv::app
