#include <doctest/doctest.h>

#include <cmath>

#include "linalg/core/random.hpp"
#include "linalg/train/sequential_trainer.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;

namespace {

using test::blobs;

// Adam at 0.01 for 5 epochs.
train_options small_options(const std::string& kind) {
  return test::small_options(kind, "adam", 0.01f, 5, 9);
}

} // namespace

TEST_CASE("the sequential trainer learns separable blobs") {
  auto train = blobs(600, 1);
  auto test = blobs(200, 2);
  for (auto kind : {"softmax", "mlp"}) {
    CAPTURE(kind);
    sequential_trainer t{small_options(kind), train};
    size_t batches_seen = 0;
    auto history = t.run(&test, {}, [&](size_t, size_t, size_t, double) {
      ++batches_seen;
    });
    REQUIRE(history.size() == 5);
    CHECK(batches_seen == 5 * 38); // ceil(600 / 16) per epoch
    CHECK(history.front().pushes == 38);
    CHECK(history.back().test_accuracy > 0.95);
    CHECK(history.back().train_loss < history.front().train_loss);
  }
}

TEST_CASE("the same seed gives the same model, another seed another") {
  auto train = blobs(300, 3);
  auto opts = small_options("mlp");
  opts.epochs = 2;
  sequential_trainer a{opts, train}, b{opts, train};
  a.run(nullptr);
  b.run(nullptr);
  auto fa = a.params().flat(), fb = b.params().flat();
  CHECK(std::equal(fa.begin(), fa.end(), fb.begin()));
  opts.seed = 10;
  sequential_trainer c{opts, train};
  c.run(nullptr);
  auto fc = c.params().flat();
  CHECK_FALSE(std::equal(fa.begin(), fa.end(), fc.begin()));
}

TEST_CASE("invalid training options are refused before training") {
  auto train = blobs(50, 4);
  auto opts = small_options("softmax");
  opts.batch_size = 0;
  CHECK_THROWS_WITH_AS(sequential_trainer(opts, train),
    doctest::Contains("--batch-size: must be positive"), std::invalid_argument);
  opts = small_options("softmax");
  opts.model.inputs = 5;
  CHECK_THROWS_WITH_AS(sequential_trainer(opts, train),
    doctest::Contains("features"), std::invalid_argument);
}
