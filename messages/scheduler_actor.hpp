#pragma once

#include <cstdint>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/control_messages.hpp"
#include "messages/worker_actor.hpp"

namespace paramserv {

/// The scheduler: enforces the consistency mode.
/// - join: a worker (id, handle) joins; the reply is its first epoch plan,
///   sent once every worker joined and a run was requested;
/// - clock: worker `id` finished clock `c` (its pushes were acknowledged)
///   and asks to start the next one; the reply (the granted clock) comes
///   when the active mode allows it;
/// - epoch: a worker finished an epoch; the reply is the next epoch's plan,
///   sent when every live worker finished and the model was validated;
/// - run: starts the job; the reply is the result when training ends.
using scheduler_actor = caf::typed_actor<
  caf::replies_to<join_atom, uint32_t, worker_actor>::with<epoch_plan>,
  caf::replies_to<clock_atom, uint32_t, uint64_t>::with<uint64_t>,
  caf::replies_to<epoch_atom, epoch_report>::with<epoch_plan>,
  caf::replies_to<run_atom>::with<run_result>>;

} // namespace paramserv
