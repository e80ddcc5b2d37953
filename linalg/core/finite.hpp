#pragma once

#include <cstdint>
#include <cstring>
#include <span>

namespace paramserv {

/// Whether every value is finite (no NaN, no infinity). NaN and infinity
/// have all exponent bits set; an OR over that test vectorises, unlike a
/// loop of std::isfinite with an early exit.
inline bool all_finite(std::span<const float> xs) {
  uint32_t bad = 0;
  const float* v = xs.data();
  for (size_t i = 0; i < xs.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, v + i, sizeof bits);
    bad |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}

} // namespace paramserv
