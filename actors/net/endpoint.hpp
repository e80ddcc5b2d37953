#pragma once

#include <cstdint>
#include <string>

namespace paramserv {

/// A network address as the command line and registrations spell it:
/// "HOST:PORT", with an IPv6 host in brackets ("[::1]:7400").
struct endpoint {
  std::string host;
  uint16_t port = 0;
};

/// Parses "HOST:PORT" (port 0 means: picked by the operating system).
/// @throws std::invalid_argument naming `text` if it is not of that form.
endpoint parse_endpoint(const std::string& text);

/// "HOST:PORT" again (IPv6 hosts in brackets).
std::string to_string(const endpoint& ep);

/// Whether `host` names the loopback interface only: "localhost", an
/// address in 127.0.0.0/8, or "::1".
bool is_loopback(const std::string& host);

} // namespace paramserv
