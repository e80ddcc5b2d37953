#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/io/middleman_actor.hpp>

#include "actors/net/endpoint.hpp"
#include "messages/scheduler_actor.hpp"

namespace caf {
class actor_system;
class actor_system_config;
} // namespace caf

// A node of a cluster: an actor system with CAF's network layer, that
// publishes a scheduler or joins one. The shards, workers and scheduler in
// it are the same actors as in the local backend.

namespace paramserv {

/// How a node talks to the others.
struct network_options {
  /// Mutual TLS: PEM files of this node's certificate and key and of the
  /// cluster's certificate authority. All three, or none (plain TCP, which
  /// only a loopback listener accepts).
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  /// The cluster secret (read_secret_file); empty: none.
  std::string secret;
  /// Heartbeats between connected nodes, and how long a silent connection
  /// lives: a peer that is gone (its process stopped, its link cut) is
  /// noticed within about the timeout. Defaults: 500 ms and 5 s.
  std::chrono::milliseconds heartbeat{500};
  std::chrono::milliseconds connection_timeout{5000};

  bool tls() const {
    return !tls_cert.empty() || !tls_key.empty() || !tls_ca.empty();
  }
};

/// Checks `net` before any network is touched: all three TLS files or
/// none, the certificate and key readable, matching and in PEM, the
/// authority readable; a positive heartbeat below the connection timeout.
/// CAF aborts the process on a bad certificate; this says why instead.
/// @throws std::invalid_argument naming the flag and file.
void validate(const network_options& net);

/// Configures `cfg` for a node: configure_system(cfg, threads), CAF's
/// network layer (its TLS module too when net.tls()), heartbeats.
void configure_node(
  caf::actor_system_config& cfg, const network_options& net, size_t threads);

/// Publishes `whom` at `where` (port 0: the operating system picks one),
/// over TLS when the node has it. Refuses an address other than loopback
/// without TLS (CAF-NOTES.md, section 4: a plaintext listener lets any
/// peer make the node allocate gigabytes).
/// @returns the port it listens on.
/// @throws std::runtime_error naming the address.
uint16_t publish_at(
  caf::actor_system& sys, const scheduler_actor& whom, const endpoint& where);

/// The same for an untyped actor (a server node's door).
uint16_t publish_at(
  caf::actor_system& sys, const caf::actor& whom, const endpoint& where);

/// Connects to the scheduler published at `where`, over TLS when the node
/// has it, retrying with backoff (0.1 s doubling up to 2 s) while nobody
/// listens there, for at most `timeout`.
/// @throws std::runtime_error naming the address and the last reason.
scheduler_actor join_scheduler(caf::actor_system& sys, const endpoint& where,
  std::chrono::milliseconds timeout);

/// What this node's workers connect to other nodes with: the middleman,
/// or its TLS variant when the node has TLS.
caf::io::middleman_actor connector_of(caf::actor_system& sys);

/// "HOST:PID", which names a node in registrations and logs.
std::string node_name();

} // namespace paramserv
