#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <caf/actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/faults/fault_plan.hpp"
#include "actors/local_node.hpp"
#include "actors/shard_memory.hpp"
#include "linalg/optim/optimizer.hpp"
#include "linalg/train/consistency.hpp"
#include "messages/job_messages.hpp"
#include "messages/scheduler_actor.hpp"
#include "messages/server_shard_actor.hpp"

namespace paramserv {

/// What a server shard is spawned with: whom to register with, and where it
/// runs. Its id, keys and initial values come in its shard_slice.
struct shard_config {
  scheduler_actor scheduler;
  /// This process's shared memory board; may be null (the shard then never
  /// takes part in Hogwild! in place).
  std::shared_ptr<local_node> node;
  /// Test hook: faults injected on purpose (null: none).
  std::shared_ptr<const fault_plan> faults;
};

/// State of a server shard actor.
struct server_shard_state {
  /// A synchronous push waiting for its commit.
  struct pending_push {
    uint64_t clock = 0;
    uint64_t rows = 0;
    uint64_t version = 0;
    shared_floats values;
  };

  shard_config cfg;
  /// From the slice.
  bool has_slice = false;
  uint64_t job = 0;
  uint32_t id = 0;
  std::shared_ptr<shard_memory> mem;
  /// The registered workers by id (from the roster).
  std::vector<caf::actor> roster;
  mode_rules rules = rules_of(consistency::bsp);
  float lr = 0;
  staleness_remedy remedy = staleness_remedy::none;
  float dc_lambda = 0;
  /// DC-ASGD: per worker, the values of the versions it pulled last (the
  /// w_then of its next pushes), newest last.
  std::vector<std::vector<std::pair<uint64_t, shared_floats>>> backups;
  /// Pushes whose version had no backup left (not compensated).
  uint64_t uncompensated = 0;
  std::vector<std::optional<pending_push>> pending;
  /// Per worker: its pushes with a clock up to this one are late (sbp).
  std::vector<uint64_t> drop_until;
  /// Per worker: the highest clock whose push was applied.
  std::vector<uint64_t> applied;
  /// Per worker: the highest clock of a push received; one received again
  /// is a duplicate.
  std::vector<uint64_t> received;
  std::vector<float> mean;
  /// The values of version snapshot_version, shared by every pull of it.
  shared_floats snapshot;
  uint64_t snapshot_version = UINT64_MAX;
  shard_stats stats;
  /// The fault plan's dice for this shard (test hook).
  fault_dice dice;
  /// A slowed shard: when it is free again, and the replies it holds back
  /// until then, by token.
  std::chrono::steady_clock::time_point busy_until;
  std::map<uint64_t, std::pair<caf::typed_response_promise<uint64_t>, uint64_t>>
    held;
  uint64_t next_token = 0;
  /// A checkpoint request waiting for pushes still on their way (see
  /// checkpoint_request), and the clocks it waits for.
  std::optional<caf::typed_response_promise<shard_state>> cut;
  std::vector<uint64_t> cut_received;

  static inline const char* name = "paramserv.server_shard";
};

using server_shard_pointer
  = server_shard_internal::stateful_pointer<server_shard_state>;

/// The server shard behaviour: registers with its scheduler at once, takes
/// the slice it gets back, then serves pushes and pulls of the registered
/// workers. It stops when the scheduler does.
server_shard_internal::behavior_type server_shard(
  server_shard_pointer self, shard_config cfg);

} // namespace paramserv
