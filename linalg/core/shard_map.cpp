#include "linalg/core/shard_map.hpp"

#include <stdexcept>
#include <string>

namespace paramserv {

namespace {

// Fills keys_of and sizes from keys and owner.
void index_owners(shard_map& result, size_t shards) {
  result.keys_of.assign(shards, {});
  result.sizes.assign(shards, 0);
  for (uint32_t k = 0; k < result.keys.size(); ++k) {
    result.keys_of[result.owner[k]].push_back(k);
    result.sizes[result.owner[k]] += result.keys[k].length;
  }
}

} // namespace

shard_map shard_map::make(
  const std::vector<tensor_shape>& shapes, size_t shards) {
  shard_map result;
  result.keys = split_keys(shapes, default_key_size(shapes, shards));
  if (shards > result.keys.size())
    throw std::invalid_argument("more shards (" + std::to_string(shards)
                                + ") than parameter keys ("
                                + std::to_string(result.keys.size()) + ")");
  result.owner = assign_keys(result.keys, shards);
  index_owners(result, shards);
  return result;
}

shard_map shard_map::from(std::vector<key_range> keys,
  std::vector<uint32_t> owner, size_t shards,
  const std::vector<tensor_shape>& shapes) {
  if (keys.size() != owner.size())
    throw std::invalid_argument("shard map: " + std::to_string(keys.size())
                                + " keys but " + std::to_string(owner.size())
                                + " owners");
  size_t total = 0;
  for (auto& shape : shapes)
    total += shape.size();
  size_t offset = 0;
  for (size_t k = 0; k < keys.size(); ++k) {
    auto& key = keys[k];
    if (key.offset != offset || key.length == 0 || key.length > total - offset
        || key.tensor >= shapes.size())
      throw std::invalid_argument(
        "shard map: key " + std::to_string(k) + " does not fit the model");
    if (owner[k] >= shards)
      throw std::invalid_argument("shard map: key " + std::to_string(k)
                                  + " owned by unknown shard "
                                  + std::to_string(owner[k]));
    offset += key.length;
  }
  if (offset != total)
    throw std::invalid_argument("shard map: keys cover "
                                + std::to_string(offset) + " of the model's "
                                + std::to_string(total) + " parameters");
  shard_map result;
  result.keys = std::move(keys);
  result.owner = std::move(owner);
  index_owners(result, shards);
  for (size_t s = 0; s < shards; ++s)
    if (result.sizes[s] == 0)
      throw std::invalid_argument(
        "shard map: shard " + std::to_string(s) + " owns no key");
  return result;
}

std::vector<uint32_t> shard_map::lengths_of(uint32_t s) const {
  std::vector<uint32_t> result;
  for (auto k : keys_of[s])
    result.push_back(static_cast<uint32_t>(keys[k].length));
  return result;
}

} // namespace paramserv
