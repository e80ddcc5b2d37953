#include "apps/commands.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/local_backend.hpp"
#include "actors/local_node.hpp"
#include "actors/net/cluster.hpp"
#include "actors/net/secret.hpp"
#include "actors/scheduler.hpp"
#include "actors/server_shard.hpp"
#include "actors/worker.hpp"
#include "apps/job_options.hpp"
#include "apps/node_options.hpp"
#include "linalg/core/blas_threads.hpp"
#include "messages/errc.hpp"

namespace po = boost::program_options;

namespace paramserv::app {

namespace {

struct node_cli {
  std::string roles;
  std::string listen = "127.0.0.1:0";
  std::string join;
  size_t local_shards = 1;
  size_t local_workers = 1;
  network_cli net;
  launch_cli launch;
};

po::options_description describe_node(node_cli& c) {
  po::options_description desc("Node options", 100, 50);
  // clang-format off
  desc.add_options()
    ("role", po::value(&c.roles),
     "what this node runs: scheduler, server, worker, or a comma list "
     "(e.g. server,worker)")
    ("listen", po::value(&c.listen)->default_value(c.listen),
     "HOST:PORT this node listens on: the scheduler's address, or where a "
     "server node's shards take workers' connections (port 0: picked by "
     "the system; an address other than loopback needs TLS)")
    ("join", po::value(&c.join),
     "HOST:PORT of the scheduler (nodes without the scheduler role)")
    ("local-shards", po::value(&c.local_shards)->default_value(c.local_shards),
     "server role: shards on this node (the job's --shards is the total)")
    ("local-workers",
     po::value(&c.local_workers)->default_value(c.local_workers),
     "worker role: workers on this node (the job's --workers is the "
     "total)");
  // clang-format on
  desc.add(describe_network(c.net));
  desc.add(describe_launch(c.launch));
  return desc;
}

std::chrono::milliseconds millis(const char* flag, double seconds) {
  return std::chrono::milliseconds(timeout_ms(flag, seconds));
}

struct roles {
  bool scheduler = false;
  bool server = false;
  bool worker = false;
};

roles parse_roles(const std::string& text) {
  roles result;
  size_t pos = 0;
  if (text.empty())
    throw usage_error("--role: missing (scheduler, server, worker or a "
                      "comma list)");
  while (pos <= text.size()) {
    auto comma = text.find(',', pos);
    auto name = text.substr(
      pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (name == "scheduler")
      result.scheduler = true;
    else if (name == "server")
      result.server = true;
    else if (name == "worker")
      result.worker = true;
    else
      throw usage_error("--role: unknown role \"" + name
                        + "\" (expected scheduler, server or worker)");
    if (comma == std::string::npos)
      break;
    pos = comma + 1;
  }
  return result;
}

endpoint endpoint_flag(const char* flag, const std::string& text) {
  try {
    return parse_endpoint(text);
  } catch (const std::invalid_argument& e) {
    throw usage_error(std::string{flag} + ": " + e.what());
  }
}

// This node's actors, and the door its shards' listener is published on.
struct node_actors {
  std::vector<server_shard_actor> shards;
  std::vector<worker_actor> workers;
  caf::actor door;
};

// A published actor that takes no messages: the door of a server node's
// listener, through which workers of other nodes connect to its shards.
//
// It takes the node's name only because CAF 0.17 dereferences a null
// argument tuple when it spawns a function that takes no arguments
// (init_fun_factory.hpp:85, reported by UBSan).
caf::behavior door_actor([[maybe_unused]] const std::string& node) {
  return {[](done_atom) {}};
}

// Spawns the server and worker roles of this node. Shards of a node
// without the scheduler listen at `listen` (workers connect there); those
// of the scheduler's node use the scheduler's listener.
node_actors spawn_roles(caf::actor_system& sys, const roles& r,
  const node_cli& cli, const scheduler_actor& scheduler,
  std::shared_ptr<local_node> node) {
  node_actors result;
  if (r.server && !r.scheduler) {
    auto where = endpoint_flag("--listen", cli.listen);
    if (where.host == "0.0.0.0" || where.host == "::")
      throw usage_error("--listen: give the address workers reach this node "
                        "at, not a wildcard");
    result.door = sys.spawn(door_actor, node->name);
    try {
      where.port = publish_at(sys, result.door, where);
    } catch (...) {
      // A published or living actor would keep the actor system alive.
      caf::anon_send_exit(result.door, caf::exit_reason::user_shutdown);
      throw;
    }
    node->endpoint = to_string(where);
  }
  if (r.server)
    for (size_t i = 0; i < cli.local_shards; ++i)
      result.shards.push_back(
        sys.spawn(server_shard, shard_config{scheduler, node}));
  if (r.worker)
    for (size_t i = 0; i < cli.local_workers; ++i) {
      worker_config wc;
      wc.scheduler = scheduler;
      wc.node = node;
      result.workers.push_back(sys.spawn(worker, std::move(wc)));
    }
  return result;
}

// Waits until every actor of `actors` stopped; returns the first abnormal
// reason (none if all ended well).
caf::error await_roles(caf::actor_system& sys, const node_actors& actors) {
  caf::scoped_actor self{sys};
  size_t left = 0;
  for (auto& s : actors.shards) {
    self->monitor(s);
    ++left;
  }
  for (auto& w : actors.workers) {
    self->monitor(w);
    ++left;
  }
  caf::error first;
  while (left > 0)
    self->receive([&](caf::down_msg& down) {
      --left;
      if (down.reason && down.reason != caf::exit_reason::normal && !first)
        first = down.reason;
    });
  return first;
}

void stop_door(node_actors& actors) {
  if (actors.door) {
    caf::anon_send_exit(actors.door, caf::exit_reason::user_shutdown);
    actors.door = nullptr;
  }
}

size_t default_threads(const roles& r, const node_cli& cli) {
  size_t need = (r.scheduler ? 1 : 0) + (r.server ? cli.local_shards : 0)
                + (r.worker ? cli.local_workers : 0);
  size_t cores = std::max(1u, std::thread::hardware_concurrency());
  return std::clamp<size_t>(need, 1, cores);
}

int run(int argc, char** argv) {
  node_cli ncli;
  train_cli cli;
  auto desc = describe_node(ncli);
  desc.add(describe_job(cli, false));
  po::variables_map vm;
  if (!parse_command_line("node", desc, argc, argv, vm))
    return 0;
  auto r = parse_roles(ncli.roles);
  if (r.scheduler && !ncli.join.empty())
    throw usage_error("--join: the scheduler's node joins nobody");
  if (!r.scheduler && ncli.join.empty())
    throw usage_error("--join: a node without the scheduler role needs the "
                      "scheduler's HOST:PORT");
  if (r.server && ncli.local_shards == 0)
    throw usage_error("--local-shards: must be positive");
  if (r.worker && ncli.local_workers == 0)
    throw usage_error("--local-workers: must be positive");
  auto net = to_network_options(ncli.net);
  auto join_timeout = millis("--join-timeout", ncli.net.join_timeout);
  auto listen = endpoint_flag("--listen", ncli.listen);
  if (!net.tls() && !is_loopback(listen.host) && (r.scheduler || r.server))
    throw usage_error(
      "--listen " + ncli.listen
      + ": a listener on an address other than loopback needs mutual TLS "
        "(--tls-cert, --tls-key, --tls-ca; paramserv certs makes them)");
  // The job: only the scheduler's node reads it (the others get their
  // slices from the scheduler).
  train_options opts;
  local_options lopts;
  std::optional<loaded_data> data;
  if (r.scheduler) {
    opts = to_train_options(cli, vm);
    lopts = to_local_options(cli, vm);
    if (!lopts.faults.empty())
      throw usage_error("--inject-faults: only paramserv train --backend "
                        "local injects faults");
    try {
      validate(opts, lopts);
    } catch (const std::invalid_argument& e) {
      throw usage_error(e.what());
    }
    data = load_data(cli.data);
    opts.model.inputs = data->train.features();
    opts.model.classes = data->train.classes;
    try {
      validate(opts, lopts, data->train);
    } catch (const std::invalid_argument& e) {
      throw usage_error(e.what());
    }
  }
  set_blas_threads(1);
  caf::actor_system_config cfg;
  configure_node(
    cfg, net, cli.threads > 0 ? cli.threads : default_threads(r, ncli));
  caf::actor_system sys{cfg};
  auto node = std::make_shared<local_node>();
  node->name = node_name();
  node->connector = connector_of(sys);
  node->secret = net.secret;
  if (!r.scheduler) {
    auto scheduler
      = join_scheduler(sys, endpoint_flag("--join", ncli.join), join_timeout);
    auto actors = spawn_roles(sys, r, ncli, scheduler, node);
    std::string what;
    if (r.server)
      what
        += std::to_string(ncli.local_shards) + " shard(s)"
           + (node->endpoint.empty() ? "" : " listening on " + node->endpoint);
    if (r.worker)
      what += (what.empty() ? "" : " and ") + std::to_string(ncli.local_workers)
              + " worker(s)";
    std::printf("paramserv node %s: %s joined the scheduler at %s\n",
      node->name.c_str(), what.c_str(), ncli.join.c_str());
    std::fflush(stdout);
    auto err = await_roles(sys, actors);
    stop_door(actors);
    if (err) {
      std::fprintf(stderr, "paramserv node: error: %s\n",
        err == caf::exit_reason::remote_link_unreachable
          ? ("lost the scheduler at " + ncli.join
             + " (its node stopped or the link is down)")
              .c_str()
          : sys.render(err).c_str());
      return 1;
    }
    std::printf("paramserv node %s: the job ended\n", node->name.c_str());
    std::fflush(stdout);
    return 0;
  }
  // The scheduler's node: it has the training set loaded, so its own
  // workers use it and its own shards share their memory with them.
  auto spec = make_job_spec(opts, lopts, data->train);
  spec.data = source_of(cli.data, *data);
  run_report report{cli, opts, &lopts, *data, "cluster"};
  auto train = std::make_shared<const dataset>(std::move(data->train));
  std::shared_ptr<const dataset> test;
  if (data->test)
    test = std::make_shared<const dataset>(std::move(*data->test));
  node->train = train;
  node->board = std::make_shared<hogwild_board>();
  node->board->shards.resize(spec.shards);
  scheduler_config sc;
  sc.spec = spec;
  sc.test = test;
  if (validation_rows(opts.validation, train->size()) > 0)
    sc.validation
      = std::make_shared<const dataset>(validation_set(opts, *train));
  sc.join_timeout = join_timeout;
  sc.secret = net.secret;
  sc.checkpoint_dir = lopts.checkpoints.dir;
  sc.checkpoint_every
    = lopts.checkpoints.dir.empty() ? 0 : lopts.checkpoints.every;
  sc.checkpoint_seconds
    = lopts.checkpoints.dir.empty() ? 0 : lopts.checkpoints.seconds;
  sc.on_worker_loss = lopts.on_worker_loss;
  if (!lopts.checkpoints.resume.empty())
    sc.resume = std::make_shared<const resume_point>(
      read_checkpoint(sys, lopts.checkpoints.resume, spec));
  auto scheduler = sys.spawn(paramserv::scheduler, std::move(sc));
  node_actors actors;
  caf::error failure;
  try {
    listen.port = publish_at(sys, scheduler, listen);
    std::printf("paramserv node %s: scheduler listening on %s, waiting for "
                "%u shard(s) and %u worker(s)\n",
      node->name.c_str(), to_string(listen).c_str(), spec.shards, spec.workers);
    std::fflush(stdout);
    actors = spawn_roles(sys, r, ncli, scheduler, node);
    report.header();
    auto result = drive_job(sys, scheduler, opts.model, report.hooks());
    report.finish(result.history, result.params, *data, &result, result.stopped,
      result.target_s);
  } catch (const std::exception& e) {
    anon_send_exit(scheduler, caf::exit_reason::user_shutdown);
    for (auto& s : actors.shards)
      anon_send_exit(s, caf::exit_reason::user_shutdown);
    for (auto& w : actors.workers)
      anon_send_exit(w, caf::exit_reason::user_shutdown);
    stop_door(actors);
    throw;
  }
  // The scheduler stops once every shard and worker did (or after the
  // control timeout): the other nodes have their last messages then.
  {
    caf::scoped_actor self{sys};
    self->wait_for(scheduler);
  }
  await_roles(sys, actors);
  return 0;
}

} // namespace

int node_command(int argc, char** argv) {
  return run_command("node", run, argc, argv);
}

} // namespace paramserv::app
