#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "linalg/optim/optimizer.hpp"

namespace paramserv {

/// The parameters a server shard owns and their update-rule state.
///
/// Ownership: the shard actor owns it; in one process it is shared (through
/// a hogwild_board) with the workers, which under Hogwild! update `values`
/// in place with relaxed atomics (optimizer::update_relaxed) while the
/// shard handles no pushes. Outside Hogwild! epochs only the shard touches
/// it; the switch between the two is ordered by messages (epoch barrier), so
/// plain and atomic accesses never overlap.
struct shard_memory {
  std::vector<float> values;
  std::unique_ptr<optimizer> opt;
  /// Updates applied so far (pushes, commits and in-place updates).
  std::atomic<uint64_t> version{0};
};

/// The shard memories of one job, by shard id, for workers in the same
/// process. A worker that finds no board (another process) cannot run
/// Hogwild! and falls back to asynchronous pushes.
struct hogwild_board {
  std::vector<std::shared_ptr<shard_memory>> shards;
};

} // namespace paramserv
