#pragma once

#include <caf/fwd.hpp>

namespace paramserv {

/// Registers every message type paramserv's actors exchange with `cfg`
/// (needed on every node for remote messaging in CAF 0.17), and the
/// "paramserv" error category's renderer. Embedders call it too.
void add_message_types(caf::actor_system_config& cfg);

} // namespace paramserv
