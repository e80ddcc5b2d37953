#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "linalg/data/dataset.hpp"
#include "linalg/models/model.hpp"
#include "linalg/core/parameter_set.hpp"
#include "linalg/core/shard_map.hpp"
#include "linalg/train/train_options.hpp"
#include "linalg/train/consistency.hpp"
#include "messages/scheduler_actor.hpp"
#include "messages/server_shard_actor.hpp"

namespace paramserv {

/// What the scheduler needs to run a job.
struct scheduler_config {
  uint64_t job = 0;
  size_t workers = 1;
  train_options opts;
  /// The mode of every epoch (at least one entry, at epoch 1).
  mode_schedule modes;
  std::vector<server_shard_actor> shards;
  std::shared_ptr<const shard_map> map;
  /// Held-out data validated after each epoch; may be null.
  std::shared_ptr<const dataset> test;
  /// Whether workers share the shards' memory (one process): Hogwild! runs
  /// in place; otherwise it degrades to asp, and says so.
  bool in_process = true;
};

/// What the scheduler knows about one worker.
struct worker_slot {
  worker_actor handle;
  bool joined = false;
  bool live = true;
  /// Still training in the current epoch.
  bool active = false;
  /// The worker's own clock (pushes so far, cumulative).
  uint64_t clock = 0;
  /// Clocks finished in the current epoch (what the gates compare).
  uint64_t epoch_clock = 0;
  /// sbp: clock requests up to this clock were committed without it.
  uint64_t late_until = 0;
  std::optional<caf::typed_response_promise<uint64_t>> clock_wait;
  std::optional<caf::typed_response_promise<epoch_plan>> plan_wait;
  epoch_report report;
};

/// State of the scheduler actor; survives every `become`.
struct scheduler_state {
  scheduler_config cfg;
  std::vector<worker_slot> slots;
  size_t joined = 0;
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
  std::optional<caf::typed_response_promise<run_result>> run;
  caf::actor driver;
  run_result result;
  std::chrono::steady_clock::time_point start;
  std::chrono::steady_clock::time_point epoch_start;
  std::unique_ptr<model> net;
  parameter_set eval_params;
  shard_stats stats;

  static inline const char* name = "paramserv.scheduler";
};

using scheduler_pointer = scheduler_actor::stateful_pointer<scheduler_state>;

/// The scheduler behaviour: waits for every worker to join and for a run
/// request, then runs the job epoch by epoch, swapping in the behaviour of
/// each epoch's consistency mode (actors/consistency/).
scheduler_actor::behavior_type scheduler(
  scheduler_pointer self, scheduler_config cfg);

namespace detail {

/// The protocol every mode speaks; modes differ only in `release`, the
/// condition under which held clock requests are answered.
scheduler_actor::behavior_type scheduler_behavior(
  scheduler_pointer self, std::function<void()> release);

/// Answers worker `w`'s held clock request and records the clock gap.
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
