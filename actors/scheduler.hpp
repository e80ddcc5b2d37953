#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "linalg/core/names.hpp"
#include "linalg/core/parameter_set.hpp"
#include "linalg/core/shard_map.hpp"
#include "linalg/data/dataset.hpp"
#include "linalg/models/model.hpp"
#include "linalg/train/consistency.hpp"
#include "linalg/train/validation.hpp"
#include "actors/checkpoint.hpp"
#include "messages/job_messages.hpp"
#include "messages/scheduler_actor.hpp"
#include "messages/server_shard_actor.hpp"
#include "messages/worker_actor.hpp"

namespace paramserv {

/// What becomes of a lost worker's partition.
enum class worker_loss_policy : uint8_t {
  /// Nobody trains it any more.
  drop,
  /// The survivors take it over, its rows not yet trained in the current
  /// epoch included.
  reassign,
};

template <>
struct enum_names<worker_loss_policy> {
  static constexpr std::string_view what = "worker-loss policy";
  static constexpr std::array table{
    std::pair{worker_loss_policy::drop, "drop"},
    std::pair{worker_loss_policy::reassign, "reassign"},
  };
};

/// What the scheduler needs to run a job.
struct scheduler_config {
  /// The job; its shards and workers register with the scheduler.
  job_spec spec;
  /// Held-out data validated after each epoch; may be null.
  std::shared_ptr<const dataset> test;
  /// The validation set (rows of the training set held out as
  /// spec.opts.validation says: split_rows), evaluated every
  /// spec.opts.validation.every batches and after each epoch, and what the
  /// stopping rules look at; may be null.
  std::shared_ptr<const dataset> validation;
  /// How long the scheduler waits for the job's shards and workers to
  /// register; zero waits as long as it takes. Default: zero.
  std::chrono::milliseconds join_timeout{0};
  /// The cluster secret joiners must prove they hold (see
  /// actors/net/secret.hpp); empty: none. Default: none.
  std::string secret;
  /// Where to write a checkpoint (a checkpoint_store folder) after every
  /// `checkpoint_every`-th epoch but the last; empty or 0: never.
  std::string checkpoint_dir;
  size_t checkpoint_every = 0;
  /// Also a checkpoint this many seconds after the last one (or the
  /// start): at the workers' next clock boundary, a cut inside the epoch
  /// (at the epoch's end under hogwild, whose workers have no clocks, and
  /// in an epoch that lost a worker); 0: by epochs only.
  double checkpoint_seconds = 0;
  /// A job resumed from a checkpoint (read_checkpoint): it continues after
  /// the checkpoint's epochs, from its shards' states. Null: a fresh start.
  std::shared_ptr<const resume_point> resume;
  /// What becomes of a lost worker's partition. Default: drop.
  worker_loss_policy on_worker_loss = worker_loss_policy::drop;
  /// Spawns a replacement for a lost shard (it registers like any shard);
  /// null: a replacement must come by itself (a server node joining). Only
  /// with checkpoint_dir: a lost shard is restored from the last checkpoint
  /// (or the initial model before the first), every other shard goes back
  /// to it too, and the run goes on from there. Default: null.
  std::function<void(const scheduler_actor&)> respawn;
};

/// What the scheduler knows about one worker.
struct worker_slot {
  worker_actor handle;
  std::string node;
  bool shares_memory = false;
  /// On another CAF node (process) than the scheduler.
  bool remote = false;
  bool live = true;
  /// Still training in the current epoch.
  bool active = false;
  /// The worker's own clock (pushes so far, cumulative).
  uint64_t clock = 0;
  /// Clocks finished in the current epoch (what the gates compare).
  uint64_t epoch_clock = 0;
  /// sbp: clock requests up to this clock were committed without it.
  uint64_t late_until = 0;
  /// Its clock request is held (the grant is a message).
  bool clock_wait = false;
  /// It waits for its next plan (a message).
  bool plan_wait = false;
  /// It answered its slice: its data is read and its shards reached.
  bool ready = false;
  epoch_report report;
};

/// What the scheduler knows about one shard.
struct shard_slot {
  server_shard_actor handle;
  std::string node;
  bool shares_memory = false;
  bool remote = false;
  /// Where its node listens for workers (registration::endpoint).
  std::string endpoint;
  bool live = true;
  /// Lost, and not replaced yet; since when.
  bool lost = false;
  std::chrono::steady_clock::time_point lost_at;
};

/// A lost shard being restored: workers halted, a replacement awaited.
struct recovery_state {
  bool active = false;
  std::chrono::steady_clock::time_point began;
  /// The epoch (zero-based) that was running, and the checkpoint it goes
  /// back to.
  size_t epoch = 0;
  std::shared_ptr<const resume_point> from;
  /// Halt requests not answered yet.
  size_t halts = 0;
  /// Replacements (or the last step, restoring) not answered yet.
  size_t rostering = 0;
  /// Shards lost in this recovery, by id.
  std::vector<uint32_t> shards;
  /// Per worker: the clock of its last push before the halt (see
  /// shard_slice::fences).
  std::vector<uint64_t> fences;
  /// Restoring and telling the workers is under way; `step` counts the
  /// shards lost meanwhile, each of which starts that over.
  bool busy = false;
  uint64_t step = 0;
  /// Replacements to spawn (local backend) once every worker halted: a
  /// new shard puts its memory on the node's board, which hogwild workers
  /// read until they halt.
  size_t to_spawn = 0;
};

/// A checkpoint cut inside an epoch (checkpoint_seconds): the grants of
/// clock requests are held, so each worker stops at its next clock
/// boundary; once all did, their positions and the shards' states are
/// taken, and the held grants go out.
struct cut_state {
  bool holding = false;
  /// Numbers the cut (replies to an older one are dropped).
  uint64_t serial = 0;
  /// Positions and states asked.
  bool taking = false;
  /// Workers granted meanwhile, whose grants are held.
  std::vector<uint32_t> held;
};

/// State of the scheduler actor; survives every `become`.
struct scheduler_state {
  scheduler_config cfg;
  const job_spec& spec() const {
    return cfg.spec;
  }
  shard_map map;
  /// The model's initial values (flat), handed out to shards as they
  /// register.
  std::vector<float> init;
  std::vector<shard_slot> shards;
  std::vector<worker_slot> slots;
  /// Every shard and worker registered, and every shard has the roster
  /// (the workers' own readiness is in their slots).
  bool ready = false;
  /// Every shard and worker registered from one node that shares memory:
  /// Hogwild! may run in place.
  bool in_process = false;
  bool started = false;
  /// An epoch's mode requests to the shards are out: it has not begun.
  bool starting = false;
  mode_setting mode;
  /// Zero-based epoch being trained.
  size_t epoch = 0;
  /// The active mode's gate: grants what it allows of the held clock
  /// requests. Set by each mode's behaviour.
  std::function<void()> release;
  /// A synchronous commit is in flight.
  bool committing = false;
  /// The epoch barrier was reached: validation and the next plan are on
  /// their way.
  bool ending = false;
  uint64_t round = 0;
  /// Largest clock gap granted in this epoch.
  uint64_t max_gap = 0;
  /// Whoever sent `run`: gets metrics, log lines, progress and the result.
  caf::actor driver;
  /// Progress totals, and whether they changed since the last tick.
  progress_report progress;
  bool progress_changed = false;
  /// Why the last worker that stopped with an error stopped.
  std::string last_loss;
  /// Messages refused because of their sender or version.
  uint64_t refused = 0;
  /// Nonces handed out (hello) and not yet used, by the actor they were
  /// given to; oldest first.
  std::vector<std::pair<caf::strong_actor_ptr, std::string>> nonces;
  /// The job ended (finish): well or not, it takes no further work. If
  /// well, the scheduler waits for its shards and workers to stop (so that
  /// its last messages reach every node before its own stops).
  bool over = false;
  /// Workers lost in the current epoch.
  uint64_t lost_workers = 0;
  /// Each worker's partition (rows), as handed out and taken over.
  std::vector<std::vector<uint32_t>> parts;
  /// Rows handed over in the current epoch, shards restored and the
  /// seconds it took.
  uint64_t rows_reassigned = 0;
  uint64_t shards_restored = 0;
  double recovery_s = 0;
  /// Recoveries so far: replies to requests of an older one are dropped.
  uint64_t generation = 0;
  recovery_state recovery;
  /// This job wrote a checkpoint (a lost shard goes back to the newest;
  /// else to the one it resumed from, else to the initial model).
  bool checkpointed = false;
  /// The sequence number of the newest checkpoint written or resumed from.
  uint64_t checkpoint_sequence = 0;
  /// When the last checkpoint was written (or the job started).
  std::chrono::steady_clock::time_point checkpoint_time;
  cut_state cut;
  uint64_t cuts = 0;
  /// A worker was lost, rejoined or took rows over in this epoch: no cut
  /// inside it (its partitions changed while it ran).
  bool epoch_disturbed = false;
  /// Partitions changed (rows handed over, a worker replaced) this many
  /// times, and how many times when the newest checkpoint cut an epoch:
  /// positions of a cut hold only for the partitions they were taken in.
  uint64_t parts_changes = 0;
  uint64_t parts_changes_at_cut = 0;
  /// Where the next epoch goes on from (a cut inside it), by worker id,
  /// and the seconds of it trained before; empty: it starts afresh.
  std::vector<worker_position> carry;
  double carry_elapsed_s = 0;
  run_result result;
  std::chrono::steady_clock::time_point start;
  std::chrono::steady_clock::time_point epoch_start;
  std::unique_ptr<model> net;
  parameter_set eval_params;
  shard_stats stats;
  /// Batches trained so far, all workers together (counted from clock
  /// requests, under hogwild from progress), rows of hogwild progress not
  /// counted in a batch yet, and the progress totals when the epoch began.
  uint64_t batches = 0;
  uint64_t batch_rows = 0;
  /// Batches of an epoch, all workers together (what warm-up counts
  /// epochs in), and the rate of the last synchronous commit.
  uint64_t epoch_batches = 0;
  float last_lr = 0;
  progress_report progress_at_epoch;
  /// When the next evaluation inside an epoch is due (batches), whether
  /// one is under way, and the parameters it reads.
  uint64_t next_eval = 0;
  bool evaluating = false;
  /// Hogwild! workers whose progress made an evaluation due: each waits
  /// for it, so that it reads the model of the batch it names.
  std::vector<caf::response_promise> eval_waiters;
  parameter_set val_params;
  stop_rule rule{validation_options{}};

