// Hogwild!'s shared-memory path without the actor runtime, so that
// ThreadSanitizer (build with PARAMSERV_SANITIZERS=thread) judges exactly
// paramserv's code: Debian's CAF is not built for TSan, and its message
// passing would drown every report.

#include <doctest/doctest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "actors/shard_memory.hpp"
#include "linalg/optim/optimizer.hpp"
#include "linalg/core/shard_map.hpp"

using namespace paramserv;

TEST_CASE("hogwild workers update one shard memory concurrently without a "
          "data race") {
  std::vector<tensor_shape> shapes = {{"W1", 16, 300}, {"b1", 16, 1}};
  auto map = shard_map::make(shapes, 2);
  const size_t steps = 200;
  for (auto kind : {"sgd", "adam"}) {
    CAPTURE(kind);
    hogwild_board board;
    optimizer_options opts;
    opts.kind = kind;
    for (uint32_t s = 0; s < map.shards(); ++s) {
      auto mem = std::make_shared<shard_memory>();
      mem->values.assign(map.sizes[s], 1.0f);
      mem->opt = make_optimizer(opts, map.sizes[s]);
      board.shards.push_back(mem);
    }
    // Each thread does what a hogwild worker does per batch: snapshot every
    // shard with relaxed loads, then update it in place.
    auto work = [&](float sign) {
      std::vector<float> params(4800 + 16), grad(params.size()), slice;
      for (size_t t = 0; t < steps; ++t) {
        for (uint32_t s = 0; s < map.shards(); ++s)
          map.scatter<relaxed_access>(
            s, board.shards[s]->values.data(), params.data());
        for (size_t i = 0; i < grad.size(); ++i)
          grad[i] = sign * 0.01f * params[i];
        for (uint32_t s = 0; s < map.shards(); ++s) {
          auto& mem = *board.shards[s];
          slice.resize(map.sizes[s]);
          map.gather(s, grad.data(), slice.data());
          mem.opt->update_relaxed(mem.values, slice, 0.1f);
          mem.version.fetch_add(1, std::memory_order_relaxed);
        }
      }
    };
    std::thread a{work, 1.0f}, b{work, 0.5f};
    a.join();
    b.join();
    for (auto& mem : board.shards) {
      CHECK(mem->version.load() == 2 * steps);
      CHECK(mem->opt->steps() == 2 * steps);
      for (auto x : mem->values) {
        REQUIRE(std::isfinite(x));
        // Every update moves towards 0 (the gradient has the sign of w).
        REQUIRE(x < 1.0f);
      }
    }
  }
}
