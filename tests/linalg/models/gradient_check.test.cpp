// Central-difference gradient checks, in double, for every model, activation
// and the loss (cf. mlpack's ann_test_tools.hpp).

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "linalg/models/mlp.hpp"
#include "linalg/models/model.hpp"
#include "linalg/core/random.hpp"
#include "linalg/models/softmax_regression.hpp"

using namespace paramserv;

namespace {

struct batch {
  arma::mat x;
  std::vector<uint32_t> y;
};

batch make_batch(size_t features, size_t classes, size_t n, uint64_t seed) {
  rng gen{seed};
  batch b{arma::mat(features, n), std::vector<uint32_t>(n)};
  for (auto& v : b.x)
    v = gen.uniform(-1.0, 1.0);
  for (auto& y : b.y)
    y = static_cast<uint32_t>(gen.below(classes));
  return b;
}

// Relative error ||g - g_num|| / (||g|| + ||g_num||) of the analytic gradient
// against central differences with step h.
double gradient_error(basic_model<double>& net, const batch& b, uint64_t seed) {
  basic_parameter_set<double> params{net.shapes()};
  basic_parameter_set<double> grad{net.shapes()};
  net.initialize(params, seed);
  // Non-zero biases so that their gradients are exercised too.
  rng gen{seed + 1};
  for (size_t i = 1; i < params.count(); i += 2)
    for (auto& v : params[i])
      v = gen.uniform(-0.5, 0.5);
  net.gradient(params, b.x, b.y, grad);
  const double h = 1e-5;
  double diff = 0, norm_a = 0, norm_n = 0;
  auto w = params.flat();
  for (size_t i = 0; i < w.size(); ++i) {
    double saved = w[i];
    w[i] = saved + h;
    double up = net.loss(params, b.x, b.y);
    w[i] = saved - h;
    double down = net.loss(params, b.x, b.y);
    w[i] = saved;
    double numeric = (up - down) / (2 * h);
    double analytic = grad.flat()[i];
    diff += (numeric - analytic) * (numeric - analytic);
    norm_a += analytic * analytic;
    norm_n += numeric * numeric;
  }
  return std::sqrt(diff) / (std::sqrt(norm_a) + std::sqrt(norm_n));
}

} // namespace

TEST_CASE("softmax regression's gradient matches central differences") {
  basic_softmax_regression<double> net{7, 4};
  auto b = make_batch(7, 4, 9, 11);
  CHECK(gradient_error(net, b, 3) < 1e-6);
}

TEST_CASE("mlp gradients match central differences for each activation") {
  for (auto act : {activation::relu, activation::tanh}) {
    for (auto hidden : {std::vector<size_t>{5}, std::vector<size_t>{6, 4}}) {
      CAPTURE(to_string(act));
      CAPTURE(hidden.size());
      model_spec spec;
      spec.inputs = 8;
      spec.hidden = hidden;
      spec.classes = 3;
      spec.act = act;
      auto net = make_model<double>(spec);
      auto b = make_batch(8, 3, 10, 21 + hidden.size());
      CHECK(gradient_error(*net, b, 5) < 1e-6);
    }
  }
}

TEST_CASE("the gradient check notices a wrong gradient") {
  // Guards the check itself: a model whose gradient is scaled by 1.01 must
  // fail it.
  struct skewed : basic_mlp<double> {
    using basic_mlp<double>::basic_mlp;
    double gradient(const params_type& p, const arma::mat& x,
      std::span<const uint32_t> y, params_type& g) override {
      auto r = basic_mlp<double>::gradient(p, x, y, g);
      for (auto& v : g.flat())
        v *= 1.01;
      return r;
    }
  };
  skewed net{basic_softmax_regression<double>::make_spec(5, 3)};
  auto b = make_batch(5, 3, 6, 7);
  CHECK(gradient_error(net, b, 1) > 1e-3);
}

