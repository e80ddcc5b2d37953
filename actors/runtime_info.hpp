#pragma once

#include <chrono>
#include <string>

namespace paramserv {

/// Version of paramserv and of the CAF it was built against, e.g.
/// "paramserv 0.1.0 (CAF 0.17.6)".
std::string runtime_version();

/// A duration for messages: "30 s", "0.25 s".
std::string seconds_text(std::chrono::milliseconds t);

} // namespace paramserv
