#include "apps/job_options.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "linalg/data/load.hpp"
#include "linalg/io/model_io.hpp"

namespace po = boost::program_options;

namespace paramserv::app {

po::options_description describe_job(train_cli& c, bool with_backend) {
  po::options_description desc("Job options", 100, 50);
  add_data_options(desc, c.data, true);
  if (with_backend)
    desc.add_options()("backend",
      po::value(&c.backend)->default_value(c.backend),
      "local: server shards, workers and a scheduler as actors in this "
      "process; sequential: one thread, no actors (the reference)");
  // clang-format off
  desc.add_options()
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
    ("checkpoint-dir", po::value(&c.checkpoint_dir),
     "write a checkpoint (a consistent cut: every shard's keys and "
     "update-rule state, the job's epochs and metrics, and inside an epoch "
     "each worker's position) into this folder; the newest two are kept")
    ("checkpoint-every",
     po::value(&c.checkpoint_every)->default_value(c.checkpoint_every),
     "epochs between checkpoints (0: by time only, see "
     "--checkpoint-seconds)")
    ("checkpoint-seconds",
     po::value(&c.checkpoint_seconds)->default_value(0.0, "0"),
     "also checkpoint this many seconds after the last checkpoint, at the "
     "workers' next clock boundary, inside the epoch (hogwild: at the "
     "epoch's end) (0: by epochs only); given alone, it replaces "
     "--checkpoint-every")
    ("on-worker-loss",
     po::value(&c.on_worker_loss)->default_value(c.on_worker_loss),
     "what becomes of a lost worker's partition: drop (nobody trains it "
     "any more) or reassign (the other workers take it over, its rows not "
     "yet trained in the current epoch included)")
    ("inject-faults", po::value(&c.inject_faults),
     "test hook, deterministic by seed: comma list of seed=N, "
     "drop|duplicate:push|pull:P, delay:push|pull:P:MS, "
     "kill:worker|shard:ID:CLOCK, slow:shard:ID:FACTOR")
    ("resume", po::value(&c.resume),
     "continue the same job from the newest checkpoint in this folder that "
     "verifies (a corrupt one is refused by name and the previous used)")
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
    ("lr-scaling", po::value(&c.lr_scaling)->default_value(c.lr_scaling),
     "bsp and sbp: none|linear|sqrt, the learning rate times 1, k or "
     "sqrt(k) for a commit averaging k workers' gradients")
    ("warmup-epochs",
     po::value(&c.warmup_epochs)->default_value(c.warmup_epochs),
     "epochs over which --lr-scaling's factor grows linearly from 1 "
     "(0: from the start)")
    ("staleness-remedy",
     po::value(&c.staleness_remedy)->default_value(c.staleness_remedy),
     "asp, ssp (and hogwild across processes): none|divide|dc, what the "
     "shards do about a push's staleness s: nothing, divide its step by s, "
     "or delay compensation (DC-ASGD)")
    ("dc-lambda", po::value(&c.dc_lambda)->default_value(c.dc_lambda),
     "DC-ASGD's lambda (--staleness-remedy dc)")
    ("asp-pipelining",
     po::value(&c.asp_pipelining)->default_value(c.asp_pipelining),
     "asp: a worker computes its next batch while the shards apply its "
     "last push (true|false)")
    ("validation-fraction",
     po::value(&c.validation_fraction)->default_value(0.0, "0"),
     "hold out this fraction of the training rows (seeded) as a validation "
     "set, evaluated like the test set (0: none, but 5000 rows when "
     "--target-accuracy or --patience needs one)")
    ("target-accuracy",
     po::value(&c.target_accuracy)->default_value(0.0, "0"),
     "stop once the validation accuracy reaches this, save the model and "
     "report the time it took as target_s (0: never)")
    ("patience", po::value(&c.patience)->default_value(c.patience),
     "stop after this many evaluations in a row without a better "
     "validation accuracy (0: never)")
    ("eval-every", po::value(&c.eval_every)->default_value(c.eval_every),
     "also evaluate on the validation set every this many batches, all "
     "workers together (0: at each epoch's end only)")
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
  if (c.backend == "sequential"
      && (!c.checkpoint_dir.empty() || !c.resume.empty()))
    throw usage_error("--checkpoint-dir and --resume need --backend local "
                      "(or a cluster)");
  if (c.backend == "sequential"
      && (!c.inject_faults.empty() || !vm["on-worker-loss"].defaulted()))
    throw usage_error("--inject-faults and --on-worker-loss need --backend "
                      "local (the sequential trainer has no workers to lose)");
  opts.scheme = parse_flag<partition_scheme>("--scheme", c.scheme);
  opts.model.kind = c.model;
  if (c.model == "mlp")
    opts.model.hidden = parse_size_list("--hidden", c.hidden);
  else if (!vm["hidden"].defaulted())
    throw usage_error("--hidden: a softmax model has no hidden layers");
  opts.model.act = parse_flag<activation>("--activation", c.activation);
  opts.optimizer.kind = c.optimizer;
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
  opts.scaling = parse_flag<lr_scaling>("--lr-scaling", c.lr_scaling);
  opts.warmup_epochs = c.warmup_epochs;
  opts.remedy
    = parse_flag<staleness_remedy>("--staleness-remedy", c.staleness_remedy);
  opts.dc_lambda = c.dc_lambda;
  opts.asp_pipelining = c.asp_pipelining;
  opts.validation.fraction = c.validation_fraction;
  opts.validation.target_accuracy = c.target_accuracy;
  opts.validation.patience = c.patience;
  opts.validation.every = c.eval_every;
  return opts;
}

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
  local.checkpoints.dir = c.checkpoint_dir;
  local.checkpoints.every = c.checkpoint_every;
  if (c.checkpoint_seconds < 0 || !std::isfinite(c.checkpoint_seconds))
    throw usage_error("--checkpoint-seconds: must be >= 0, got "
                      + std::to_string(c.checkpoint_seconds));
  local.checkpoints.seconds = c.checkpoint_seconds;
  if (c.checkpoint_seconds > 0 && vm["checkpoint-every"].defaulted())
    local.checkpoints.every = 0;
  local.checkpoints.resume = c.resume;
  local.on_worker_loss
    = parse_flag<worker_loss_policy>("--on-worker-loss", c.on_worker_loss);
  try {
    local.faults = parse_fault_plan(c.inject_faults);
  } catch (const std::invalid_argument& e) {
    throw usage_error(e.what());
  }
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

data_source source_of(const data_options& d, const loaded_data& data) {
  data_source src;
  src.path = std::filesystem::absolute(d.data).string();
  src.format = d.format;
  src.classes = data.train.classes;
  src.features = data.train.features();
  src.shift = arma::conv_to<std::vector<float>>::from(data.transform.shift);
  src.scale = arma::conv_to<std::vector<float>>::from(data.transform.scale);
  src.rows = data.train.size();
  return src;
}

std::string mode_text(const mode_schedule& modes) {
  std::string result;
  for (auto& sw : modes) {
    if (!result.empty())
      result += ',';
    result += to_string(sw.mode);
    if (modes.size() > 1) {
      result += '@';
      result += std::to_string(sw.epoch);
    }
  }
  return result;
}

run_report::run_report(const train_cli& cli, const train_options& opts,
  const local_options* ps, const loaded_data& data, std::string backend)
  : cli_(cli), opts_(opts), backend_(std::move(backend)),
    modes_(ps ? mode_text(ps->modes) : "-"),
    // Rows all workers train per epoch: under overlap_reshuffle each
    // worker visits every row.
    held_(validation_rows(opts.validation, data.train.size())),
    train_rows_(rows_per_epoch(
      data.train.size() - held_, ps ? ps->workers : 1, opts.scheme)),
    prog_(opts.epochs, train_rows_, opts.batch_size),
    start_(std::chrono::steady_clock::now()) {
  if (!cli.metrics.empty())
    metrics_ = std::make_unique<metrics_writer>(cli.metrics);
  char buf[256];
  std::snprintf(buf, sizeof(buf),
    "paramserv train: backend %s, model %s, %zu training rows, %zu test "
    "rows, %zu features, %u classes",
    backend_.c_str(), cli.model.c_str(), data.train.size(),
    data.test ? data.test->size() : size_t{0}, data.train.features(),
    data.train.classes);
  topology_ = buf;
  if (held_ > 0) {
    std::snprintf(buf, sizeof(buf), " (%zu held out for validation)", held_);
    topology_ += buf;
  }
  if (ps) {
    std::snprintf(buf, sizeof(buf),
      ", mode %s, %zu workers, %zu shards, freq %s", modes_.c_str(),
      ps->workers, ps->shards, to_string(ps->freq));
    topology_ += buf;
  }
}

void run_report::header() const {
  std::printf("%s\n", topology_.c_str());
  auto& v = opts_.validation;
  if (held_ > 0 && v.fraction == 0)
    std::printf("validation: %zu rows held out by default for %s (set "
                "--validation-fraction to choose)\n",
      held_, v.target_accuracy > 0 ? "--target-accuracy" : "--patience");
  std::fflush(stdout);
}

local_hooks run_report::hooks() {
  local_hooks result;
  result.on_epoch = [this](const epoch_metrics& m) {
    epoch(m);
  };
  result.on_log = [this](const std::string& line) {
    prog_.note(line);
  };
  result.on_progress = [this](uint64_t done, double loss_sum) {
    prog_.rows(done, loss_sum);
  };
  result.on_eval = [this](const evaluation_record& e) {
    evaluated(e);
  };
  return result;
}

void run_report::evaluated(const evaluation_record& e) {
  char buf[160];
  std::snprintf(buf, sizeof(buf),
    "eval epoch %llu batch %llu  validation_loss %.4f  validation_accuracy "
    "%.4f  elapsed %.2fs",
    static_cast<unsigned long long>(e.epoch),
    static_cast<unsigned long long>(e.batches), e.loss, e.accuracy,
    e.elapsed_s);
  prog_.note(buf);
}

void run_report::epoch(const epoch_metrics& m) {
  prog_.epoch(m);
  if (metrics_)
    metrics_->write(m);
  if (m.samples_per_s > 0) {
    // A run stopped inside an epoch trained only part of it.
    double rows = m.rows > 0 ? static_cast<double>(m.rows) : train_rows_;
    train_s_ += rows / m.samples_per_s;
    rows_ += rows;
  }
}

void run_report::batch(size_t epoch, size_t done, size_t total, double loss) {
  prog_.batch(epoch, done, total, loss);
}

void run_report::finish(const std::vector<epoch_metrics>& history,
  const parameter_set& params, const loaded_data& data,
  const local_result* counters, stop_verdict stopped, double target_s) {
  double wall_s
    = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
        .count();
  if (!cli_.save.empty())
    save_model(
      cli_.save, opts_.model, params, data.input_scaling, data.transform);
  if (counters
      && (counters->dropped > 0 || counters->lost > 0
          || counters->rejected > 0))
    std::printf("late pushes dropped: %llu, pushes of dead workers lost: "
                "%llu, malformed or misaddressed messages refused: %llu\n",
      static_cast<unsigned long long>(counters->dropped),
      static_cast<unsigned long long>(counters->lost),
      static_cast<unsigned long long>(counters->rejected));
  auto& last = history.back();
  std::printf("summary backend=%s mode=%s model=%s epochs=%zu "
              "test_accuracy=%.4f test_loss=%.4f train_loss=%.4f wall_s=%.2f "
              "train_s=%.2f samples_per_s=%.0f",
    backend_.c_str(), modes_.c_str(), cli_.model.c_str(), opts_.epochs,
    last.test_accuracy, last.test_loss, last.train_loss, wall_s, train_s_,
    train_s_ > 0 ? rows_ / train_s_ : 0.0);
  auto& v = opts_.validation;
  if (held_ > 0)
    std::printf(" validation_accuracy=%.4f", last.validation_accuracy);
  if (v.target_accuracy > 0 || v.patience > 0)
    std::printf(" stop=%s", to_string(stopped));
  if (v.target_accuracy > 0) {
    if (target_s >= 0)
      std::printf(" target_s=%.2f", target_s);
    else
      std::printf(" target_s=never");
  }
  std::printf("\n");
  std::fflush(stdout);
}

} // namespace paramserv::app
