#pragma once

#include <caf/actor_cast.hpp>
#include <caf/actor_control_block.hpp>

namespace paramserv {

/// Whether the message `self` is handling comes from `peer` (any actor
/// handle). Interfaces separate roles only at compile time, so every
/// message that names an id, and every internal one, is checked with this
/// at run time.
template <class Self, class Handle>
bool sent_by(Self* self, const Handle& peer) {
  auto sender = self->current_sender();
  return sender && sender == caf::actor_cast<caf::strong_actor_ptr>(peer);
}

} // namespace paramserv
