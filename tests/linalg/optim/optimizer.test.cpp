// Update rules converge to a known optimum (cf. ensmallen's
// tests/momentum_sgd_test.cpp) and their state shards with the parameters.

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "linalg/optim/lr_schedule.hpp"
#include "linalg/optim/optimizer.hpp"

using namespace paramserv;

namespace {

// f(w) = 1/2 sum_i a_i (w_i - c_i)^2 + lambda/2 |w|^2 has its minimum at
// w_i = a_i c_i / (a_i + lambda).
struct quadratic {
  std::vector<float> a = {1.0f, 4.0f, 0.5f, 2.0f};
  std::vector<float> c = {3.0f, -2.0f, 1.0f, 0.5f};

  void gradient(const std::vector<float>& w, std::vector<float>& g) const {
    for (size_t i = 0; i < w.size(); ++i)
      g[i] = a[i] * (w[i] - c[i]);
  }

  std::vector<float> optimum(float lambda) const {
    std::vector<float> r(a.size());
    for (size_t i = 0; i < a.size(); ++i)
      r[i] = a[i] * c[i] / (a[i] + lambda);
    return r;
  }
};

float max_distance(const std::vector<float>& x, const std::vector<float>& y) {
  float d = 0;
  for (size_t i = 0; i < x.size(); ++i)
    d = std::max(d, std::abs(x[i] - y[i]));
  return d;
}

std::vector<float> minimise(optimizer_options opts, float lr, size_t steps) {
  quadratic f;
  auto opt = make_optimizer(opts, f.a.size());
  std::vector<float> w(f.a.size(), 0.0f), g(f.a.size());
  for (size_t t = 0; t < steps; ++t) {
    f.gradient(w, g);
    opt->update(w, g, lr);
  }
  CHECK(opt->steps() == steps);
  return w;
}

} // namespace

TEST_CASE("every update rule converges to the optimum of a quadratic") {
  struct setting {
    const char* kind;
    float lr;
    size_t steps;
  };
  for (auto s : {setting{"sgd", 0.1f, 400}, setting{"momentum", 0.05f, 400},
         setting{"nesterov", 0.05f, 400}, setting{"adagrad", 1.0f, 3000},
         setting{"adam", 0.02f, 3000}}) {
    CAPTURE(s.kind);
    for (float lambda : {0.0f, 0.5f}) {
      CAPTURE(lambda);
      optimizer_options opts;
      opts.kind = s.kind;
      opts.weight_decay = lambda;
      auto w = minimise(opts, s.lr, s.steps);
      CHECK(max_distance(w, quadratic{}.optimum(lambda)) < 1e-3f);
    }
  }
}

TEST_CASE("one step of each rule equals its textbook formula") {
  std::vector<float> g = {0.5f, -2.0f};
  auto step = [&](const char* k) {
    optimizer_options opts;
    opts.kind = k;
    std::vector<float> w = {1.0f, 1.0f};
    make_optimizer(opts, 2)->update(w, g, 0.1f);
    return w;
  };
  // sgd and momentum (v = g on the first step): w - lr g.
  CHECK(step("sgd")[1] == doctest::Approx(1.2f));
  CHECK(step("momentum")[1] == doctest::Approx(1.2f));
  // nesterov: w - lr (g + mu g) = 1 - 0.1 * 1.9 * g.
  CHECK(step("nesterov")[0] == doctest::Approx(1 - 0.095f));
  // adagrad: w - lr g / |g| ; adam (bias-corrected): w - lr sign(g).
  CHECK(step("adagrad")[0] == doctest::Approx(0.9f));
  CHECK(step("adam")[0] == doctest::Approx(0.9f));
  CHECK(step("adam")[1] == doctest::Approx(1.1f));
}

TEST_CASE("optimizer state shards with the parameters") {
  // Two shards, each owning the state of its half, take exactly the steps
  // one optimizer over the whole vector takes.
  for (auto k : {"momentum", "nesterov", "adagrad", "adam"}) {
    CAPTURE(k);
    optimizer_options opts;
    opts.kind = k;
    opts.weight_decay = 0.01f;
    quadratic f;
    auto whole = make_optimizer(opts, 4);
    auto lo = make_optimizer(opts, 2);
    auto hi = make_optimizer(opts, 2);
    std::vector<float> w1(4, 0.0f), w2(4, 0.0f), g(4);
    for (int t = 0; t < 50; ++t) {
      f.gradient(w1, g);
      whole->update(w1, g, 0.05f);
      f.gradient(w2, g);
      std::span<float> w2s{w2};
      std::span<const float> gs{g};
      lo->update(w2s.first(2), gs.first(2), 0.05f);
      hi->update(w2s.last(2), gs.last(2), 0.05f);
    }
    CHECK(w1 == w2);
  }
}

TEST_CASE("invalid optimizer options are refused") {
  optimizer_options opts;
  opts.momentum = 1.5f;
  CHECK_THROWS_WITH_AS(make_optimizer(opts, 1), doctest::Contains("momentum"),
    std::invalid_argument);
  opts = {};
  opts.weight_decay = -1.0f;
  CHECK_THROWS_WITH_AS(make_optimizer(opts, 1),
    doctest::Contains("weight decay"), std::invalid_argument);
}

