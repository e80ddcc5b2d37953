#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "actors/local_backend.hpp"
#include "apps/options.hpp"
#include "apps/progress.hpp"
#include "linalg/data/dataset.hpp"
#include "linalg/data/feature_transform.hpp"
#include "linalg/train/metrics.hpp"
#include "linalg/train/train_options.hpp"

// The options of a training job, shared by `paramserv train`, `paramserv
// node` and `paramserv launch`: one parser, one set of names, the same INI
// files, so that a job runs unchanged on any backend.

namespace paramserv::app {

/// Every job flag, as parsed.
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
  std::string checkpoint_dir;
  size_t checkpoint_every = 1;
  double checkpoint_seconds = 0;
  std::string resume;
  std::string on_worker_loss = "drop";
  std::string inject_faults;
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
  std::string lr_scaling = to_string(train_options{}.scaling);
  double warmup_epochs = train_options{}.warmup_epochs;
  std::string staleness_remedy = to_string(train_options{}.remedy);
  float dc_lambda = train_options{}.dc_lambda;
  bool asp_pipelining = train_options{}.asp_pipelining;
  double validation_fraction = 0;
  double target_accuracy = 0;
  size_t patience = 0;
  size_t eval_every = 0;
  std::string save;
  std::string metrics;
};

/// The job flags bound to `c`. `with_backend` adds --backend (train only).
boost::program_options::options_description describe_job(
  train_cli& c, bool with_backend);

/// The model and training flags as train_options.
/// @throws usage_error naming the flag.
train_options to_train_options(
  const train_cli& c, const boost::program_options::variables_map& vm);

/// The parameter-server flags (modes, workers, shards, push frequency,
/// timeouts) as local_options.
/// @throws usage_error naming the flag.
local_options to_local_options(
  const train_cli& c, const boost::program_options::variables_map& vm);

/// A timeout flag in seconds as whole milliseconds.
/// @throws usage_error unless 0.001 <= seconds <= 4e6.
uint32_t timeout_ms(const char* flag, double seconds);

/// The training and test sets, loaded and transformed as the flags say.
struct loaded_data {
  dataset train;
  std::optional<dataset> test;
  scaling input_scaling = scaling::none;
  feature_transform transform;
};

/// Loads --data (and --test-data, or the test split of an IDX folder) and
/// fits the feature transform on the training set.
/// @throws data_error or std::runtime_error naming the file.
loaded_data load_data(const data_options& d);

/// Where the loaded training set came from, so that a worker of another
/// process can read it itself: absolute path, format, shape and the fitted
/// transform.
data_source source_of(const data_options& d, const loaded_data& data);

/// "bsp" or "bsp@1,ssp:3@2".
std::string mode_text(const mode_schedule& modes);

/// What `paramserv train` prints and writes around a run, for any backend:
/// the header line, progress and notices, the metrics CSV, the saved model
/// and the summary line.
class run_report {
public:
  /// `backend` names the backend in the output; `workers` is 1 for the
  /// sequential trainer. Opens the metrics file, if any.
  /// @throws std::runtime_error if the metrics file cannot be opened.
  run_report(const train_cli& cli, const train_options& opts,
    const local_options* ps, const loaded_data& data, std::string backend);

  /// Prints the header line.
  void header() const;

  /// Hooks that feed progress, notices and per-epoch lines.
  local_hooks hooks();

  /// After each epoch (also what hooks().on_epoch calls).
  void epoch(const epoch_metrics& m);

  /// After a batch of the sequential trainer.
  void batch(size_t epoch, size_t done, size_t total, double loss);

  /// After each evaluation on the validation set.
  void evaluated(const evaluation_record& e);

  /// Saves the model (--save) and prints the counters and the summary:
  /// why the run stopped and, with --target-accuracy, when it reached it
  /// (target_s; negative: never).
  void finish(const std::vector<epoch_metrics>& history,
    const parameter_set& params, const loaded_data& data,
    const local_result* counters, stop_verdict stopped, double target_s);

private:
  const train_cli& cli_;
  train_options opts_;
  std::string backend_;
  std::string modes_;
  std::string topology_;
  size_t held_ = 0;
  size_t train_rows_;
  progress prog_;
  std::unique_ptr<metrics_writer> metrics_;
  std::chrono::steady_clock::time_point start_;
  double train_s_ = 0;
  double rows_ = 0;
};

} // namespace paramserv::app
