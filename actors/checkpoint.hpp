#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "linalg/train/metrics.hpp"
#include "messages/control_messages.hpp"
#include "messages/fields.hpp"
#include "messages/job_messages.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace paramserv {

/// The job's part of a checkpoint: the job as it was run, the epochs
/// trained and their metrics, and for a cut inside an epoch where each
/// worker stood. Taken while every worker waits at a clock boundary (or
/// for its next plan) and every shard received the pushes they sent, so
/// that with the shards' states it is a consistent cut. The shuffles and
/// partitions derive from the seed, the worker and the epoch, so no
/// generator state is needed.
struct job_checkpoint {
  static constexpr const char* type_name = "job_checkpoint";

  /// Whole epochs trained.
  uint64_t epochs_done = 0;
  job_spec spec;
  std::vector<epoch_metrics> history;
  /// Numbers the job's checkpoints, newer ones higher (the store's
  /// sequence).
  uint64_t sequence = 0;
  /// A cut inside epoch epochs_done + 1: each worker's position in it, by
  /// id. Empty: a cut between epochs.
  std::vector<worker_position> positions;
  /// Seconds of that epoch trained before the cut.
  double epoch_elapsed_s = 0;
  /// Batches trained by the cut (all workers together) and the
  /// evaluations on the validation set up to it: the stopping rules go on
  /// from them.
  uint64_t batches = 0;
  std::vector<evaluation_record> evaluations;

  auto fields() {
    return std::tie(epochs_done, spec, history, sequence, positions,
      epoch_elapsed_s, batches, evaluations);
  }
};

/// Where checkpoint `job` stands, for logs: "after epoch 3", or "in epoch
/// 4 (1200 rows trained)" for a cut inside an epoch.
std::string cut_name(const job_checkpoint& job);

/// Where a resumed job continues: what a checkpoint held.
struct resume_point {
  job_checkpoint job;
  /// Each shard's keys, version and update-rule state, by shard id.
  std::vector<shard_state> shards;
  /// The checkpoint's folder and what was refused on the way, for the log.
  std::string from;
  std::vector<std::string> refused;
};

/// Writes checkpoint `job.sequence` of a job to `dir` (a
/// checkpoint_store): the job's part and one part per shard, committed
/// atomically; the previous checkpoint stays until this one is complete.
/// Takes the states by value: the caller moves them in, and the model's
/// values are encoded without another copy.
/// @throws std::runtime_error naming the file on an I/O error.
void write_checkpoint(caf::actor_system& sys, const std::string& dir,
  job_checkpoint job, std::vector<shard_state> shards);

/// The newest checkpoint in `dir` that verifies, checked against the job
/// that resumes it, `spec`: the same model, update rule, shards, workers,
/// batch size, seed, partition scheme and data rows, and more epochs than
/// it has done. A newer checkpoint that does not verify is refused (named
/// in `refused`) and the next older one used.
/// @throws std::invalid_argument naming the folder or the mismatch when no
///         checkpoint verifies or the job differs.
resume_point read_checkpoint(
  caf::actor_system& sys, const std::string& dir, const job_spec& spec);

} // namespace paramserv
