#pragma once

#include <cstdint>
#include <tuple>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "linalg/train/metrics.hpp"
#include "linalg/train/consistency.hpp"
#include "linalg/train/validation.hpp"
#include "messages/fields.hpp"

namespace paramserv {

/// Worker -> scheduler: the worker finished an epoch.
struct epoch_report {
  static constexpr const char* type_name = "epoch_report";

  uint64_t job = 0;
  uint32_t worker = 0;
  uint64_t epoch = 0;
  /// Rows trained and the sum of per-row losses over them.
  uint64_t rows = 0;
  double loss_sum = 0;
  /// Pushes (or, under hogwild, in-place updates) made in this epoch.
  uint64_t pushes = 0;
  /// Staleness seen by in-place (hogwild) updates; message-based pushes
  /// are measured by the shards instead.
  double staleness_sum = 0;
  uint64_t max_staleness = 0;
  /// The worker's clock at the end of the epoch.
  uint64_t clock = 0;
  /// Largest read lag of a unit this epoch (worker_state::max_read_lag).
  uint64_t max_read_lag = 0;
  /// Units whose update held a NaN or infinity: not pushed to any shard.
  uint64_t skipped = 0;
  /// Messages refused in this epoch because they came from the wrong
  /// sender.
  uint64_t refused = 0;
  /// Requests to shards sent again after their timeout (a lost message).
  uint64_t retried = 0;

  auto fields() {
    return std::tie(job, worker, epoch, rows, loss_sum, pushes, staleness_sum,
      max_staleness, clock, max_read_lag, skipped, refused, retried);
  }
  friend bool operator==(const epoch_report&, const epoch_report&) = default;
};

/// Worker -> scheduler, for a checkpoint cut inside an epoch (asked while
/// the worker waits at a clock boundary): how far it got, counting only
/// units whose pushes left. Scheduler -> worker, in an epoch_plan: where a
/// resumed epoch goes on from.
struct worker_position {
  static constexpr const char* type_name = "worker_position";

  uint64_t job = 0;
  uint32_t worker = 0;
  uint64_t epoch = 0;
  /// Rows of the epoch's shuffled partition trained (the index of the next
  /// one); UINT64_MAX: none left (the worker sits the epoch out).
  uint64_t next = 0;
  /// Clocks finished in the epoch.
  uint64_t units = 0;
  /// The worker's clock, and the clock of its last push that left (what
  /// every shard must have received for the cut to hold it).
  uint64_t clock = 0;
  uint64_t pushed = 0;
  /// The epoch's metrics over those units.
  epoch_report report;

  auto fields() {
    return std::tie(job, worker, epoch, next, units, clock, pushed, report);
  }
  friend bool operator==(const worker_position&, const worker_position&)
    = default;
};

/// Scheduler -> worker: what to do in the next epoch (or to stop).
struct epoch_plan {
  static constexpr const char* type_name = "epoch_plan";

  uint64_t job = 0;
  /// Zero-based epoch to run.
  uint64_t epoch = 0;
  consistency mode = consistency::bsp;
  /// Learning rate of this epoch (local steps of nbatches/epoch use it).
  float lr = 0;
  /// True when training is over: the worker stops.
  bool stop = false;
  /// Every worker's clock when the epoch began (by worker id), so that a
  /// worker can tell how many of each worker's pushes of this epoch it has
  /// read; UINT64_MAX for a worker that was dead by then.
  std::vector<uint64_t> start_clocks;
  /// The epoch goes on from a checkpoint cut inside it: `at` says where
  /// (rows done, clocks, metrics so far). Otherwise it starts afresh.
  bool resumes = false;
  worker_position at;

  auto fields() {
    return std::tie(job, epoch, mode, lr, stop, start_clocks, resumes, at);
  }
};

/// Scheduler -> shard: how to apply pushes from now on, as the rules of
/// `mode` say (rules_of: buffered until a commit, on arrival, or refused
/// while workers write the shard's memory in place).
struct shard_mode {
  static constexpr const char* type_name = "shard_mode";

  uint64_t job = 0;
  consistency mode = consistency::bsp;
  float lr = 0;
  /// What a push applied on arrival does about its staleness, and
  /// DC-ASGD's lambda (see linalg/optim/parallel_lr.hpp).
  staleness_remedy remedy = staleness_remedy::none;
  float dc_lambda = 0;

  auto fields() {
    return std::tie(job, mode, lr, remedy, dc_lambda);
  }
};

/// Worker -> scheduler: rows trained and the sum of their losses since the
/// worker's last report (sent at most every job_spec::progress_ms);
/// scheduler -> whoever ran the job: the totals so far (worker unused).
struct progress_report {
  static constexpr const char* type_name = "progress_report";

  uint64_t job = 0;
  uint32_t worker = 0;
  uint64_t rows = 0;
  double loss_sum = 0;

