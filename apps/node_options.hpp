#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "actors/net/cluster.hpp"

// The flags of `paramserv node` and `paramserv launch` beyond the job's:
// how nodes reach each other, and how launch lays out a cluster.

namespace paramserv::app {

/// Network flags, as parsed.
struct network_cli {
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  std::string secret_file;
  double heartbeat = 0.5;
  double connection_timeout = 5;
  double join_timeout = 60;
};

/// --tls-cert, --tls-key, --tls-ca, --secret-file, --heartbeat,
/// --connection-timeout, --join-timeout, bound to `c`.
boost::program_options::options_description describe_network(network_cli& c);

/// The flags as network_options: validated, the secret read.
/// @throws usage_error naming the flag (or std::runtime_error naming the
///         secret file).
network_options to_network_options(const network_cli& c);

/// The same flags again, for a node that `paramserv launch` starts.
std::vector<std::string> network_args(const network_cli& c);

/// Launch flags, as parsed.
struct launch_cli {
  size_t server_nodes = 1;
  /// 0: one per worker (the job's --workers).
  size_t worker_nodes = 0;
  /// Server or worker processes restarted after they die, in all.
  size_t max_restarts = 0;
};

/// --server-nodes, --worker-nodes, bound to `c`. `paramserv node` reads
/// them too (and ignores them), so one INI file serves both commands.
boost::program_options::options_description describe_launch(launch_cli& c);

} // namespace paramserv::app
