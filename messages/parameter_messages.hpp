#pragma once

#include <cstdint>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/float_buffer.hpp"

namespace paramserv {

/// Worker -> shard: gradients (or accumulated updates) for the shard's keys,
/// in ps-lite's shape: sorted keys, one flat value buffer holding the key
/// blocks one after the other, and each block's length.
struct gradient_push {
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
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, gradient_push& x) {
  return f(caf::meta::type_name("gradient_push"), x.job, x.worker, x.clock,
    x.version, x.rows, x.keys, x.lengths, float_buffer{x.values});
}

/// Worker -> shard: asks for the current values of `keys` (all the shard's
/// keys when empty).
struct parameter_pull {
  uint64_t job = 0;
  uint32_t worker = 0;
  std::vector<uint32_t> keys;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, parameter_pull& x) {
  return f(caf::meta::type_name("parameter_pull"), x.job, x.worker, x.keys);
}

/// Shard -> worker: values of the requested keys and the shard's version
/// (number of updates applied so far).
struct parameter_slice {
  uint64_t job = 0;
  uint64_t version = 0;
  std::vector<uint32_t> keys;
  std::vector<uint32_t> lengths;
  std::vector<float> values;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, parameter_slice& x) {
  return f(caf::meta::type_name("parameter_slice"), x.job, x.version, x.keys,
    x.lengths, float_buffer{x.values});
}

} // namespace paramserv
