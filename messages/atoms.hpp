#pragma once

#include <caf/atom.hpp>

namespace paramserv {

/// Every atom paramserv's actors speak (CAF 0.17: at most 10 characters).
using push_atom = caf::atom_constant<caf::atom("push")>;
using pull_atom = caf::atom_constant<caf::atom("pull")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using clock_atom = caf::atom_constant<caf::atom("clock")>;
using epoch_atom = caf::atom_constant<caf::atom("epoch")>;
using mode_atom = caf::atom_constant<caf::atom("mode")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using run_atom = caf::atom_constant<caf::atom("run")>;
using register_atom = caf::atom_constant<caf::atom("register")>;
using grant_atom = caf::atom_constant<caf::atom("grant")>;
using progress_atom = caf::atom_constant<caf::atom("progress")>;
using roster_atom = caf::atom_constant<caf::atom("roster")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using step_atom = caf::atom_constant<caf::atom("step")>;
using hello_atom = caf::atom_constant<caf::atom("hello")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;
using checkpoint_atom = caf::atom_constant<caf::atom("checkpoint")>;
using later_atom = caf::atom_constant<caf::atom("later")>;
using halt_atom = caf::atom_constant<caf::atom("halt")>;
using restore_atom = caf::atom_constant<caf::atom("restore")>;

} // namespace paramserv
