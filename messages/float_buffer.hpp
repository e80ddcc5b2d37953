#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/deserializer.hpp>
#include <caf/error.hpp>
#include <caf/sec.hpp>
#include <caf/serializer.hpp>

namespace paramserv {

/// Largest float buffer a message may carry (1 GiB of floats); a peer that
/// announces more is refused before anything is allocated.
constexpr uint64_t max_message_floats = uint64_t{1} << 28;

/// Wraps a float vector so that inspect() writes it as its length plus raw
/// bytes (host order; paramserv clusters are little-endian x86), 20-50x
/// faster than CAF's element-wise serialisation (CAF-NOTES.md, section 3).
struct float_buffer {
  std::vector<float>& xs;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, float_buffer x) {
  if constexpr (std::is_base_of_v<caf::serializer, Inspector>) {
    uint64_t n = x.xs.size();
    if (auto err = f(n))
      return err;
    return n > 0 ? f.apply_raw(n * sizeof(float), x.xs.data()) : caf::error{};
  } else if constexpr (std::is_base_of_v<caf::deserializer, Inspector>) {
    uint64_t n = 0;
    if (auto err = f(n))
      return err;
    if (n > max_message_floats)
      return caf::make_error(
        caf::sec::invalid_argument, "float buffer too large");
    // No more floats than the message's bytes could hold (known to the
    // binary deserializer, which CAF hands on as a plain deserializer&).
    if (auto* bin = dynamic_cast<caf::binary_deserializer*>(&f))
      if (n > bin->remaining() / sizeof(float))
        return caf::make_error(caf::sec::invalid_argument,
          "float buffer of " + std::to_string(n) + " floats in "
            + std::to_string(bin->remaining()) + " bytes");
    x.xs.resize(n);
    return n > 0 ? f.apply_raw(n * sizeof(float), x.xs.data()) : caf::error{};
  } else {
    // Logs and to_string: the length, not a megabyte of numbers.
    uint64_t n = x.xs.size();
    return f(caf::meta::type_name("floats"), n);
  }
}

/// An immutable float buffer that many messages share: copying one copies a
/// pointer. A shard answers every pull of one version with the same buffer
/// (CAF passes messages between actors of one process without serialising
/// them); across the network it travels as a float_buffer does. Never
/// null: the default is an empty buffer.
class shared_floats {
public:
  shared_floats() : ptr_(nothing()) {}

  /// Takes `xs` into a buffer of its own (implicit: a message is built
  /// from a vector as from a braced list).
  shared_floats(std::vector<float> xs)
    : ptr_(std::make_shared<std::vector<float>>(std::move(xs))) {}

  /// Makes this hold a copy of `xs`: in its own buffer when this handle is
  /// the buffer's only one (no message holds it any more, so nobody can see
  /// it change), else in a new buffer. Reusing the buffer spares a large
  /// model the allocation and page faults of a fresh one per version.
  void refill(const std::vector<float>& xs) {
    if (ptr_.use_count() == 1) {
      // The last other holder released its handle (an atomic decrement
      // with release order) before this saw the count of 1: its reads of
      // the buffer happen before the writes below.
      std::atomic_thread_fence(std::memory_order_acquire);
      ptr_->assign(xs.begin(), xs.end());
    } else {
      ptr_ = std::make_shared<std::vector<float>>(xs);
    }
  }

  const std::vector<float>& get() const {
    return *ptr_;
  }

  size_t size() const {
    return ptr_->size();
  }

  bool empty() const {
    return ptr_->empty();
  }

  float operator[](size_t i) const {
    return (*ptr_)[i];
  }

  const float* data() const {
    return ptr_->data();
  }

  /// Equal contents, bit for bit (NaN payloads and -0.0f included).
  friend bool operator==(const shared_floats& x, const shared_floats& y) {
    return x.size() == y.size()
           && (x.size() == 0
               || std::memcmp(x.data(), y.data(), x.size() * sizeof(float))
                    == 0);
  }

private:
  // Shared by every default-constructed buffer; the static copy keeps its
  // count above 1, so refill never writes into it.
  static const std::shared_ptr<std::vector<float>>& nothing() {
    static const auto result = std::make_shared<std::vector<float>>();
    return result;
  }

  std::shared_ptr<std::vector<float>> ptr_;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shared_floats& x) {
  if constexpr (std::is_base_of_v<caf::deserializer, Inspector>) {
    std::vector<float> xs;
    if (auto err = f(float_buffer{xs}))
      return err;
    x = shared_floats{std::move(xs)};
    return caf::error{};
  } else {
    // The serializer only reads the bytes; the buffer stays shared.
    return f(float_buffer{const_cast<std::vector<float>&>(x.get())});
  }
}

} // namespace paramserv
