#pragma once

#include <cstdint>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/control_messages.hpp"
#include "messages/parameter_messages.hpp"

namespace paramserv {

/// A server shard: owns some keys of the model and their update-rule state.
/// - push: buffer (synchronous mode) or apply (asynchronous) a gradient;
///   replies with the shard's version;
/// - pull: the current values of its keys;
/// - commit: apply the buffered pushes of one synchronous clock;
/// - mode: switch between synchronous and asynchronous application and set
///   the learning rate;
/// - stats: counters since the last stats request.
using server_shard_actor
  = caf::typed_actor<caf::replies_to<push_atom, gradient_push>::with<uint64_t>,
    caf::replies_to<pull_atom, parameter_pull>::with<parameter_slice>,
    caf::replies_to<commit_atom, commit_request>::with<uint64_t>,
    caf::replies_to<mode_atom, shard_mode>::with<uint64_t>,
    caf::replies_to<stats_atom>::with<shard_stats>>;

} // namespace paramserv
