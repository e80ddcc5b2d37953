#pragma once

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>

#include "messages/add_message_types.hpp"

// Helpers shared by the actor tests; nothing here is part of paramserv.
namespace paramserv::test {

/// `cfg` with paramserv's message types, two scheduler threads and CAF's
/// logger quiet.
inline caf::actor_system_config& configured(caf::actor_system_config& cfg) {
  add_message_types(cfg);
  cfg.set("scheduler.max-threads", 2);
  cfg.set("logger.verbosity", caf::atom("quiet"));
  return cfg;
}

} // namespace paramserv::test
