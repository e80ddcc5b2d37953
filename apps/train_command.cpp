#include "apps/commands.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <filesystem>
#include <optional>
#include <string>

#include "apps/options.hpp"
#include "apps/progress.hpp"
#include "actors/local_backend.hpp"
#include "linalg/core/blas_threads.hpp"
#include "linalg/data/data_error.hpp"
#include "linalg/io/model_io.hpp"
#include "linalg/train/sequential_trainer.hpp"

namespace po = boost::program_options;

namespace paramserv::app {

namespace {

struct train_cli {
  data_options data;
  std::string backend = "local";
  std::string mode = "bsp";
  int staleness = 0;
  int backup_workers = 0;
  std::string mode_schedule;
  std::string freq = "batch";
  size_t nbatches = 1;
  size_t workers = 2;
  size_t shards = 1;
  std::string scheme = "disjoint_contiguous";
  size_t threads = 0;
  double push_timeout = 60;
  double pull_timeout = 60;
  double control_timeout = 60;
  std::string model = "mlp";
  std::string hidden = "200";
  std::string activation = "relu";
  std::string optimizer = "adam";
  float lr = 0.001f;
  std::string lr_schedule = "constant";
  size_t lr_step_epochs = 5;
  float lr_gamma = 0.1f;
  float momentum = 0.9f;
  float weight_decay = 0.0f;
  size_t batch_size = 64;
  size_t epochs = 10;
  uint64_t seed = 1;
  std::string save;
  std::string metrics;
};

po::options_description describe(train_cli& c) {
  po::options_description desc("Training options", 100, 50);
  add_data_options(desc, c.data, true);
  // clang-format off
  desc.add_options()
    ("backend", po::value(&c.backend)->default_value(c.backend),
     "local: server shards, workers and a scheduler as actors in this "
     "process; sequential: one thread, no actors (the reference)")
    ("mode", po::value(&c.mode)->default_value(c.mode),
     "consistency mode: bsp|asp|ssp|hogwild|sbp")
    ("staleness", po::value(&c.staleness)->default_value(c.staleness),
     "ssp: how many clocks a worker may run ahead of the slowest")
    ("backup-workers",
     po::value(&c.backup_workers)->default_value(c.backup_workers),
     "sbp: workers not waited for at each clock (below --workers)")
    ("mode-schedule", po::value(&c.mode_schedule),
     "switch modes during the run: MODE[:PARAM]@EPOCH,... e.g. "
     "bsp@1,ssp:3@2 (replaces --mode)")
    ("freq", po::value(&c.freq)->default_value(c.freq),
     "push every batch, every --nbatches batches (nbatches), or once per "
     "epoch (epoch); between pushes workers take local SGD steps")
    ("nbatches", po::value(&c.nbatches)->default_value(c.nbatches),
     "batches per push with --freq nbatches")
    ("workers", po::value(&c.workers)->default_value(c.workers),
     "worker actors (data-parallel)")
    ("shards", po::value(&c.shards)->default_value(c.shards),
     "server-shard actors the parameters are split over")
    ("scheme", po::value(&c.scheme)->default_value(c.scheme),
     "partitioning: disjoint_contiguous|disjoint_round_robin|"
     "disjoint_random|overlap_reshuffle")
    ("threads", po::value(&c.threads)->default_value(c.threads),
     "CAF scheduler threads (0: one per core); OpenBLAS runs "
     "single-threaded inside workers")
    ("push-timeout", po::value(&c.push_timeout)->default_value(c.push_timeout),
     "seconds a worker waits for a shard to acknowledge a push")
    ("pull-timeout", po::value(&c.pull_timeout)->default_value(c.pull_timeout),
     "seconds a worker or the scheduler waits for a shard's parameters")
    ("control-timeout",
     po::value(&c.control_timeout)->default_value(c.control_timeout),
     "seconds the scheduler waits for a shard to switch modes, commit a "
     "clock or report its counters (clock grants and epoch plans wait as "
     "long as the workers and shards they wait for live)")
    ("model", po::value(&c.model)->default_value(c.model), "softmax|mlp")
    ("hidden", po::value(&c.hidden)->default_value(c.hidden),
     "MLP hidden layer widths, comma list (e.g. 256,128)")
    ("activation", po::value(&c.activation)->default_value(c.activation),
     "MLP hidden activation: relu|tanh")
    ("optimizer", po::value(&c.optimizer)->default_value(c.optimizer),
     "update rule: sgd|momentum|nesterov|adagrad|adam")
    ("lr", po::value(&c.lr)->default_value(c.lr, "0.001"), "learning rate")
    ("lr-schedule", po::value(&c.lr_schedule)->default_value(c.lr_schedule),
     "constant|step|cosine")
    ("lr-step-epochs",
     po::value(&c.lr_step_epochs)->default_value(c.lr_step_epochs),
     "step schedule: epochs between decays")
    ("lr-gamma", po::value(&c.lr_gamma)->default_value(c.lr_gamma, "0.1"),
     "step schedule: decay factor")
    ("momentum", po::value(&c.momentum)->default_value(c.momentum, "0.9"),
     "momentum coefficient (momentum, nesterov)")
    ("weight-decay", po::value(&c.weight_decay)->default_value(0.0f, "0"),
     "L2 weight decay")
    ("batch-size", po::value(&c.batch_size)->default_value(c.batch_size),
     "rows per mini-batch")
    ("epochs", po::value(&c.epochs)->default_value(c.epochs),
     "passes over the training data")
    ("seed", po::value(&c.seed)->default_value(c.seed),
     "seed of every random choice (same seed, same model)")
    ("save", po::value(&c.save),
     "save the trained model to this directory (manifest.json + .npy)")
    ("metrics", po::value(&c.metrics),
     "write per-epoch metrics to this CSV file");
  // clang-format on
  return desc;
}

// Turns the parsed flags into train_options and local_options: names
// become values here; every range check is the library's validate(), run
// before any data is read.
train_options to_train_options(
  const train_cli& c, const po::variables_map& vm) {
  train_options opts;
  if (c.backend != "sequential" && c.backend != "local")
    throw usage_error("--backend: unknown backend \"" + c.backend
                      + "\" (expected local or sequential)");
  opts.scheme = parse_flag<partition_scheme>("--scheme", c.scheme);
  opts.model.kind = c.model;
  if (c.model == "mlp")
    opts.model.hidden = parse_size_list("--hidden", c.hidden);
  else if (!vm["hidden"].defaulted())
    throw usage_error("--hidden: a softmax model has no hidden layers");
  opts.model.act = parse_flag<activation>("--activation", c.activation);
  opts.optimizer.kind = parse_flag<optimizer_kind>("--optimizer", c.optimizer);
  opts.optimizer.momentum = c.momentum;
  opts.optimizer.weight_decay = c.weight_decay;
  opts.schedule.kind
    = parse_flag<lr_schedule_kind>("--lr-schedule", c.lr_schedule);
  opts.schedule.base = c.lr;
  opts.schedule.step_epochs = c.lr_step_epochs;
  opts.schedule.gamma = c.lr_gamma;
  opts.schedule.epochs = c.epochs;
  opts.batch_size = c.batch_size;
  opts.epochs = c.epochs;
  opts.seed = c.seed;
  return opts;
}

// A timeout flag in seconds as whole milliseconds: at least 1 ms, at most
// what fits a message's 32-bit field (about 49 days).
uint32_t timeout_ms(const char* flag, double seconds) {
  if (!(seconds >= 0.001 && seconds <= 4.0e6))
    throw usage_error(std::string{flag}
                      + ": must be between 0.001 and 4000000 seconds, got "
                      + std::to_string(seconds));
  return static_cast<uint32_t>(seconds * 1000.0);
}

local_options to_local_options(
  const train_cli& c, const po::variables_map& vm) {
  local_options local;
  if (c.staleness < 0)
    throw usage_error(
      "--staleness: must be >= 0, got " + std::to_string(c.staleness));
  if (c.backup_workers < 0)
    throw usage_error("--backup-workers: must be >= 0, got "
                      + std::to_string(c.backup_workers));
  local.workers = c.workers;
  local.shards = c.shards;
  local.threads = c.threads;
  local.timeouts.push_ms = timeout_ms("--push-timeout", c.push_timeout);
  local.timeouts.pull_ms = timeout_ms("--pull-timeout", c.pull_timeout);
  local.timeouts.control_ms
    = timeout_ms("--control-timeout", c.control_timeout);
  auto mode = parse_flag<consistency>("--mode", c.mode);
  if (!c.mode_schedule.empty()) {
    if (!vm["mode"].defaulted())
      throw usage_error("--mode-schedule replaces --mode; give one of them");
    try {
      local.modes = parse_mode_schedule(c.mode_schedule);
    } catch (const std::invalid_argument& e) {
      throw usage_error(std::string{"--mode-schedule: "} + e.what());
    }
  } else {
    mode_setting m{mode, 0};
    if (mode == consistency::ssp)
      m.param = static_cast<uint32_t>(c.staleness);
    if (mode == consistency::sbp)
      m.param = static_cast<uint32_t>(c.backup_workers);
    local.modes = {mode_switch{m, 1}};
  }
  local.freq = parse_flag<update_frequency>("--freq", c.freq);
  local.nbatches = c.nbatches;
  return local;
}

struct loaded_data {
  dataset train;
  std::optional<dataset> test;
  scaling input_scaling = scaling::none;
  feature_transform transform;
};

loaded_data load_data(const data_options& d) {
  loaded_data result;
  auto fmt = data_format_of(d);
  result.input_scaling = scaling_of(d, d.data);
  load_options lo;
  lo.classes = d.classes;
  result.train = load_dataset(d.data, fmt, lo, false);
  // The test set must match the training set's features and classes.
  lo.classes = result.train.classes;
  lo.features = result.train.features();
  if (!d.test_data.empty()) {
    result.test = load_dataset(d.test_data, fmt, lo, false);
  } else if (std::filesystem::is_directory(d.data)) {
    result.test = load_dataset(d.data, fmt, lo, true);
  }
  result.transform = feature_transform::fit(result.input_scaling, result.train);
  result.transform.apply(result.train.x);
  if (result.test)
    result.transform.apply(result.test->x);
  return result;
}

int run(int argc, char** argv) {
  train_cli cli;
  auto desc = describe(cli);
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
  std::unique_ptr<metrics_writer> metrics;
  if (!cli.metrics.empty())
    metrics = std::make_unique<metrics_writer>(cli.metrics);
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
  std::string mode_text = "-";
  if (local) {
    mode_text.clear();
    for (auto& sw : lopts.modes) {
      if (!mode_text.empty())
        mode_text += ',';
      mode_text += to_string(sw.mode);
      if (lopts.modes.size() > 1) {
        mode_text += '@';
        mode_text += std::to_string(sw.epoch);
      }
    }
  }
  std::printf("paramserv train: backend %s, model %s, %zu training rows, "
              "%zu test rows, %zu features, %u classes",
    cli.backend.c_str(), cli.model.c_str(), data.train.size(),
    data.test ? data.test->size() : size_t{0}, data.train.features(),
    data.train.classes);
  if (local)
    std::printf(", mode %s, %zu workers, %zu shards, freq %s",
      mode_text.c_str(), lopts.workers, lopts.shards, to_string(lopts.freq));
  std::printf("\n");
  std::fflush(stdout);
  set_blas_threads(1);
  // Rows all workers train per epoch: under overlap_reshuffle each worker
  // visits every row.
  const size_t train_rows
    = rows_per_epoch(data.train.size(), local ? lopts.workers : 1, opts.scheme);
  progress prog{opts.epochs, train_rows, opts.batch_size};
  auto start = std::chrono::steady_clock::now();
  double train_s = 0;
  size_t rows = 0;
  auto on_epoch = [&](const epoch_metrics& m) {
    prog.epoch(m);
    if (metrics)
      metrics->write(m);
    if (m.samples_per_s > 0) {
      train_s += train_rows / m.samples_per_s;
      rows += train_rows;
    }
  };
  std::vector<epoch_metrics> history;
  parameter_set final_params;
  if (local) {
    local_hooks hooks;
    hooks.on_epoch = on_epoch;
    hooks.on_log = [&](const std::string& line) {
      prog.note(line);
    };
    hooks.on_progress = [&](uint64_t done, double loss_sum) {
      prog.rows(done, loss_sum);
    };
    // Where the data came from, so that a worker without this process's
    // copy could read it itself.
    lopts.data.path = std::filesystem::absolute(cli.data.data).string();
    lopts.data.format = cli.data.format;
    lopts.data.classes = data.train.classes;
    lopts.data.features = data.train.features();
    lopts.data.shift
      = arma::conv_to<std::vector<float>>::from(data.transform.shift);
    lopts.data.scale
      = arma::conv_to<std::vector<float>>::from(data.transform.scale);
    auto train_ptr = std::make_shared<const dataset>(std::move(data.train));
    std::shared_ptr<const dataset> test_ptr;
    if (data.test)
      test_ptr = std::make_shared<const dataset>(std::move(*data.test));
    auto r = train_local(opts, lopts, train_ptr, test_ptr, hooks);
    history = std::move(r.history);
    final_params = std::move(r.params);
    if (r.dropped > 0 || r.lost > 0 || r.rejected > 0)
      std::printf("late pushes dropped: %llu, pushes of dead workers lost: "
                  "%llu, malformed or misaddressed messages refused: %llu\n",
        static_cast<unsigned long long>(r.dropped),
        static_cast<unsigned long long>(r.lost),
        static_cast<unsigned long long>(r.rejected));
  } else {
    sequential_trainer trainer{opts, data.train};
    history = trainer.run(data.test ? &*data.test : nullptr, on_epoch,
      [&](size_t e, size_t done, size_t total, double loss) {
        prog.batch(e, done, total, loss);
      });
    final_params = trainer.params();
  }
  double wall_s
    = std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
        .count();
  if (!cli.save.empty())
    save_model(
      cli.save, opts.model, final_params, data.input_scaling, data.transform);
  auto& last = history.back();
  std::printf("summary backend=%s mode=%s model=%s epochs=%zu "
              "test_accuracy=%.4f test_loss=%.4f train_loss=%.4f wall_s=%.2f "
              "train_s=%.2f samples_per_s=%.0f\n",
    cli.backend.c_str(), mode_text.c_str(), cli.model.c_str(), opts.epochs,
    last.test_accuracy, last.test_loss, last.train_loss, wall_s, train_s,
    train_s > 0 ? rows / train_s : 0.0);
  return 0;
}

} // namespace

int train_command(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const usage_error& e) {
    std::fprintf(stderr, "paramserv train: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "paramserv train: error: %s\n", e.what());
    return 1;
  }
}

} // namespace paramserv::app
