#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>

#include "linalg/core/parameter_set.hpp"
#include "linalg/train/consistency.hpp"
#include "linalg/train/train_options.hpp"
#include "messages/fields.hpp"
#include "messages/server_shard_actor.hpp"

// A job as messages: what the scheduler hands out when shards and workers
// register, so that any node, in this process or another, can take part.
//
//   shard  --register(server)--> scheduler --shard_slice--> shard
//   worker --register(worker)--> scheduler      (held until every shard
//                                                and worker registered)
//   scheduler --roster--> every shard   --worker_slice--> every worker
//
// Every field has a fixed width; every vector and string a bounded length.

namespace paramserv {

/// Version of the messages below; a node that registers with another
/// version is refused.
constexpr uint32_t protocol_version = 5;

/// Where a worker's training data comes from: a file every node can read,
/// and how to read and scale it. The rows it owns travel in its
/// worker_slice.
struct data_source {
  static constexpr const char* type_name = "data_source";

  /// What load_dataset reads; empty when the data set exists only in the
  /// memory of the process that started the job (then only workers of that
  /// process can take part).
  std::string path;
  /// A data_format name, or empty to infer it from the path.
  std::string format;
  /// load_options: classes, features, CSV label column, CSV header (0
  /// detect, 1 none, 2 present).
  uint32_t classes = 0;
  uint64_t features = 0;
  uint64_t label_column = 0;
  uint8_t csv_header = 0;
  /// The feature transform fitted on the training set (x' = (x - shift) *
  /// scale), applied after loading; empty: none.
  std::vector<float> shift;
  std::vector<float> scale;
  /// Rows the loaded set must have (so every node reads the same data).
  uint64_t rows = 0;

  auto fields() {
    return std::tie(path, format, classes, features, label_column, csv_header,
      shift, scale, rows);
  }
  friend bool operator==(const data_source&, const data_source&) = default;
};

/// Timeouts of the requests that are answered at once, per kind, in
/// milliseconds. Requests the protocol holds on purpose (a clock grant, the
/// next epoch's plan, a slice of the job) are not requests but messages:
/// they wait as long as the monitored peers they wait for live.
struct request_timeouts {
  static constexpr const char* type_name = "request_timeouts";

  /// A worker's push to a shard. Default: 60 s.
  uint32_t push_ms = 60000;
  /// A worker's or the scheduler's pull from a shard. Default: 60 s.
  uint32_t pull_ms = 60000;
  /// The scheduler's mode, commit, stats and roster requests to a shard.
  /// Default: 60 s.
  uint32_t control_ms = 60000;

  auto fields() {
    return std::tie(push_ms, pull_ms, control_ms);
  }
  friend bool operator==(const request_timeouts&, const request_timeouts&)
    = default;
};

/// The whole job: what `paramserv train` builds from its options.
struct job_spec {
  static constexpr const char* type_name = "job_spec";

  /// The run's identity: random, never derived from the seed.
  uint64_t job = 0;
  train_options opts;
  mode_schedule modes = {mode_switch{}};
  update_frequency freq = update_frequency::batch;
  /// Batches per push with update_frequency::nbatches.
  uint64_t nbatches = 1;
  uint32_t shards = 1;
  uint32_t workers = 1;
  data_source data;
  request_timeouts timeouts;
  /// How often a worker reports its progress, in milliseconds.
  uint32_t progress_ms = 100;

  auto fields() {
    return std::tie(job, opts, modes, freq, nbatches, shards, workers, data,
      timeouts, progress_ms);
  }
  friend bool operator==(const job_spec&, const job_spec&) = default;
};

enum class node_role : uint8_t { server, worker };

template <>
struct enum_names<node_role> {
  static constexpr std::string_view what = "role";
  static constexpr std::array table{
    std::pair{node_role::server, "server"},
    std::pair{node_role::worker, "worker"},
  };
};

/// Shard or worker -> scheduler: asks to take part. The scheduler assigns
/// the id (in order of registration) and answers with a slice.
struct registration {
  static constexpr const char* type_name = "registration";

  node_role role = node_role::worker;
  /// Names the process (and machine) the actor runs in, for logs and to
  /// tell which actors share memory.
  std::string node;
  /// Whether the actor can share the memory of the shards of its node
  /// (Hogwild! in place needs every shard and worker on one node to).
  bool shares_memory = false;
  uint32_t protocol = protocol_version;
  /// The registering node's paramserv version (runtime_version()): nodes of
  /// one job run the same release.
  std::string version;
  /// A shard's data-path address, "HOST:PORT", where its node listens for
  /// workers; empty when it shares a process with the scheduler or has no
  /// network.
  std::string endpoint;
  /// With a cluster secret: HMAC-SHA256 of the nonce the scheduler gave
  /// this actor (hello_atom), keyed with the secret (hex). Else empty.
  std::string proof;

  auto fields() {
    return std::tie(
      role, node, shares_memory, protocol, version, endpoint, proof);
  }
  friend bool operator==(const registration&, const registration&) = default;
};

/// Scheduler -> shard: what a shard needs: its id, its keys' initial
/// values (in key order) and the update rule.
struct shard_slice {
  static constexpr const char* type_name = "shard_slice";

