// Hogwild! (Niu et al. 2011).
//
//   in one process:  worker --(relaxed atomic read-modify-write)--> shard
//                    memory; no push, no clock request, no lock
//   across processes: no shared memory, so the workers push and the
//                    scheduler grants every clock at once (asp)
//
// The scheduler's part is the same as asp's: it only meets the workers at
// the epoch barrier.

#include "actors/consistency/modes.hpp"

namespace paramserv {

scheduler_internal::behavior_type hogwild(scheduler_pointer self) {
  return asp(self);
}

} // namespace paramserv
