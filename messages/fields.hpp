#pragma once

#include <concepts>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/bounded.hpp"
#include "messages/float_buffer.hpp"

namespace paramserv {

/// A message struct lists its fields once, and gets its `inspect` (CAF's
/// serialisation and to_string) from that list:
///
///     struct commit_request {
///       static constexpr const char* type_name = "commit_request";
///       uint64_t job = 0;
///       std::vector<uint32_t> workers;
///       auto fields() { return std::tie(job, workers); }
///     };
///
/// Float vectors travel as raw bytes (float_buffer); floats and doubles as
/// their IEEE 754 bits, other vectors and strings with a bounded length and
/// enums checked against their names (bounded.hpp); everything else as CAF
/// inspects it.
template <class T>
concept message_struct = requires(T& x) {
  { T::type_name } -> std::convertible_to<const char*>;
  x.fields();
};

namespace detail {

template <class T>
T& on_wire(T& x) {
  return x;
}

inline float_buffer on_wire(std::vector<float>& xs) {
  return float_buffer{xs};
}

template <class T>
bounded<std::vector<T>> on_wire(std::vector<T>& xs) {
  return {xs};
}

inline bounded<std::string> on_wire(std::string& str) {
  return {str};
}

template <class E>
requires std::is_enum_v<E> checked_enum<E> on_wire(E& x) {
  return {x};
}

inline ieee_bits<float> on_wire(float& x) {
  return {x};
}

inline ieee_bits<double> on_wire(double& x) {
  return {x};
}

} // namespace detail

template <class Inspector, message_struct T>
typename Inspector::result_type inspect(Inspector& f, T& x) {
  return std::apply(
    [&f](auto&... xs) {
      return f(caf::meta::type_name(T::type_name), detail::on_wire(xs)...);
    },
    x.fields());
}

} // namespace paramserv