  static inline const char* name = "paramserv.scheduler";
};

using scheduler_pointer = scheduler_internal::stateful_pointer<scheduler_state>;

/// The scheduler behaviour: takes the registrations of the job's shards and
/// workers, hands out the job, and once a run was requested runs it epoch
/// by epoch, swapping in the behaviour of each epoch's consistency mode
/// (actors/consistency/).
scheduler_internal::behavior_type scheduler(
  scheduler_pointer self, scheduler_config cfg);

namespace detail {

/// The protocol every mode speaks; modes differ only in `release`, the
/// condition under which held clock requests are granted.
scheduler_internal::behavior_type scheduler_behavior(
  scheduler_pointer self, std::function<void()> release);

/// Grants worker `w`'s held clock request and records the clock gap.
void grant(scheduler_pointer self, size_t w);

/// Fewest clocks finished in this epoch by any live, active worker.
uint64_t min_active_clock(const scheduler_state& st);

/// Applies the buffered pushes of `included` as one update on every shard;
/// `late` workers' pushes of this clock are dropped. Grants `included` once
/// every shard committed.
void commit(scheduler_pointer self, std::vector<uint32_t> included,
  std::vector<uint32_t> late);

/// Sends a log line to the driver and keeps it in the result.
void log(scheduler_pointer self, std::string line);

} // namespace detail

} // namespace paramserv
