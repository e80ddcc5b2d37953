#include <doctest/doctest.h>

#include <numeric>

#include "linalg/core/parameter_set.hpp"

using namespace paramserv;

namespace {

std::vector<tensor_shape> mlp_layout() {
  return {{"W1", 200, 784}, {"b1", 200, 1}, {"W2", 10, 200}, {"b2", 10, 1}};
}

} // namespace

TEST_CASE("tensors are views of one flat buffer") {
  parameter_set p{mlp_layout()};
  CHECK(p.count() == 4);
  CHECK(p.size() == 200 * 784 + 200 + 2000 + 10);
  p[2](3, 4) = 7.0f;
  // Column-major: element (3, 4) of W2 is at offset(2) + 4 * 10 + 3.
  CHECK(p.flat()[p.offset(2) + 43] == 7.0f);
  p.flat()[p.offset(3) + 9] = -1.0f;
  CHECK(p[3](9, 0) == -1.0f);
}

TEST_CASE("copies are deep and moves keep the views bound") {
  parameter_set a{mlp_layout()};
  a[0](0, 0) = 1.0f;
  parameter_set b = a;
  b[0](0, 0) = 2.0f;
  CHECK(a[0](0, 0) == 1.0f);
  CHECK(b.flat()[0] == 2.0f);
  parameter_set c = std::move(b);
  c[1](5, 0) = 3.0f;
  CHECK(c.flat()[c.offset(1) + 5] == 3.0f);
  a = c;
  CHECK(a[1](5, 0) == 3.0f);
  a[1](5, 0) = 4.0f;
  CHECK(c[1](5, 0) == 3.0f);
  CHECK(a.flat()[a.offset(1) + 5] == 4.0f);
}

TEST_CASE("keys cover the buffer and large tensors split by columns") {
  auto shapes = mlp_layout();
  auto keys = split_keys(shapes, 20000);
  size_t next = 0;
  for (auto& k : keys) {
    CHECK(k.offset == next);
    CHECK(k.length <= std::max<size_t>(20000, shapes[k.tensor].rows));
    CHECK(k.length % shapes[k.tensor].rows == 0); // whole columns
    next += k.length;
  }
  CHECK(next == 200 * 784 + 200 + 2000 + 10);
  // W1 (156800 elements) is cut; the small tensors stay whole.
  CHECK(keys.size() > 4);
  CHECK(keys.back().length == 10);
}

TEST_CASE("keys are assigned so that shard loads balance") {
  auto shapes = mlp_layout();
  for (size_t shards : {1, 2, 3, 4}) {
    CAPTURE(shards);
    auto keys = split_keys(shapes, default_key_size(shapes, shards));
    auto owner = assign_keys(keys, shards);
    std::vector<size_t> load(shards, 0);
    size_t largest = 0;
    for (size_t i = 0; i < keys.size(); ++i) {
      load[owner[i]] += keys[i].length;
      largest = std::max(largest, keys[i].length);
    }
    auto [lo, hi] = std::minmax_element(load.begin(), load.end());
    CHECK(*lo > 0);
    // Greedy largest-first: loads differ by at most the largest key.
    CHECK(*hi - *lo <= largest);
    CHECK(*hi <= 1.3 * (159010.0 / shards));
  }
}
