#pragma once

#include <cstdint>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/control_messages.hpp"

namespace paramserv {

struct worker_slice;
struct row_handover;
struct shard_moved;

/// A worker, as others see it. Everything comes from the scheduler it
/// registered with (a message from anyone else is refused with
/// errc::bad_sender and counted):
/// - worker_slice: its part of the job (id, rows, shards);
/// - epoch_plan: train an epoch (or stop);
/// - grant: (job, clock) its clock request was granted;
/// - row_handover: rows of a lost worker it takes over;
/// - halt: (job) a shard was lost: drop the current epoch's work and wait;
///   answers with its clock (every push it sent has a clock up to it);
/// - shard_moved: the shard's replacement, answered once it is reachable;
/// - checkpoint: (job) where it is in its epoch, for a checkpoint cut while
///   it waits at a clock boundary (worker_position).
/// They are messages, not replies: the scheduler holds them as long as the
/// mode says, and both sides monitor each other instead of timing out.
using worker_actor = caf::typed_actor<caf::reacts_to<worker_slice>,
  caf::reacts_to<epoch_plan>, caf::reacts_to<grant_atom, uint64_t, uint64_t>,
  caf::reacts_to<row_handover>,
  caf::replies_to<halt_atom, uint64_t>::with<uint64_t>,
  caf::reacts_to<shard_moved>,
  caf::replies_to<checkpoint_atom, uint64_t>::with<worker_position>>;

/// The worker's whole interface: the public one plus `step`, its own
/// continuation message (a worker drives itself), and `later`, a request it
/// put off (a delayed or lost one, see actors/faults/fault_plan.hpp). The
/// split is a compile-time one only (an actor_cast or a remote peer reaches
/// the whole interface), so the worker also refuses either when it does
/// not come from itself, with errc::bad_sender.
using worker_internal = worker_actor::extend<caf::reacts_to<step_atom>,
  caf::reacts_to<later_atom, uint64_t>>;

} // namespace paramserv
