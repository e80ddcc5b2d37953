// Synchronous parallel with b backup workers (as in SystemDS).
//
//   k - b of the k active workers hold clock c --> commit c with those
//   the other b are late: their push of clock c --> dropped (counted)
//                         their clock request c --> granted once no
//                                                   commit is in flight
//
// With b = 0 this is bsp.

#include "actors/consistency/modes.hpp"

#include <algorithm>

namespace paramserv {

scheduler_internal::behavior_type sbp(scheduler_pointer self, size_t backups) {
  return detail::scheduler_behavior(self, [=] {
    auto& st = self->state;
    // Nothing is granted while a commit is in flight: a worker that pulled
    // then could read some shards before it and some after (the shards of
    // a cluster commit at different times).
    if (st.committing)
      return;
    // Late workers whose clock was committed without them go on.
    for (uint32_t w = 0; w < st.slots.size(); ++w) {
      auto& slot = st.slots[w];
      if (slot.clock_wait && slot.clock <= slot.late_until)
        detail::grant(self, w);
    }
    std::vector<uint32_t> waiting, late;
    size_t active = 0;
    for (uint32_t w = 0; w < st.slots.size(); ++w) {
      auto& slot = st.slots[w];
      if (!slot.live || !slot.active)
        continue;
      ++active;
      (slot.clock_wait ? waiting : late).push_back(w);
    }
    size_t needed = active > backups ? active - backups : 1;
    if (waiting.empty() || waiting.size() < needed)
      return;
    detail::commit(self, std::move(waiting), std::move(late));
  });
}

} // namespace paramserv
