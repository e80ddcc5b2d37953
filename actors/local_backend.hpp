#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/faults/fault_plan.hpp"
#include "actors/scheduler.hpp"
#include "linalg/data/dataset.hpp"
#include "linalg/train/metrics.hpp"
#include "linalg/core/parameter_set.hpp"
#include "linalg/train/train_options.hpp"
#include "linalg/train/consistency.hpp"
#include "messages/job_messages.hpp"
#include "messages/scheduler_actor.hpp"
#include "messages/server_shard_actor.hpp"
#include "messages/worker_actor.hpp"

namespace caf {
class actor_system;
class actor_system_config;
} // namespace caf

namespace paramserv {

/// Checkpoints of a run: where and how often to write them, and where to
/// resume from. Plain struct.
struct checkpoint_options {
  /// Folder of the checkpoints (a checkpoint_store); empty: none. Default:
  /// none.
  std::string dir;
  /// Epochs between checkpoints; 0: by time only. Default: 1.
  size_t every = 1;
  /// Also a checkpoint this many seconds after the last one (or the
  /// start), at the workers' next clock boundary (see
  /// scheduler_config::checkpoint_seconds); 0: by epochs only. Default: 0.
  double seconds = 0;
  /// A folder of checkpoints to continue from (its newest that verifies);
  /// empty: a fresh start. Default: empty.
  std::string resume;
};

/// Options of a parameter-server run (local backend). Plain struct.
struct local_options {
  /// Worker actors. Default: 2.
  size_t workers = 2;
  /// Server-shard actors. Default: 1.
  size_t shards = 1;
  /// Consistency mode of every epoch. Default: bsp throughout.
  mode_schedule modes = {mode_switch{}};
  /// How often workers push. Default: every batch.
  update_frequency freq = update_frequency::batch;
  /// Batches per push with update_frequency::nbatches. Default: 1.
  size_t nbatches = 1;
  /// CAF scheduler threads; 0 means one per core. Default: 0.
  size_t threads = 0;
  /// Timeouts of the requests answered at once (pushes, pulls, the
  /// scheduler's control requests to the shards). Default: 60 s each.
  request_timeouts timeouts;
  /// Where the training data came from (path, format, transform), so that
  /// a worker without the loaded set can read it itself. Default: nowhere
  /// (the set exists only in this process's memory).
  data_source data;
  /// Test hook: per-worker delay before each unit of work (missing entries
  /// mean none).
  std::vector<std::chrono::microseconds> delays;
  /// Checkpoints and resuming. Default: none.
  checkpoint_options checkpoints;
  /// Test hook: faults injected on purpose. Default: none.
  fault_plan faults;
  /// What becomes of a lost worker's partition. Default: drop.
  worker_loss_policy on_worker_loss = worker_loss_policy::drop;
};

/// Callbacks of a run; each is called from the thread that called
/// train_local, never concurrently. All may be empty.
struct local_hooks {
  std::function<void(const epoch_metrics&)> on_epoch;
  /// Rows trained so far (all workers) and the sum of their training
  /// losses, about ten times a second.
  std::function<void(uint64_t, double)> on_progress;
  /// Mode switches and other notices.
  std::function<void(const std::string&)> on_log;
  /// Each evaluation on the validation set.
  std::function<void(const evaluation_record&)> on_eval;
};

/// What a run produced.
struct local_result {
  /// The run's identity on the wire: random, never derived from the seed.
  uint64_t job = 0;
  std::vector<epoch_metrics> history;
  parameter_set params;
  /// Late pushes dropped (sbp), buffered pushes of workers that died
  /// (lost), and malformed pushes and misaddressed messages refused.
  uint64_t dropped = 0;
  uint64_t lost = 0;
  uint64_t rejected = 0;
  /// Requests to shards sent again after a timeout, and pushes a shard
  /// received twice (applied once).
  uint64_t retried = 0;
  uint64_t duplicates = 0;
  std::vector<std::string> log;
  /// The evaluations on the validation set, why the run stopped (go_on:
  /// its epochs ran out), and when it reached --target-accuracy (seconds
  /// since the first batch; negative: never).
  std::vector<evaluation_record> evaluations;
  stop_verdict stopped = stop_verdict::go_on;
  double target_s = -1;
};

/// Checks a run's options against each other before any data is read:
/// validate(opts), then workers, shards, modes and push frequency. Messages
/// name `paramserv train`'s flags, as validate(train_options) does.
/// @throws std::invalid_argument with a one-line reason.
void validate(const train_options& opts, const local_options& local);

/// validate(opts, local) and validate(opts, train), then the checks that
/// need the model: no more shards than the model has keys.
/// @throws std::invalid_argument with a one-line reason.
void validate(
  const train_options& opts, const local_options& local, const dataset& train);

/// Checks a job as it may come from elsewhere (an embedding application,
/// another node): its options as validate(opts, local) does, no more shards
/// than the model has keys, a progress interval, and at least one training
/// row per worker.
/// @throws std::invalid_argument with a one-line reason.
void validate(const job_spec& spec);

/// The job train_local runs: the options, a random job id, and the data
/// source `local.data` with the training set's row count.
job_spec make_job_spec(
  const train_options& opts, const local_options& local, const dataset& train);

/// Configures `cfg` as every paramserv actor system is: the message types,
/// `threads` scheduler threads (0: one per core), quiet logging, and
/// worker threads that poll a while before sleeping.
void configure_system(caf::actor_system_config& cfg, size_t threads);

/// Handles of one job's actors.
struct job_actors {
  scheduler_actor scheduler;
  std::vector<server_shard_actor> shards;
  /// In the order they were spawned (not their ids, which the scheduler
  /// assigns as they register).
  std::vector<worker_actor> workers;
};

/// Where spawn_job puts the workers: by default all on this process's node,
/// sharing the loaded training set and the shards' memory.
struct job_placement {
  /// Workers (by spawn order) on a node of their own, as if in another
  /// process that has the training set loaded too: they never run Hogwild!
  /// in place.
  std::vector<bool> elsewhere;
  /// Workers (by spawn order) with no node at all: they read the job's data
  /// source themselves.
  std::vector<bool> no_node;
  /// Test hook: per-worker delay before each unit of work.
  std::vector<std::chrono::microseconds> delays;
  /// Test hook: faults injected on purpose (null: none).
  std::shared_ptr<const fault_plan> faults;
};

/// Spawns a scheduler for `spec` into `sys`, then its shards and workers,
/// which register with it. `train` (may be null) is this node's copy of the
/// training set; `test` (may be null) is validated after each epoch. The
/// job runs once someone sends the scheduler `run`. With
/// `checkpoints.resume`, the job continues from the newest checkpoint there
/// that verifies (read_checkpoint). With `checkpoints.dir`, a shard that
/// is lost while the job runs is replaced by a new one on this node and the
/// run goes on from the last checkpoint. A lost worker's partition is
/// dropped or handed to the others, as `on_worker_loss` says.
/// @throws std::invalid_argument when the job cannot resume from there.
job_actors spawn_job(caf::actor_system& sys, const job_spec& spec,
  std::shared_ptr<const dataset> train, std::shared_ptr<const dataset> test,
  const job_placement& placement = {},
  const checkpoint_options& checkpoints = {},
  worker_loss_policy on_worker_loss = worker_loss_policy::drop);

/// Starts a whole job inside the caller's actor system without blocking:
/// spawn_job(sys, spec, train, test), then `run` sent on behalf of
/// `reply_to`, which becomes the job's driver. `reply_to` then gets, as
/// messages: each epoch's `epoch_metrics`, log lines (`std::string`),
/// `progress_report`s, and at the end one `run_result` (the trained
/// parameters, flat, and the metrics) or one `caf::error` naming why the
/// job failed. The job's actors stop by themselves when it ends.
/// @throws std::invalid_argument for a job that cannot run (validate).
job_actors start_job(caf::actor_system& sys, const job_spec& spec,
  std::shared_ptr<const dataset> train, std::shared_ptr<const dataset> test,
  const caf::actor& reply_to);

/// Runs the job of `scheduler` (spawned into `sys`, its shards and workers
/// anywhere): sends it `run` from an actor of `sys` and calls `hooks` with
/// what it reports until the job ends. `model` shapes the result's
/// parameters. Blocks until done.
/// @throws std::runtime_error naming why if the job fails or the scheduler
///         stops without a result.
local_result drive_job(caf::actor_system& sys, const scheduler_actor& scheduler,
  const model_spec& model, const local_hooks& hooks = {});

/// Trains with k1 server shards, k2 workers and a scheduler in one actor
/// system (threads), then shuts it down. Blocks until done.
/// @throws std::invalid_argument for invalid options (see validate) and
///         std::runtime_error if the job fails.
local_result train_local(const train_options& opts, const local_options& local,
  std::shared_ptr<const dataset> train, std::shared_ptr<const dataset> test,
  const local_hooks& hooks = {});

} // namespace paramserv
