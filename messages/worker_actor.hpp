#pragma once

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"

namespace paramserv {

/// A worker: `start` makes it join its scheduler and train until told to
/// stop; `step` is its own continuation message (a worker drives itself).
using worker_actor
  = caf::typed_actor<caf::reacts_to<start_atom>, caf::reacts_to<step_atom>>;

} // namespace paramserv
