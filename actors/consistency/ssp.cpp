// Stale synchronous parallel with staleness bound s (Ho et al. 2013).
//
//   worker w finished c clocks, asks for c+1:
//     c - min(active clocks) <= s  --> granted now
//     otherwise                    --> held until the slowest catches up
//
// Pushes are applied on arrival. The largest gap granted is recorded, and
// by construction never exceeds s; s = 0 gates like bsp.

#include "actors/consistency/modes.hpp"

namespace paramserv {

scheduler_internal::behavior_type ssp(
  scheduler_pointer self, size_t staleness) {
  return detail::scheduler_behavior(self, [=] {
    auto& st = self->state;
    auto slowest = detail::min_active_clock(st);
    for (uint32_t w = 0; w < st.slots.size(); ++w) {
      auto& slot = st.slots[w];
      if (slot.clock_wait && slot.epoch_clock - slowest <= staleness)
        detail::grant(self, w);
    }
  });
}

} // namespace paramserv
