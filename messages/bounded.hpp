#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

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
    x.xs.resize(n);
    return detail::apply_elements(f, x.xs);
  } else {
    return f(x.xs); // to_string and logs: as CAF prints it
  }
}

} // namespace paramserv
