// The learning-rate factor of the synchronous modes, with its warm-up, and
// the staleness-divided rate.

#include <doctest/doctest.h>

#include <cmath>

#include "linalg/optim/parallel_lr.hpp"

using namespace paramserv;

TEST_CASE("the linear and sqrt scaling rules and their warm-up give the "
          "documented factors") {
  // No warm-up: k, sqrt(k) or 1 from the start.
  CHECK(lr_factor(lr_scaling::linear, 4, 0, 0) == 4.0);
  CHECK(lr_factor(lr_scaling::sqrt, 4, 0, 0) == 2.0);
  CHECK(lr_factor(lr_scaling::none, 4, 0, 0) == 1.0);
  CHECK(lr_factor(lr_scaling::linear, 1, 0, 0) == 1.0);
  // Warm-up over 2 epochs: from 1 linearly to the full factor.
  CHECK(lr_factor(lr_scaling::linear, 4, 2, 0) == 1.0);
  CHECK(lr_factor(lr_scaling::linear, 4, 2, 0.5) == 1.75);
  CHECK(lr_factor(lr_scaling::linear, 4, 2, 1) == 2.5);
  CHECK(lr_factor(lr_scaling::linear, 4, 2, 2) == 4.0);
  CHECK(lr_factor(lr_scaling::linear, 4, 2, 7.5) == 4.0);
  CHECK(lr_factor(lr_scaling::sqrt, 9, 1, 0.5) == 2.0);
  CHECK(lr_factor(lr_scaling::none, 9, 1, 0.5) == 1.0);
}

TEST_CASE("a push of staleness s under divide gets lr / s") {
  CHECK(stale_lr(staleness_remedy::divide, 0.6f, 0) == 0.6f);
  CHECK(stale_lr(staleness_remedy::divide, 0.6f, 1) == 0.6f);
  CHECK(stale_lr(staleness_remedy::divide, 0.6f, 3) == 0.6f / 3.0f);
  CHECK(stale_lr(staleness_remedy::none, 0.6f, 3) == 0.6f);
  CHECK(stale_lr(staleness_remedy::dc, 0.6f, 3) == 0.6f);
  float g[2] = {0.5f, -2.0f};
  float now[2] = {1.0f, 1.0f};
  float then[2] = {0.0f, 2.0f};
  compensate_delay(g, now, then, 2, 0.5f);
  CHECK(g[0] == 0.5f + 0.5f * 0.25f * 1.0f);
  CHECK(g[1] == -2.0f + 0.5f * 4.0f * -1.0f);
}
