#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <caf/error.hpp>

#include "actors/local_node.hpp"
#include "actors/net/secret.hpp"
#include "actors/runtime_info.hpp"
#include "messages/job_messages.hpp"
#include "messages/scheduler_actor.hpp"

namespace paramserv {

/// How long a registering actor waits for the scheduler's nonce; the
/// scheduler is monitored too, so a dead one is noticed sooner.
constexpr std::chrono::minutes hello_timeout{5};

/// Registers `self` (a shard or a worker) with `scheduler` as `role`,
/// naming its node, release and protocol; a shard also names the address
/// its node listens on. With a cluster secret in `node`, it first asks the
/// scheduler for a nonce and registers with the proof (never the secret).
/// The answer (a slice or an error) comes as a message; if the nonce does
/// not come, `self` quits with the error.
template <class Self>
void register_with(Self* self, const scheduler_actor& scheduler, node_role role,
  const std::shared_ptr<local_node>& node) {
  registration reg;
  reg.role = role;
  reg.node = node ? node->name : "";
  reg.shares_memory = node && node->board;
  reg.version = runtime_version();
  if (node && role == node_role::server)
    reg.endpoint = node->endpoint;
  if (!node || node->secret.empty()) {
    self->send(scheduler, register_atom::value, std::move(reg));
    return;
  }
  self->request(scheduler, hello_timeout, hello_atom::value)
    .then(
      [=](std::string& nonce) mutable {
        reg.proof = prove_secret(node->secret, nonce);
        self->send(scheduler, register_atom::value, std::move(reg));
      },
      [=](caf::error& err) {
        self->quit(err);
      });
}

} // namespace paramserv
