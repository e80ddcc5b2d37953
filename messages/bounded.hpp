#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "linalg/core/names.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/deserializer.hpp>
#include <caf/error.hpp>
#include <caf/sec.hpp>
#include <caf/serializer.hpp>

namespace paramserv {

/// Most elements a vector in a message may hold (other than float
/// buffers, see float_buffer.hpp), and most characters of a string: a peer
/// that announces more is refused before anything is allocated.
constexpr uint64_t max_message_elements = uint64_t{1} << 24;
constexpr uint64_t max_message_chars = uint64_t{1} << 20;

/// Wraps a vector or string of a message so that its inspect checks the
/// length the bytes claim before resizing: CAF 0.17's deserializer resizes
/// a container to whatever length it reads (CAF-NOTES.md, section 4), so
/// one forged length could make a node allocate gigabytes. Vectors of
/// integers go as raw bytes (host order, like float_buffer); other
/// elements through their own inspect.
template <class Container>
struct bounded {
  Container& xs;
};

namespace detail {

// The fewest bytes an element of `Container` takes on the wire: its size for
// integers (a raw block), else at least one byte.
template <class Container>
constexpr uint64_t wire_size() {
  using value_type = typename Container::value_type;
  return std::is_integral_v<value_type> ? sizeof(value_type) : 1;
}

// From a binary deserializer, refuses `n` elements of at least `bytes`
// bytes each when fewer bytes are left: a length field cannot make a node
// allocate more than the message it came in could fill.
template <class Inspector>
caf::error check_remaining(Inspector& f, uint64_t n, uint64_t bytes) {
  // CAF hands nested fields a plain deserializer&; the bytes left are known
  // only to the binary one (what messages between nodes go through).
  if (auto* bin = dynamic_cast<caf::binary_deserializer*>(&f))
    if (n > bin->remaining() / bytes)
      return caf::make_error(caf::sec::invalid_argument,
        "message field of " + std::to_string(n) + " elements in "
          + std::to_string(bin->remaining()) + " bytes");
  return caf::error{};
}

// Elements of a bounded vector: strings bounded too, the rest as they are.
template <class T>
T& bounded_element(T& x) {
  return x;
}

inline bounded<std::string> bounded_element(std::string& x) {
  return {x};
}

// The elements of `xs`, already sized: integers as one raw block, others
// one by one.
template <class Inspector, class Container>
caf::error apply_elements(Inspector& f, Container& xs) {
  using value_type = typename Container::value_type;
  if constexpr (std::is_integral_v<value_type>) {
    return xs.empty() ? caf::error{}
                      : f.apply_raw(xs.size() * sizeof(value_type), xs.data());
  } else {
    for (auto& elem : xs)
      if (auto err = f(bounded_element(elem)))
        return err;
    return caf::error{};
  }
}

} // namespace detail

template <class Inspector, class Container>
typename Inspector::result_type inspect(Inspector& f, bounded<Container> x) {
  constexpr uint64_t limit = std::is_same_v<Container, std::string>
                               ? max_message_chars
                               : max_message_elements;
  if constexpr (std::is_base_of_v<caf::serializer, Inspector>) {
    uint64_t n = x.xs.size();
    if (auto err = f(n))
      return err;
    return detail::apply_elements(f, x.xs);
  } else if constexpr (std::is_base_of_v<caf::deserializer, Inspector>) {
    uint64_t n = 0;
    if (auto err = f(n))
      return err;
    if (n > limit)
      return caf::make_error(caf::sec::invalid_argument,
        "message field of " + std::to_string(n) + " elements (at most "
          + std::to_string(limit) + ")");
    if (auto err
        = detail::check_remaining(f, n, detail::wire_size<Container>()))
      return err;
    x.xs.resize(n);
    return detail::apply_elements(f, x.xs);
  } else {
    return f(x.xs); // to_string and logs: as CAF prints it
  }
}

/// Wraps an enum field of a message so that deserialising it refuses a
/// value that is not one of the enum's names (CAF 0.17 casts whatever
/// integer it reads). Needs an enum_names<E> table.
template <class E>
struct checked_enum {
  E& x;
};

template <class Inspector, class E>
typename Inspector::result_type inspect(Inspector& f, checked_enum<E> x) {
  using raw_type = std::underlying_type_t<E>;
  if constexpr (std::is_base_of_v<caf::deserializer, Inspector>) {
    raw_type raw{};
    if (auto err = f(raw))
      return err;
    for (auto& entry : enum_names<E>::table) {
      if (static_cast<raw_type>(entry.first) == raw) {
        x.x = entry.first;
        return caf::error{};
      }
    }
    return caf::make_error(caf::sec::invalid_argument,
      "message field: " + std::string{enum_names<E>::what} + " "
        + std::to_string(raw) + " does not exist");
  } else if constexpr (std::is_base_of_v<caf::serializer, Inspector>) {
    auto raw = static_cast<raw_type>(x.x);
    return f(raw);
  } else {
    std::string name{to_string(x.x)};
    return f(name);
  }
}

/// A float or double field that travels as its IEEE 754 bits (a uint32 or
/// uint64 in CAF's byte order). CAF 0.17 encodes floating-point values
/// with detail::pack754, which never returns for an infinity (its
/// normalising loop halves inf forever, hanging the sending thread) and
/// mangles NaN and subnormal values; a diverged loss or a hostile value
/// must neither hang a node nor change on the way.
template <class T>
requires std::is_floating_point_v<T>
struct ieee_bits {
  T& x;
};

template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, ieee_bits<T> x) {
  using bits_type = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  static_assert(sizeof(bits_type) == sizeof(T));
  if constexpr (std::is_base_of_v<caf::deserializer, Inspector>) {
    bits_type bits{};
    if (auto err = f(bits))
      return err;
    x.x = std::bit_cast<T>(bits);
    return caf::error{};
  } else if constexpr (std::is_base_of_v<caf::serializer, Inspector>) {
    auto bits = std::bit_cast<bits_type>(x.x);
    return f(bits);
  } else {
    return f(x.x);
  }
}

} // namespace paramserv
