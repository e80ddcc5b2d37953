#pragma once

#include <cstdint>
#include <tuple>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/fields.hpp"

namespace paramserv {

/// Worker -> shard: the gradient (or accumulated update) of all the
/// shard's keys: one flat buffer holding the key blocks in key order, as
/// the job's shard map lays them out. Keys and lengths are not sent: the
/// shard map fixed them when the job was handed out (job_messages.hpp), so a
/// push carries nothing but its values and a few counters.
struct gradient_push {
  static constexpr const char* type_name = "gradient_push";

  /// Job the push belongs to; a shard refuses pushes of another job.
  uint64_t job = 0;
  /// The pushing worker; the shard checks that the sender is the actor
  /// registered under this id.
  uint32_t worker = 0;
  /// The worker's clock after this push (its first push has clock 1).
  uint64_t clock = 0;
  /// Shard version the gradient was computed from (from the last pull).
  uint64_t version = 0;
  /// Training rows behind the gradient: its weight in a synchronous mean.
  uint64_t rows = 0;
  /// Shared, not copied, by the worker's copy kept to send again and by
  /// the shard that buffers it.
  shared_floats values;

  auto fields() {
    return std::tie(job, worker, clock, version, rows, values);
  }
};

/// Reader id of the scheduler in a parameter_pull (workers use their id).
constexpr uint32_t scheduler_reader = UINT32_MAX;

/// Worker or scheduler -> shard: asks for the current values of all the
/// shard's keys.
struct parameter_pull {
  static constexpr const char* type_name = "parameter_pull";

  uint64_t job = 0;
  /// The reading worker's id, or scheduler_reader; checked against the
  /// sender.
  uint32_t reader = 0;

  auto fields() {
    return std::tie(job, reader);
  }
};

/// Shard -> worker: the values of all its keys, the shard's version (number
/// of updates applied so far) and, per worker, the highest clock of that
/// worker whose push the shard has applied (what SSP's read bound is about:
/// see worker_state::max_read_lag). Every pull of one version shares one
/// value buffer.
struct parameter_slice {
  static constexpr const char* type_name = "parameter_slice";

  uint64_t job = 0;
  uint64_t version = 0;
  shared_floats values;
  std::vector<uint64_t> applied;

  auto fields() {
    return std::tie(job, version, values, applied);
  }
};

} // namespace paramserv
