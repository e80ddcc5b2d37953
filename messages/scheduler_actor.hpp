#pragma once

#include <cstdint>
#include <string>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/control_messages.hpp"

namespace paramserv {

struct registration;

/// The scheduler: hands out the job and enforces the consistency mode.
/// - hello: the sender gets a nonce to prove, in its registration, that it
///   holds the cluster secret (needed only when the scheduler has one);
/// - register: a shard or worker asks to take part (the sender is the
///   actor registering); it gets its slice as a message (see
///   job_messages.hpp);
/// - clock: worker `id` finished clock `c` (its pushes were acknowledged)
///   and asks for the next; the grant comes as a message when the active
///   mode allows it;
/// - epoch: a worker finished an epoch; the next plan comes as a message
///   when every live worker finished and the model was validated;
/// - progress: a worker's rows and loss since its last report;
/// - run: starts the job; the sender gets each epoch's metrics, log lines,
///   progress totals, and at the end a run_result (or a caf::error).
/// Messages naming a worker id must come from the worker registered under
/// it; others are refused with errc::bad_sender and counted.
using scheduler_actor
  = caf::typed_actor<caf::replies_to<hello_atom>::with<std::string>,
    caf::reacts_to<register_atom, registration>,
    caf::reacts_to<clock_atom, uint32_t, uint64_t>,
    caf::reacts_to<epoch_atom, epoch_report>,
    caf::reacts_to<progress_atom, progress_report>, caf::reacts_to<run_atom>>;

/// The scheduler's whole interface: the public one plus `tick`, its own
/// timer (it forwards the progress totals to whoever ran the job), and
/// `deadline`, the end of the time it waits for the job's shards and
/// workers to register (true) or, once the job ended, to stop (false). Checked
/// at run time too: either from anyone else is refused.
using scheduler_internal = scheduler_actor::extend<caf::reacts_to<tick_atom>,
  caf::reacts_to<deadline_atom, bool>>;

} // namespace paramserv
