#pragma once

#include <memory>
#include <string>

#include "actors/shard_memory.hpp"
#include "linalg/data/dataset.hpp"

namespace paramserv {

/// What actors spawned into one process may share beyond messages: an
/// optimisation behind the same protocol, never a second one. A worker
/// whose node holds the job's training set already loaded uses it instead
/// of reading the data source; workers and shards whose node has a board
/// can run Hogwild! in place (the scheduler plans it only when every shard
/// and worker registered from one such node). Actors without a node (or of
/// another process) use messages and their own disk.
struct local_node {
  /// Names the process in registrations and logs.
  std::string name = "local";
  /// The job's training set, loaded and transformed; may be null.
  std::shared_ptr<const dataset> train;
  /// The shards' memories by shard id, sized to the job's shard count; a
  /// shard puts its memory there when it gets its slice. May be null.
  std::shared_ptr<hogwild_board> board;
};

} // namespace paramserv
