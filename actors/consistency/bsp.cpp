// Bulk synchronous parallel.
//
//   worker w: push(c) -> clock(c) ---- held ----+
//                                               |  every live, active worker
//   scheduler:                                  +- holds clock c: commit c
//                                                  (shards apply the mean)
//                                               +- all shards acked: grant
//   workers: pull -> compute c+1 ...
//
// A worker that has no batches left in the epoch is not active, so it is
// not waited for.

#include "actors/consistency/modes.hpp"

namespace paramserv {

scheduler_internal::behavior_type bsp(scheduler_pointer self) {
  return detail::scheduler_behavior(self, [=] {
    auto& st = self->state;
    if (st.committing)
      return;
    std::vector<uint32_t> waiting;
    for (uint32_t w = 0; w < st.slots.size(); ++w) {
      auto& slot = st.slots[w];
      if (!slot.live || !slot.active)
        continue;
      if (!slot.clock_wait)
        return; // someone is still computing
      waiting.push_back(w);
    }
    if (!waiting.empty())
      detail::commit(self, std::move(waiting), {});
  });
}

} // namespace paramserv
