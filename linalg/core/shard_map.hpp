#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "linalg/core/access.hpp"
#include "linalg/core/parameter_set.hpp"

namespace paramserv {

/// Which keys each server shard owns, and how the model's flat parameter
/// buffer maps to each shard's own buffer (its keys' blocks one after the
/// other, in key order). Computed once per job; immutable afterwards, so
/// any number of threads may use one instance.
struct shard_map {
  std::vector<key_range> keys;
  /// Shard of each key.
  std::vector<uint32_t> owner;
  /// Keys of each shard, ascending.
  std::vector<std::vector<uint32_t>> keys_of;
  /// Elements of each shard.
  std::vector<size_t> sizes;

  /// Splits `shapes` into keys (default_key_size) and balances them over
  /// `shards` shards.
  /// @throws std::invalid_argument if there are more shards than keys.
  static shard_map make(const std::vector<tensor_shape>& shapes, size_t shards);

  /// Rebuilds a map from its keys and their owners (as it travels in a
  /// message), checking it against the model layout `shapes`: keys tile
  /// the flat buffer in order without gaps or overlaps, and each of the
  /// `shards` shards owns at least one key.
  /// @throws std::invalid_argument naming what does not fit.
  static shard_map from(std::vector<key_range> keys,
    std::vector<uint32_t> owner, size_t shards,
    const std::vector<tensor_shape>& shapes);

  size_t shards() const {
    return keys_of.size();
  }

  /// Copies shard `s`'s blocks of `flat` into `out` (sizes[s] elements),
  /// storing through `Access`.
  template <class Access = plain_access>
  void gather(uint32_t s, const float* flat, float* out) const {
    for (auto k : keys_of[s]) {
      auto& key = keys[k];
      const float* from = flat + key.offset;
      if constexpr (std::is_same_v<Access, plain_access>) {
        std::memcpy(out, from, key.length * sizeof(float));
      } else {
        for (size_t i = 0; i < key.length; ++i)
          Access::store(out + i, from[i]);
      }
      out += key.length;
    }
  }

  /// Copies shard `s`'s buffer `in` into its blocks of `flat`, loading
  /// through `Access`.
  template <class Access = plain_access>
  void scatter(uint32_t s, const float* in, float* flat) const {
    for (auto k : keys_of[s]) {
      auto& key = keys[k];
      float* to = flat + key.offset;
      if constexpr (std::is_same_v<Access, plain_access>) {
        std::memcpy(to, in, key.length * sizeof(float));
      } else {
        for (size_t i = 0; i < key.length; ++i)
          to[i] = Access::load(in + i);
      }
      in += key.length;
    }
  }

  /// Lengths of shard `s`'s keys, in order.
  std::vector<uint32_t> lengths_of(uint32_t s) const;
};

} // namespace paramserv
