#pragma once

#include <cstdint>
#include <tuple>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/fields.hpp"

namespace paramserv {

/// Worker -> shard: gradients (or accumulated updates) for the shard's keys,
/// in ps-lite's shape: sorted keys, one flat value buffer holding the key
/// blocks one after the other, and each block's length.
struct gradient_push {
  static constexpr const char* type_name = "gradient_push";

  /// Job the push belongs to; a shard refuses pushes of another job.
  uint64_t job = 0;
  uint32_t worker = 0;
  /// The worker's clock after this push (its first push has clock 1).
  uint64_t clock = 0;
  /// Shard version the gradient was computed from (from the last pull).
  uint64_t version = 0;
  /// Training rows behind the gradient: its weight in a synchronous mean.
  uint64_t rows = 0;
  std::vector<uint32_t> keys;
  std::vector<uint32_t> lengths;
  std::vector<float> values;

  auto fields() {
    return std::tie(job, worker, clock, version, rows, keys, lengths, values);
  }
};

/// Worker -> shard: asks for the current values of `keys` (all the shard's
/// keys when empty).
struct parameter_pull {
  static constexpr const char* type_name = "parameter_pull";

  uint64_t job = 0;
  uint32_t worker = 0;
  std::vector<uint32_t> keys;

  auto fields() {
    return std::tie(job, worker, keys);
  }
};

/// Shard -> worker: values of the requested keys, the shard's version
/// (number of updates applied so far) and, per worker, the highest clock of
/// that worker whose push the shard has applied (what SSP's read bound is
/// about: see worker_state::max_read_lag).
struct parameter_slice {
  static constexpr const char* type_name = "parameter_slice";

  uint64_t job = 0;
  uint64_t version = 0;
  std::vector<uint32_t> keys;
  std::vector<uint32_t> lengths;
  std::vector<float> values;
  std::vector<uint64_t> applied;

  auto fields() {
    return std::tie(job, version, keys, lengths, values, applied);
  }
};

} // namespace paramserv
