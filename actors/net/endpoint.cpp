#include "actors/net/endpoint.hpp"

#include <arpa/inet.h>

#include <stdexcept>

namespace paramserv {

endpoint parse_endpoint(const std::string& text) {
  auto bad = [&](const char* why) {
    return std::invalid_argument(
      "\"" + text + "\" is not HOST:PORT (" + why + ")");
  };
  auto colon = text.rfind(':');
  if (colon == std::string::npos)
    throw bad("no port");
  endpoint result;
  result.host = text.substr(0, colon);
  if (result.host.size() >= 2 && result.host.front() == '['
      && result.host.back() == ']')
    result.host = result.host.substr(1, result.host.size() - 2);
  else if (result.host.find(':') != std::string::npos)
    throw bad("an IPv6 host goes in brackets");
  if (result.host.empty())
    throw bad("no host");
  auto digits = text.substr(colon + 1);
  if (digits.empty() || digits.size() > 5
      || digits.find_first_not_of("0123456789") != std::string::npos)
    throw bad("the port is not a number");
  auto port = std::stoul(digits);
  if (port > 65535)
    throw bad("the port is above 65535");
  result.port = static_cast<uint16_t>(port);
  return result;
}

std::string to_string(const endpoint& ep) {
  if (ep.host.find(':') != std::string::npos)
    return "[" + ep.host + "]:" + std::to_string(ep.port);
  return ep.host + ":" + std::to_string(ep.port);
}

bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1")
    return true;
  in_addr addr;
  if (inet_pton(AF_INET, host.c_str(), &addr) == 1)
    return (ntohl(addr.s_addr) >> 24) == 127;
  in6_addr addr6;
  if (inet_pton(AF_INET6, host.c_str(), &addr6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&addr6);
  return false;
}

} // namespace paramserv
