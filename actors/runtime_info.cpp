#include "actors/runtime_info.hpp"

#include <cstdio>

#include <caf/config.hpp>

namespace paramserv {

std::string runtime_version() {
  constexpr int v = CAF_VERSION;
  return "paramserv 0.1.0 (CAF " + std::to_string(v / 10000) + "."
         + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100) + ")";
}

std::string seconds_text(std::chrono::milliseconds t) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g s", t.count() / 1000.0);
  return buf;
}

} // namespace paramserv