  auto fields() {
    return std::tie(job, worker, rows, loss_sum);
  }
};

/// Scheduler -> shard: apply the buffered pushes of `workers` as one update
/// (their mean, weighted by rows) and drop every other buffered push.
/// `late` lists (worker, clock) pairs flattened: pushes of that worker up to
/// that clock are late (sbp) and dropped when they arrive.
struct commit_request {
  static constexpr const char* type_name = "commit_request";

  uint64_t job = 0;
  /// Number of this synchronous round (for logs).
  uint64_t round = 0;
  std::vector<uint32_t> workers;
  std::vector<uint64_t> late;
  /// The learning rate of this update (the epoch's, scaled with the
  /// workers it averages: lr_factor); 0: the mode's.
  float lr = 0;

  auto fields() {
    return std::tie(job, round, workers, late, lr);
  }
};

/// Shard -> scheduler: counters since the last stats request.
struct shard_stats {
  static constexpr const char* type_name = "shard_stats";

  uint64_t updates = 0;
  uint64_t pushes = 0;
  /// Staleness of the applied pushes: how many, their sum and maximum.
  uint64_t measured = 0;
  double staleness_sum = 0;
  uint64_t max_staleness = 0;
  /// Late pushes dropped under sbp.
  uint64_t dropped = 0;
  /// Buffered synchronous pushes of workers that a commit went on without
  /// (they died): dropped, and counted apart from late ones.
  uint64_t lost = 0;
  /// Malformed pushes (wrong job, shape, NaN) and messages from a sender
  /// other than the actor registered under the id they name: refused.
  uint64_t rejected = 0;
  /// Pushes received again (a clock already received from that worker):
  /// acknowledged, not applied again.
  uint64_t duplicates = 0;

  auto fields() {
    return std::tie(updates, pushes, measured, staleness_sum, max_staleness,
      dropped, lost, rejected, duplicates);
  }
};

/// Scheduler -> whoever ran the job (the sender of `run`): the per-epoch
/// metrics (also sent one by one as they happen) and the final parameters
/// (flat, in the layout of the model's parameter set). A failed job sends
/// a caf::error instead.
struct run_result {
  static constexpr const char* type_name = "run_result";

  std::vector<epoch_metrics> history;
  std::vector<float> params;
  uint64_t dropped = 0;
  uint64_t lost = 0;
  /// Malformed pushes and messages refused because of their sender.
  uint64_t rejected = 0;
  std::vector<std::string> log;
  /// The job's id (random per run).
  uint64_t job = 0;
  /// Requests sent again after a timeout, and duplicate pushes received.
  uint64_t retried = 0;
  uint64_t duplicates = 0;
  /// The evaluations on the validation set, why the run stopped, and when
  /// it reached its target accuracy (seconds since the first batch;
  /// negative: never).
  std::vector<evaluation_record> evaluations;
  stop_verdict stopped = stop_verdict::go_on;
  double target_s = -1;

  auto fields() {
    return std::tie(history, params, dropped, lost, rejected, log, job, retried,
      duplicates, evaluations, stopped, target_s);
  }
};

/// Shard -> scheduler, for a checkpoint (a consistent cut: see
/// checkpoint_request): the shard's keys, version and update-rule state.
struct shard_state {
  static constexpr const char* type_name = "shard_state";

  uint64_t job = 0;
  uint32_t id = 0;
  uint64_t version = 0;
  std::vector<float> values;
  /// optimizer_state: the steps applied and the per-parameter arrays.
  uint64_t steps = 0;
  std::vector<float> arrays;

  auto fields() {
    return std::tie(job, id, version, values, steps, arrays);
  }
  friend bool operator==(const shard_state&, const shard_state&) = default;
};

/// Scheduler -> shard: its state for a checkpoint, once it has received
/// every worker's pushes up to `received[w]` (a cut inside an epoch: the
/// pushes that left before the workers stopped at their clock boundary may
/// still be on their way). Empty: at once (a cut between epochs).
struct checkpoint_request {
  static constexpr const char* type_name = "checkpoint_request";

  uint64_t job = 0;
  std::vector<uint64_t> received;

  auto fields() {
    return std::tie(job, received);
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, epoch_metrics& x) {
  using detail::on_wire;
  return f(caf::meta::type_name("epoch_metrics"), x.epoch, on_wire(x.elapsed_s),
    on_wire(x.train_loss), on_wire(x.test_loss), on_wire(x.test_accuracy),
    on_wire(x.samples_per_s), on_wire(x.lr), x.pushes,
    on_wire(x.mean_staleness), x.max_staleness, x.max_clock_gap, x.max_read_lag,
    x.skipped, x.workers, x.workers_lost, x.rows, x.rows_reassigned,
    x.shards_restored, on_wire(x.recovery_s), on_wire(x.validation_loss),
    on_wire(x.validation_accuracy));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, evaluation_record& x) {
  using detail::on_wire;
  return f(caf::meta::type_name("evaluation_record"), x.epoch, x.batches,
    on_wire(x.elapsed_s), on_wire(x.loss), on_wire(x.accuracy));
}

} // namespace paramserv
