#include "linalg/core/parameter_set.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace paramserv {

template <class T>
basic_parameter_set<T>::basic_parameter_set(std::vector<tensor_shape> shapes)
  : shapes_(std::move(shapes)) {
  size_t total = 0;
  offsets_.reserve(shapes_.size());
  for (auto& s : shapes_) {
    offsets_.push_back(total);
    total += s.size();
  }
  buf_.assign(total, T{0});
  bind();
}

template <class T>
basic_parameter_set<T>::basic_parameter_set(const basic_parameter_set& other)
  : shapes_(other.shapes_), offsets_(other.offsets_), buf_(other.buf_) {
  bind();
}

template <class T>
basic_parameter_set<T>::basic_parameter_set(
  basic_parameter_set&& other) noexcept
  : shapes_(std::move(other.shapes_)), offsets_(std::move(other.offsets_)),
    buf_(std::move(other.buf_)) {
  bind();
  other.views_.clear();
}

template <class T>
basic_parameter_set<T>& basic_parameter_set<T>::operator=(
  const basic_parameter_set& other) {
  if (this != &other) {
    shapes_ = other.shapes_;
    offsets_ = other.offsets_;
    buf_ = other.buf_;
    bind();
  }
  return *this;
}

template <class T>
basic_parameter_set<T>& basic_parameter_set<T>::operator=(
  basic_parameter_set&& other) noexcept {
  if (this != &other) {
    shapes_ = std::move(other.shapes_);
    offsets_ = std::move(other.offsets_);
    buf_ = std::move(other.buf_);
    bind();
    other.views_.clear();
  }
  return *this;
}

template <class T>
void basic_parameter_set<T>::bind() {
  // The views alias buf_; reserve first so that emplace_back never moves a
  // view (moving or copying an arma::Mat that uses auxiliary memory would
  // detach it from the buffer).
  views_.clear();
  views_.reserve(shapes_.size());
  for (size_t i = 0; i < shapes_.size(); ++i)
    views_.emplace_back(
      buf_.data() + offsets_[i], shapes_[i].rows, shapes_[i].cols, false, true);
}

template <class T>
void basic_parameter_set<T>::assign(std::span<const T> xs) {
  if (xs.size() != buf_.size())
    throw std::invalid_argument("parameter_set::assign: size mismatch");
  std::copy(xs.begin(), xs.end(), buf_.begin());
}

template <class T>
void basic_parameter_set<T>::zeros() {
  std::fill(buf_.begin(), buf_.end(), T{0});
}

template class basic_parameter_set<float>;
template class basic_parameter_set<double>;

std::vector<key_range> split_keys(
  const std::vector<tensor_shape>& shapes, size_t max_key_size) {
  std::vector<key_range> keys;
  size_t offset = 0;
  for (uint32_t t = 0; t < shapes.size(); ++t) {
    auto& s = shapes[t];
    if (s.size() <= max_key_size || s.cols <= 1) {
      keys.push_back({t, offset, s.size()});
    } else {
      // Cut into ranges of whole columns, as even as possible.
      size_t cols_per_key = std::max<size_t>(1, max_key_size / s.rows);
      size_t pieces = (s.cols + cols_per_key - 1) / cols_per_key;
      size_t base = s.cols / pieces;
      size_t extra = s.cols % pieces;
      size_t col = 0;
      for (size_t p = 0; p < pieces; ++p) {
        size_t n = base + (p < extra ? 1 : 0);
        keys.push_back({t, offset + col * s.rows, n * s.rows});
        col += n;
      }
    }
    offset += s.size();
  }
  return keys;
}

size_t default_key_size(
  const std::vector<tensor_shape>& shapes, size_t shards) {
  size_t total = 0;
  for (auto& s : shapes)
    total += s.size();
  size_t even = (total + shards - 1) / std::max<size_t>(shards, 1);
  return std::max<size_t>(1, (even + 3) / 4);
}

std::vector<uint32_t> assign_keys(
  const std::vector<key_range>& keys, size_t shards) {
  if (shards == 0)
    throw std::invalid_argument("assign_keys: zero shards");
  std::vector<size_t> order(keys.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return keys[a].length > keys[b].length;
  });
  std::vector<size_t> load(shards, 0);
  std::vector<uint32_t> result(keys.size(), 0);
  for (auto k : order) {
    auto lightest = std::min_element(load.begin(), load.end()) - load.begin();
    result[k] = static_cast<uint32_t>(lightest);
    load[lightest] += keys[k].length;
  }
  return result;
}

} // namespace paramserv
