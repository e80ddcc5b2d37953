#include <doctest/doctest.h>

#include <stdexcept>

#include "linalg/data/feature_transform.hpp"

using namespace paramserv;

namespace {

// Three features over four samples (one per column): feature 0 varies,
// feature 1 is constant, feature 2 varies on another scale.
dataset make_train() {
  dataset ds;
  ds.x = arma::fmat{{0.0f, 2.0f, 4.0f, 10.0f}, {5.0f, 5.0f, 5.0f, 5.0f},
    {-100.0f, 0.0f, 100.0f, 200.0f}};
  ds.y = {0, 1, 0, 1};
  ds.classes = 2;
  return ds;
}

} // namespace

TEST_CASE("no scaling leaves the data unchanged") {
  auto train = make_train();
  auto t = feature_transform::fit(scaling::none, train);
  arma::fmat x = train.x;
  t.apply(x);
  CHECK(arma::approx_equal(x, train.x, "absdiff", 0.0f));
}

TEST_CASE("pixel scaling maps 0..255 to 0..1") {
  dataset ds;
  ds.x = arma::fmat{{0.0f, 255.0f}, {51.0f, 127.5f}};
  auto t = feature_transform::fit(scaling::pixels, ds);
  CHECK(t.shift.n_elem == 2);
  t.apply(ds.x);
  CHECK(ds.x(0, 0) == 0.0f);
  CHECK(ds.x(0, 1) == doctest::Approx(1.0));
  CHECK(ds.x(1, 0) == doctest::Approx(0.2));
  CHECK(ds.x(1, 1) == doctest::Approx(0.5));
}

TEST_CASE("minmax scaling maps each training feature onto 0..1") {
  auto train = make_train();
  auto t = feature_transform::fit(scaling::minmax, train);
  arma::fmat x = train.x;
  t.apply(x);
  CHECK(x(0, 0) == 0.0f);
  CHECK(x(0, 1) == doctest::Approx(0.2));
  CHECK(x(0, 3) == doctest::Approx(1.0));
  CHECK(x(2, 0) == 0.0f);
  CHECK(x(2, 2) == doctest::Approx(2.0 / 3.0));
  // A constant feature keeps scale 1 and becomes 0.
  CHECK(t.scale[1] == 1.0f);
  CHECK(arma::all(x.row(1) == 0.0f));
}

TEST_CASE("standardize gives mean 0 and std 1 on the training set") {
  auto train = make_train();
  auto t = feature_transform::fit(scaling::standardize, train);
  arma::fmat x = train.x;
  t.apply(x);
  for (arma::uword i : {0u, 2u}) {
    CAPTURE(i);
    arma::frowvec row = x.row(i);
    CHECK(arma::mean(row) == doctest::Approx(0.0).epsilon(1e-6));
    // Population standard deviation (norm_type 1 divides by n).
    CHECK(arma::stddev(row, 1) == doctest::Approx(1.0).epsilon(1e-5));
  }
  // Feature 0: mean 4, population variance (16 + 4 + 0 + 36) / 4 = 14.
  CHECK(t.shift[0] == doctest::Approx(4.0));
  CHECK(t.scale[0] == doctest::Approx(1.0 / std::sqrt(14.0)));
  CHECK(t.scale[1] == 1.0f);
  CHECK(arma::all(x.row(1) == 0.0f));
}

TEST_CASE("a fitted transform applies the training statistics to new data") {
  auto train = make_train();
  arma::fmat test
    = {{4.0f, 4.0f + 2.0f * std::sqrt(14.0f)}, {6.0f, 5.0f}, {0.0f, 0.0f}};
  SUBCASE("standardize") {
    auto t = feature_transform::fit(scaling::standardize, train);
    t.apply(test);
    CHECK(test(0, 0) == doctest::Approx(0.0));
    CHECK(test(0, 1) == doctest::Approx(2.0));
    CHECK(test(1, 0) == doctest::Approx(1.0));
  }
  SUBCASE("minmax") {
    auto t = feature_transform::fit(scaling::minmax, train);
    t.apply(test);
    CHECK(test(0, 0) == doctest::Approx(0.4));
    // Values outside the training range are not clipped.
    CHECK(test(1, 0) == doctest::Approx(1.0));
    CHECK(test(2, 0) == doctest::Approx(1.0 / 3.0));
  }
}

TEST_CASE("a transform refuses data with another feature count") {
  auto t = feature_transform::fit(scaling::minmax, make_train());
  arma::fmat x(4, 2, arma::fill::zeros);
  CHECK_THROWS_AS(t.apply(x), std::invalid_argument);
}
