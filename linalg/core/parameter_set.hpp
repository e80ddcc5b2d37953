#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <armadillo>

namespace paramserv {

/// Name and Armadillo shape of one tensor of a parameter set.
struct tensor_shape {
  std::string name;
  size_t rows = 0;
  size_t cols = 0;

  size_t size() const {
    return rows * cols;
  }

  friend bool operator==(const tensor_shape&, const tensor_shape&) = default;
};

/// The model's ordered list of named tensors, stored in ONE contiguous buffer
/// so that flattening is free: tensor i is an `arma::Mat<T>` view of
/// `flat()[offset(i) .. offset(i) + shape(i).size())`. Copies are deep.
/// Not thread-safe.
template <class T>
class basic_parameter_set {
public:
  basic_parameter_set() = default;

  /// Creates a zero-filled parameter set with the given layout.
  explicit basic_parameter_set(std::vector<tensor_shape> shapes);

  basic_parameter_set(const basic_parameter_set& other);
  basic_parameter_set(basic_parameter_set&& other) noexcept;
  basic_parameter_set& operator=(const basic_parameter_set& other);
  basic_parameter_set& operator=(basic_parameter_set&& other) noexcept;

  /// Number of tensors.
  size_t count() const {
    return shapes_.size();
  }

  /// Total number of elements.
  size_t size() const {
    return buf_.size();
  }

  const std::vector<tensor_shape>& shapes() const {
    return shapes_;
  }

  const tensor_shape& shape(size_t i) const {
    return shapes_[i];
  }

  /// Offset of tensor i in the flat buffer.
  size_t offset(size_t i) const {
    return offsets_[i];
  }

  arma::Mat<T>& operator[](size_t i) {
    return views_[i];
  }

  const arma::Mat<T>& operator[](size_t i) const {
    return views_[i];
  }

  /// The whole parameter set as one contiguous buffer.
  std::span<T> flat() {
    return buf_;
  }

  std::span<const T> flat() const {
    return buf_;
  }

  /// Replaces the values with `xs`, which must hold size() elements.
  void assign(std::span<const T> xs);

  /// Sets every element to zero.
  void zeros();

  /// Returns a copy with elements converted to U.
  template <class U>
  basic_parameter_set<U> cast() const {
    basic_parameter_set<U> result{shapes_};
    auto out = result.flat();
    for (size_t i = 0; i < buf_.size(); ++i)
      out[i] = static_cast<U>(buf_[i]);
    return result;
  }

private:
  void bind();

  std::vector<tensor_shape> shapes_;
  std::vector<size_t> offsets_;
  std::vector<T> buf_;
  std::vector<arma::Mat<T>> views_;
};

using parameter_set = basic_parameter_set<float>;

/// One block of a parameter set: a contiguous range of the flat buffer that
/// covers a whole tensor or a range of its Armadillo columns (which are the
/// rows of the tensor as saved in C order, see model_io.hpp).
struct key_range {
  uint32_t tensor = 0;
  size_t offset = 0;
  size_t length = 0;

  friend bool operator==(const key_range&, const key_range&) = default;
};

/// Splits a layout into keys: tensors up to `max_key_size` elements stay
/// whole, larger ones are cut into column ranges of at most that many
/// elements (at least one column each). Keys are ordered by offset and
/// cover the buffer without gaps.
std::vector<key_range> split_keys(
  const std::vector<tensor_shape>& shapes, size_t max_key_size);

/// The key size split_keys should use so that `shards` shards can balance:
/// about a quarter of an even share of the elements.
size_t default_key_size(const std::vector<tensor_shape>& shapes, size_t shards);

/// Assigns each key to one of `shards` shards so that element counts
/// balance (largest key first onto the least loaded shard; ties go to the
/// lower shard id). Returns the shard of each key.
std::vector<uint32_t> assign_keys(
  const std::vector<key_range>& keys, size_t shards);

} // namespace paramserv
