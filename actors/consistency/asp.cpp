// Asynchronous parallel: no gate.
//
//   worker w: push(c) --> applied on arrival
//             clock(c) --> granted at once
//
// hogwild.cpp: Hogwild! (Niu et al. 2011) is asp without messages: in one
// process the workers update the shards' memory in place and send no clock
// requests at all; across processes it is exactly asp.

#include "actors/consistency/modes.hpp"

namespace paramserv {

scheduler_internal::behavior_type asp(scheduler_pointer self) {
  return detail::scheduler_behavior(self, [=] {
    auto& st = self->state;
    for (uint32_t w = 0; w < st.slots.size(); ++w)
      if (st.slots[w].clock_wait)
        detail::grant(self, w);
  });
}

scheduler_internal::behavior_type behavior_of(
  scheduler_pointer self, const mode_setting& m) {
  switch (m.mode) {
    case consistency::bsp:
      return bsp(self);
    case consistency::asp:
      return asp(self);
    case consistency::ssp:
      return ssp(self, m.param);
    case consistency::hogwild:
      return hogwild(self);
    case consistency::sbp:
      return sbp(self, m.param);
  }
  return bsp(self);
}

} // namespace paramserv
