#pragma once

#include <cstddef>

#include "actors/scheduler.hpp"

namespace paramserv {

/// The scheduler's behaviour per consistency mode; the scheduler swaps them
/// with `become` (see README, "Modes", for the semantics).
scheduler_internal::behavior_type bsp(scheduler_pointer self);
scheduler_internal::behavior_type asp(scheduler_pointer self);
scheduler_internal::behavior_type ssp(scheduler_pointer self, size_t staleness);
scheduler_internal::behavior_type hogwild(scheduler_pointer self);
scheduler_internal::behavior_type sbp(scheduler_pointer self, size_t backups);

/// The behaviour of `m`.
scheduler_internal::behavior_type behavior_of(
  scheduler_pointer self, const mode_setting& m);

} // namespace paramserv
