#include "linalg/core/shard_map.hpp"

#include <stdexcept>
#include <string>

namespace paramserv {

shard_map shard_map::make(
  const std::vector<tensor_shape>& shapes, size_t shards) {
  shard_map result;
  result.keys = split_keys(shapes, default_key_size(shapes, shards));
  if (shards > result.keys.size())
    throw std::invalid_argument("more shards (" + std::to_string(shards)
                                + ") than parameter keys ("
                                + std::to_string(result.keys.size()) + ")");
  result.owner = assign_keys(result.keys, shards);
  result.keys_of.resize(shards);
  result.sizes.assign(shards, 0);
  for (uint32_t k = 0; k < result.keys.size(); ++k) {
    result.keys_of[result.owner[k]].push_back(k);
    result.sizes[result.owner[k]] += result.keys[k].length;
  }
  return result;
}

std::vector<uint32_t> shard_map::lengths_of(uint32_t s) const {
  std::vector<uint32_t> result;
  for (auto k : keys_of[s])
    result.push_back(static_cast<uint32_t>(keys[k].length));
  return result;
}

} // namespace paramserv