TEST_CASE("cross-entropy equals its naive formula and stays finite for huge "
          "logits") {
  basic_softmax_regression<double> net{3, 3};
  basic_parameter_set<double> params{net.shapes()};
  arma::mat x = {{1.0, -2.0}, {0.5, 0.25}, {-1.0, 3.0}};
  std::vector<uint32_t> y = {2, 0};
  params[0] = arma::mat{{0.1, 0.2, -0.3}, {0.4, -0.5, 0.6}, {0.7, 0.8, 0.9}};
  params[1] = arma::mat(std::vector<double>{0.1, -0.2, 0.3});
  arma::mat z = params[0] * x;
  z.each_col() += params[1].col(0);
  double naive = 0;
  for (size_t j = 0; j < 2; ++j)
    naive += -std::log(std::exp(z(y[j], j)) / arma::accu(arma::exp(z.col(j))));
  naive /= 2;
  CHECK(net.loss(params, x, y) == doctest::Approx(naive).epsilon(1e-12));
  // Logits around 1e4 overflow exp() in a naive implementation.
  params[0] *= 1e4;
  double big = net.loss(params, x, y);
  CHECK(std::isfinite(big));
  CHECK(big > 0);
  // Float too: the hot path is float32.
  basic_softmax_regression<float> netf{3, 3};
  auto pf = params.cast<float>();
  arma::fmat xf = arma::conv_to<arma::fmat>::from(x);
  CHECK(std::isfinite(netf.loss(pf, xf, y)));
}

TEST_CASE("predict returns the arg-max class and evaluate counts hits") {
  basic_softmax_regression<float> net{2, 2};
  parameter_set params{net.shapes()};
  params[0] = arma::fmat{{1, 0}, {0, 1}}; // logit k = feature k
  arma::fmat x = {{3, 0, 1}, {1, 2, 5}};
  std::vector<uint32_t> out(3);
  net.predict(params, x, out);
  CHECK(out == std::vector<uint32_t>{0, 1, 1});
  std::vector<uint32_t> labels = {0, 0, 1};
  auto ev = net.evaluate(params, x, labels, 2); // two chunks
  CHECK(ev.accuracy == doctest::Approx(2.0 / 3.0));
  CHECK(ev.loss == doctest::Approx(net.loss(params, x, labels)));
}

TEST_CASE("initialisation is seeded and scaled by fan-in") {
  model_spec spec;
  spec.inputs = 100;
  spec.hidden = {50};
  spec.classes = 10;
  auto net = make_model(spec);
  parameter_set a{net->shapes()}, b{net->shapes()}, c{net->shapes()};
  net->initialize(a, 42);
  net->initialize(b, 42);
  net->initialize(c, 43);
  CHECK(std::equal(a.flat().begin(), a.flat().end(), b.flat().begin()));
  CHECK_FALSE(std::equal(a.flat().begin(), a.flat().end(), c.flat().begin()));
  // He-uniform for the relu layer: |w| <= sqrt(6 / fan_in).
  float limit = std::sqrt(6.0f / 100.0f);
  CHECK(arma::abs(a[0]).max() <= limit);
  CHECK(arma::abs(a[0]).max() > 0.9f * limit);
  CHECK(arma::accu(arma::abs(a[1])) == 0.0f); // biases start at zero
}

TEST_CASE("invalid model specs are refused with a reason") {
  model_spec spec;
  spec.inputs = 4;
  spec.classes = 3;
  spec.kind = "cnn";
  CHECK_THROWS_WITH_AS(
    make_model(spec), doctest::Contains("unknown kind"), std::invalid_argument);
  spec.kind = "mlp";
  spec.hidden = {5, 0};
  CHECK_THROWS_WITH_AS(
    make_model(spec), doctest::Contains("width 0"), std::invalid_argument);
  spec.hidden = {};
  spec.classes = 1;
  CHECK_THROWS_AS(make_model(spec), std::invalid_argument);
}
