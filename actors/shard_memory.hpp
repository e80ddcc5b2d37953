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

/// The shard memories of one job, by shard id, shared by the actors of one
/// process (local_node). Sized before any shard starts; each shard fills
/// its own entry once, before the scheduler's first request to it, so a
/// worker reading it in a Hogwild! epoch sees it (every step between is a
/// message). Entries of shards of other processes stay null.
struct hogwild_board {
  std::vector<std::shared_ptr<shard_memory>> shards;
};

} // namespace paramserv