TEST_CASE("learning-rate schedules follow their formulas") {
  lr_schedule s;
  s.base = 0.1f;
  CHECK(s.at(7) == doctest::Approx(0.1f));
  s.kind = lr_schedule_kind::step;
  s.step_epochs = 3;
  s.gamma = 0.5f;
  CHECK(s.at(2) == doctest::Approx(0.1f));
  CHECK(s.at(3) == doctest::Approx(0.05f));
  CHECK(s.at(6) == doctest::Approx(0.025f));
  s.kind = lr_schedule_kind::cosine;
  s.epochs = 4;
  CHECK(s.at(0) == doctest::Approx(0.1f));
  CHECK(s.at(2) == doctest::Approx(0.05f));
  CHECK(s.at(4) == doctest::Approx(0.0f));
  s.base = -1.0f;
  CHECK_THROWS_AS(s.validate(), std::invalid_argument);
}

TEST_CASE("a relaxed (Hogwild!) update equals a plain one in one thread") {
  // 1300 parameters: more than one staging block, and a partial last one.
  for (auto k : {"sgd", "momentum", "nesterov", "adagrad", "adam"}) {
    CAPTURE(k);
    optimizer_options opts;
    opts.kind = k;
    opts.weight_decay = 0.01f;
    auto plain = make_optimizer(opts, 1300);
    auto relaxed = make_optimizer(opts, 1300);
    std::vector<float> w1(1300), w2(1300), g(1300);
    for (size_t i = 0; i < g.size(); ++i) {
      w1[i] = w2[i] = 0.001f * static_cast<float>(i);
      g[i] = std::sin(static_cast<float>(i));
    }
    for (int t = 0; t < 5; ++t) {
      plain->update(w1, g, 0.01f);
      relaxed->update_relaxed(w2, g, 0.01f);
    }
    CHECK(w1 == w2);
    CHECK(relaxed->steps() == 5);
  }
}

namespace {

// A custom rule of update_rules.hpp's shape: sign descent, w <- w - lr
// sign(g), with a hyper-parameter of its own.
struct sign_descent {
  static constexpr size_t state_arrays = 0;

  float scale = 1.0f;

  void update(
    float* w, const float* g, float* const*, size_t n, float lr, size_t) const {
    for (size_t i = 0; i < n; ++i)
      w[i] -= scale * lr * static_cast<float>((g[i] > 0) - (g[i] < 0));
  }
};

} // namespace

TEST_CASE("a registered update rule is made by name, and refused by name once "
          "removed") {
  register_update_rule("test-sign", rule_factory(sign_descent{2.0f}));
  CHECK(update_rule_known("test-sign"));
  CHECK(known_update_rules().find("adam, test-sign") != std::string::npos);
  optimizer_options opts;
  opts.kind = "test-sign";
  auto opt = make_optimizer(opts, 3);
  REQUIRE(opt->size() == 3);
  std::vector<float> w = {1.0f, 1.0f, 1.0f};
  std::vector<float> g = {0.5f, -3.0f, 0.0f};
  opt->update(w, g, 0.25f);
  CHECK(w == std::vector<float>{0.5f, 1.5f, 1.0f});
  opt->update_relaxed(w, g, 0.25f);
  CHECK(w == std::vector<float>{0.0f, 2.0f, 1.0f});
  CHECK(opt->steps() == 2);
  CHECK(unregister_update_rule("test-sign"));
  CHECK_FALSE(unregister_update_rule("test-sign"));
  CHECK_FALSE(update_rule_known("test-sign"));
  CHECK_THROWS_WITH_AS(make_optimizer(opts, 3),
    doctest::Contains("unknown update rule \"test-sign\" (this process knows "
                      "sgd, momentum, nesterov, adagrad, adam)"),
    std::invalid_argument);
}

TEST_CASE("a built-in update rule's name, an empty name or an empty factory "
          "cannot be registered") {
  CHECK_THROWS_AS(register_update_rule("adam", rule_factory(sign_descent{})),
    std::invalid_argument);
  CHECK_THROWS_AS(register_update_rule("", rule_factory(sign_descent{})),
    std::invalid_argument);
  CHECK_THROWS_AS(register_update_rule("test-empty", update_rule_factory{}),
    std::invalid_argument);
  CHECK_FALSE(update_rule_known("test-empty"));
  // A factory that makes the wrong size is refused when used, not trusted.
  register_update_rule("test-wrong-size", [](const optimizer_options&, size_t) {
    return std::make_unique<basic_optimizer<sign_descent>>(sign_descent{}, 1);
  });
  optimizer_options opts;
  opts.kind = "test-wrong-size";
  CHECK_THROWS_WITH_AS(make_optimizer(opts, 3),
    doctest::Contains("\"test-wrong-size\" made no rule for 3 parameters"),
    std::invalid_argument);
  unregister_update_rule("test-wrong-size");
}
