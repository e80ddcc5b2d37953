#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <caf/typed_event_based_actor.hpp>

#include "actors/shard_memory.hpp"
#include "linalg/optim/optimizer.hpp"
#include "linalg/core/shard_map.hpp"
#include "messages/server_shard_actor.hpp"

namespace paramserv {

/// What a server shard needs to know; the same for local and remote shards.
struct shard_config {
  uint64_t job = 0;
  uint32_t id = 0;
  /// Workers of the job (worker ids are 0 .. workers-1).
  size_t workers = 1;
  /// The job's key layout; the shard owns map.keys_of[id].
  std::shared_ptr<const shard_map> map;
};

/// State of a server shard actor.
struct server_shard_state {
  /// A synchronous push waiting for its commit.
  struct pending_push {
    uint64_t clock = 0;
    uint64_t rows = 0;
    uint64_t version = 0;
    std::vector<float> values;
  };

  shard_config cfg;
  std::shared_ptr<shard_memory> mem;
  /// Whoever sent the first mode request (the scheduler), monitored.
  caf::actor_addr scheduler;
  std::vector<uint32_t> keys;
  std::vector<uint32_t> lengths;
  bool synchronous = true;
  bool in_place = false;
  float lr = 0;
  std::vector<std::optional<pending_push>> pending;
  /// Per worker: its pushes with a clock up to this one are late (sbp).
  std::vector<uint64_t> drop_until;
  /// Per worker: the highest clock whose push was applied.
  std::vector<uint64_t> applied;
  std::vector<float> mean;
  shard_stats stats;

  static inline const char* name = "paramserv.server_shard";
};

using server_shard_pointer
  = server_shard_actor::stateful_pointer<server_shard_state>;

/// The server shard behaviour. `mem` holds the shard's initial values (its
/// keys' blocks, in key order) and its optimizer.
server_shard_actor::behavior_type server_shard(server_shard_pointer self,
  shard_config cfg, std::shared_ptr<shard_memory> mem);

} // namespace paramserv
