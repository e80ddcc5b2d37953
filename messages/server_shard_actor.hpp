#pragma once

#include <cstdint>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/control_messages.hpp"
#include "messages/parameter_messages.hpp"

namespace paramserv {

struct shard_slice;
struct worker_roster;

/// A server shard: owns some keys of the model and their update-rule state.
/// From workers (each message names the worker; it must come from the
/// actor registered under that id):
/// - push: buffer (synchronous mode) or apply (asynchronous) a gradient;
///   replies with the shard's version;
/// - pull: the current values of its keys.
/// From the scheduler it registered with (anyone else is refused):
/// - shard_slice: its id, initial values and update rule;
/// - roster: the registered workers;
/// - commit: apply the buffered pushes of one synchronous clock;
/// - mode: how to apply pushes from now on, and the learning rate;
/// - stats: counters since the last stats request;
/// - checkpoint: its state (keys, version, update rule), once it received
///   the pushes the request names;
/// - done: the job (by id) ended well; the shard stops (normally);
/// - restore: go back to the state a checkpoint holds (another shard was
///   lost and the run goes on from that checkpoint).
using server_shard_actor
  = caf::typed_actor<caf::replies_to<push_atom, gradient_push>::with<uint64_t>,
    caf::replies_to<pull_atom, parameter_pull>::with<parameter_slice>,
    caf::reacts_to<shard_slice>,
    caf::replies_to<roster_atom, worker_roster>::with<uint64_t>,
    caf::replies_to<commit_atom, commit_request>::with<uint64_t>,
    caf::replies_to<mode_atom, shard_mode>::with<uint64_t>,
    caf::replies_to<stats_atom>::with<shard_stats>,
    caf::replies_to<checkpoint_atom, checkpoint_request>::with<shard_state>,
    caf::reacts_to<done_atom, uint64_t>,
    caf::replies_to<restore_atom, shard_slice>::with<uint64_t>>;

/// The shard's whole interface: the public one plus `later`, the timer of a
/// reply it holds back (a shard slowed down by a fault plan, see
/// actors/faults/fault_plan.hpp). The shard refuses a `later` that does not
/// come from itself.
using server_shard_internal
  = server_shard_actor::extend<caf::reacts_to<later_atom, uint64_t>>;

} // namespace paramserv
