#pragma once

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"

namespace paramserv {

/// A worker, as others see it: `start` makes it join its scheduler and
/// train until told to stop.
using worker_actor = caf::typed_actor<caf::reacts_to<start_atom>>;

/// The worker's whole interface: the public one plus `step`, its own
/// continuation message (a worker drives itself). The split is a
/// compile-time one only (an actor_cast or a remote peer reaches the whole
/// interface), so the worker also refuses a `step` that does not come from
/// itself, with errc::out_of_order.
using worker_internal = worker_actor::extend<caf::reacts_to<step_atom>>;

} // namespace paramserv