  uint64_t job = 0;
  uint32_t id = 0;
  /// Workers of the job (ids 0 .. workers-1).
  uint32_t workers = 0;
  std::vector<float> values;
  optimizer_options optimizer;
  /// A resumed job: the shard's version and its update rule's state from
  /// the checkpoint (optimizer_state); zero and empty for a fresh start.
  uint64_t version = 0;
  uint64_t steps = 0;
  std::vector<float> state;
  /// After a lost shard, per worker: the clock its last push before the
  /// halt had. A push with a clock up to it belongs to abandoned work and
  /// is acknowledged without being applied. Empty: none.
  std::vector<uint64_t> fences;

  auto fields() {
    return std::tie(
      job, id, workers, values, optimizer, version, steps, state, fences);
  }
  friend bool operator==(const shard_slice&, const shard_slice&) = default;
};

/// Scheduler -> worker: the job, the worker's id and rows, the shard map
/// (keys and their owners) and the shards.
struct worker_slice {
  static constexpr const char* type_name = "worker_slice";

  job_spec spec;
  uint32_t id = 0;
  /// Indices of the worker's rows in the data source.
  std::vector<uint32_t> rows;
  std::vector<key_range> keys;
  std::vector<uint32_t> owner;
  std::vector<server_shard_actor> shards;
  /// Per shard, the address its node listens on (registration::endpoint):
  /// a worker connects to each before training, so that its pushes and
  /// pulls go to the shard's node directly instead of through the
  /// scheduler's. Empty entries need no connection.
  std::vector<std::string> endpoints;

  auto fields() {
    return std::tie(spec, id, rows, keys, owner, shards, endpoints);
  }
  friend bool operator==(const worker_slice&, const worker_slice&) = default;
};

/// Scheduler -> worker: rows of a lost worker's partition it takes over
/// (--on-worker-loss reassign): `now`, still to train in the current epoch,
/// and `later`, from the next epoch on (with `now`, which stays in its
/// partition too).
struct row_handover {
  static constexpr const char* type_name = "row_handover";

  uint64_t job = 0;
  std::vector<uint32_t> now;
  std::vector<uint32_t> later;

  auto fields() {
    return std::tie(job, now, later);
  }
  friend bool operator==(const row_handover&, const row_handover&) = default;
};

/// Scheduler -> worker: shard `shard` was lost and replaced by `handle`
/// (listening at `endpoint`, empty: none), whose state the scheduler
/// restored from a checkpoint. The worker connects to its node if it must
/// and answers once it can reach it.
struct shard_moved {
  static constexpr const char* type_name = "shard_moved";

  uint64_t job = 0;
  uint32_t shard = 0;
  server_shard_actor handle;
  std::string endpoint;

  auto fields() {
    return std::tie(job, shard, handle, endpoint);
  }
  friend bool operator==(const shard_moved&, const shard_moved&) = default;
};

/// Scheduler -> shard: the registered workers by id, so that the shard
/// refuses a push or pull naming a worker from anyone else.
struct worker_roster {
  static constexpr const char* type_name = "worker_roster";

  uint64_t job = 0;
  std::vector<caf::actor> workers;

  auto fields() {
    return std::tie(job, workers);
  }
  friend bool operator==(const worker_roster&, const worker_roster&) = default;
};

// The inspect of linalg's plain structs (found by argument-dependent
// lookup). Their size_t fields travel as uint64_t, the same type on every
// platform paramserv builds for.
static_assert(std::is_same_v<size_t, uint64_t>,
  "size_t fields of job messages travel as uint64_t");

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_spec& x) {
  return f(caf::meta::type_name("model_spec"), detail::on_wire(x.kind),
    x.inputs, detail::on_wire(x.hidden), x.classes, detail::on_wire(x.act));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, optimizer_options& x) {
  using detail::on_wire;
  return f(caf::meta::type_name("optimizer_options"), on_wire(x.kind),
    on_wire(x.momentum), on_wire(x.beta1), on_wire(x.beta2), on_wire(x.epsilon),
    on_wire(x.weight_decay));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lr_schedule& x) {
  using detail::on_wire;
  return f(caf::meta::type_name("lr_schedule"), on_wire(x.kind),
    on_wire(x.base), x.step_epochs, on_wire(x.gamma), x.epochs);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, validation_options& x) {
  using detail::on_wire;
  return f(caf::meta::type_name("validation_options"), on_wire(x.fraction),
    on_wire(x.target_accuracy), x.patience, x.every);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, train_options& x) {
  return f(caf::meta::type_name("train_options"), x.model, x.optimizer,
    x.schedule, x.batch_size, x.epochs, x.seed, detail::on_wire(x.scheme),
    x.validation, detail::on_wire(x.scaling), detail::on_wire(x.warmup_epochs),
    detail::on_wire(x.remedy), detail::on_wire(x.dc_lambda), x.asp_pipelining);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mode_setting& x) {
  return f(
    caf::meta::type_name("mode_setting"), detail::on_wire(x.mode), x.param);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mode_switch& x) {
  return f(caf::meta::type_name("mode_switch"), x.mode, x.epoch);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, key_range& x) {
  return f(caf::meta::type_name("key_range"), x.tensor, x.offset, x.length);
}

} // namespace paramserv
