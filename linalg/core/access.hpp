#pragma once

#include <atomic>

namespace paramserv {

/// How an update rule reads and writes parameter and state memory.
///
/// `plain_access` is ordinary loads and stores (vectorisable); it requires
/// that nobody else touches the memory meanwhile. `relaxed_access` uses
/// `std::atomic_ref<float>` with relaxed order, so that several Hogwild!
/// workers may update the same memory at once without a data race in the
/// C++ sense: each element is read and written atomically, but a
/// read-modify-write of one worker can overwrite another's (lost updates are
/// the Hogwild! bargain, Niu et al. 2011).
struct plain_access {
  static float load(const float* p) {
    return *p;
  }

  static void store(float* p, float x) {
    *p = x;
  }
};

struct relaxed_access {
  static float load(const float* p) {
    // atomic_ref needs a non-const referent; the load does not modify it.
    return std::atomic_ref<float>{*const_cast<float*>(p)}.load(
      std::memory_order_relaxed);
  }

  static void store(float* p, float x) {
    std::atomic_ref<float>{*p}.store(x, std::memory_order_relaxed);
  }
};

} // namespace paramserv
