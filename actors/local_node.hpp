#pragma once

#include <memory>
#include <string>

#include <caf/io/middleman_actor.hpp>

#include "actors/shard_memory.hpp"
#include "linalg/data/dataset.hpp"

namespace paramserv {

/// What actors spawned into one process may share beyond messages: an
/// optimisation behind the same protocol, never a second one. A worker
/// whose node holds the job's training set already loaded uses it instead
/// of reading the data source; workers and shards whose node has a board
/// can run Hogwild! in place (the scheduler plans it only when every shard
/// and worker registered from one such node). Actors without a node (or of
/// another process) use messages and their own disk. A node of a cluster
/// also says how its actors reach other nodes.
struct local_node {
  /// Names the process in registrations and logs.
  std::string name = "local";
  /// The job's training set, loaded and transformed; may be null.
  std::shared_ptr<const dataset> train;
  /// The shards' memories by shard id, sized to the job's shard count; a
  /// shard puts its memory there when it gets its slice. May be null.
  std::shared_ptr<hogwild_board> board;
  /// Where this node listens for workers of other nodes ("HOST:PORT"); its
  /// shards register it. Empty: no listener (every worker is local).
  std::string endpoint;
  /// What a worker of this node connects to other nodes' shards with (the
  /// middleman, or its TLS variant). Null: no network.
  caf::io::middleman_actor connector;
  /// The cluster secret its shards and workers prove they hold when they
  /// register; empty if the cluster has none.
  std::string secret;
};

} // namespace paramserv
