#include "apps/node_options.hpp"

#include <cstdio>

#include "actors/net/secret.hpp"
#include "apps/job_options.hpp"

namespace po = boost::program_options;

namespace paramserv::app {

po::options_description describe_network(network_cli& c) {
  po::options_description desc("Network options", 100, 50);
  // clang-format off
  desc.add_options()
    ("tls-cert", po::value(&c.tls_cert), "this node's certificate (PEM)")
    ("tls-key", po::value(&c.tls_key), "this node's private key (PEM)")
    ("tls-ca", po::value(&c.tls_ca),
     "the cluster's certificate authority (PEM): peers must hold a "
     "certificate it signed")
    ("secret-file", po::value(&c.secret_file),
     "a file only its owner may read holding the cluster secret: joiners "
     "prove they hold it (challenge and HMAC) before they get any of the "
     "job")
    ("heartbeat", po::value(&c.heartbeat)->default_value(c.heartbeat),
     "seconds between heartbeats of connected nodes")
    ("connection-timeout",
     po::value(&c.connection_timeout)->default_value(c.connection_timeout),
     "seconds of silence after which a peer node counts as gone")
    ("join-timeout", po::value(&c.join_timeout)->default_value(c.join_timeout),
     "seconds the scheduler waits for every shard and worker to register, "
     "and a joiner keeps trying to reach the scheduler");
  // clang-format on
  return desc;
}

network_options to_network_options(const network_cli& c) {
  network_options net;
  net.tls_cert = c.tls_cert;
  net.tls_key = c.tls_key;
  net.tls_ca = c.tls_ca;
  net.heartbeat
    = std::chrono::milliseconds(timeout_ms("--heartbeat", c.heartbeat));
  net.connection_timeout = std::chrono::milliseconds(
    timeout_ms("--connection-timeout", c.connection_timeout));
  timeout_ms("--join-timeout", c.join_timeout);
  try {
    validate(net);
  } catch (const std::invalid_argument& e) {
    throw usage_error(e.what());
  }
  if (!c.secret_file.empty()) {
    try {
      net.secret = read_secret_file(c.secret_file);
    } catch (const std::runtime_error& e) {
      throw usage_error(std::string{"--secret-file "} + e.what());
    }
  }
  return net;
}

std::vector<std::string> network_args(const network_cli& c) {
  std::vector<std::string> args;
  auto add = [&](const char* flag, const std::string& value) {
    if (!value.empty()) {
      args.push_back(flag);
      args.push_back(value);
    }
  };
  auto number = [](double x) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.17g", x);
    return std::string{buf};
  };
  add("--tls-cert", c.tls_cert);
  add("--tls-key", c.tls_key);
  add("--tls-ca", c.tls_ca);
  add("--secret-file", c.secret_file);
  add("--heartbeat", number(c.heartbeat));
  add("--connection-timeout", number(c.connection_timeout));
  add("--join-timeout", number(c.join_timeout));
  return args;
}

po::options_description describe_launch(launch_cli& c) {
  po::options_description desc("Launch options", 100, 50);
  // clang-format off
  desc.add_options()
    ("server-nodes", po::value(&c.server_nodes)->default_value(c.server_nodes),
     "launch: server processes (the job's --shards are spread over them)")
    ("worker-nodes", po::value(&c.worker_nodes)->default_value(c.worker_nodes),
     "launch: worker processes (the job's --workers are spread over them; "
     "0: one per worker)")
    ("max-restarts", po::value(&c.max_restarts)->default_value(c.max_restarts),
     "launch: server or worker processes restarted when they die, in all "
     "(a restarted server node replaces its lost shards, which needs "
     "--checkpoint-dir; a restarted worker node takes its workers' places)");
  // clang-format on
  return desc;
}

} // namespace paramserv::app
