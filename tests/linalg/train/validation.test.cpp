// The validation split and the stopping rules, and the sequential trainer
// stopping on them.

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "linalg/train/sequential_trainer.hpp"
#include "linalg/train/validation.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;

TEST_CASE("the validation split holds out seeded rows that no worker trains") {
  train_options opts;
  opts.seed = 5;
  opts.validation.fraction = 0.1;
  auto split = split_rows(opts, 1000);
  CHECK(split.validation.size() == 100);
  CHECK(split.train.size() == 900);
  CHECK(std::is_sorted(split.validation.begin(), split.validation.end()));
  // Not the first or last 100: drawn at random.
  CHECK(split.validation.front() < 100);
  CHECK(split.validation.back() >= 900);
  std::set<uint32_t> held(split.validation.begin(), split.validation.end());
  for (auto scheme :
    {partition_scheme::disjoint_contiguous, partition_scheme::disjoint_random,
      partition_scheme::overlap_reshuffle}) {
    opts.scheme = scheme;
    size_t trained = 0;
    for (auto& part : partition_training_rows(opts, 1000, 3))
      for (auto r : part) {
        CHECK(held.count(r) == 0);
        ++trained;
      }
    CHECK(trained == rows_per_epoch(900, 3, scheme));
  }
  // The same seed, the same rows; another seed, others.
  CHECK(split_rows(opts, 1000).validation == split.validation);
  opts.seed = 6;
  CHECK(split_rows(opts, 1000).validation != split.validation);
  // Without a validation set, the partitions are partition_rows'.
  train_options plain;
  CHECK(partition_training_rows(plain, 1000, 3)
        == partition_rows(1000, 3, plain.scheme, plain.seed));
}

TEST_CASE("a stopping rule without a fraction holds out the default rows") {
  validation_options v;
  CHECK(validation_rows(v, 60000) == 0);
  v.target_accuracy = 0.85;
  CHECK(validation_rows(v, 60000) == default_validation_rows);
  CHECK(validation_rows(v, 2400) == 240); // a tenth, when that is fewer
  v = {};
  v.patience = 3;
  CHECK(validation_rows(v, 60000) == default_validation_rows);
  v.fraction = 0.5;
  CHECK(validation_rows(v, 60000) == 30000);
  v.fraction = 1e-9;
  CHECK(validation_rows(v, 60000) == 1);
}

TEST_CASE("the stopping rules: the target at the first evaluation reaching "
          "it, patience after that many evaluations without a better one") {
  validation_options v;
  v.target_accuracy = 0.8;
  stop_rule target{v};
  CHECK(target.record(0.5) == stop_verdict::go_on);
  CHECK(target.record(0.79) == stop_verdict::go_on);
  CHECK(target.record(0.8) == stop_verdict::target);
  v = {};
  v.patience = 2;
  stop_rule patience{v};
  CHECK(patience.record(0.5) == stop_verdict::go_on);
  CHECK(patience.record(0.6) == stop_verdict::go_on);
  CHECK(patience.record(0.6) == stop_verdict::go_on); // not better: 1
  CHECK(patience.record(0.7) == stop_verdict::go_on); // better: 0 again
  CHECK(patience.record(0.65) == stop_verdict::go_on);
  CHECK(patience.record(0.7) == stop_verdict::patience);
  CHECK(patience.best() == 0.7);
}

TEST_CASE("the sequential trainer stops at the first evaluation at or above "
          "the target, whatever the test set holds") {
  auto train = test::blobs(2400, 3, 1.0);
  auto opts = test::small_options("softmax", "sgd", 0.05f, 20, 7);
  opts.validation.target_accuracy = 0.75;
  opts.validation.every = 10;
  sequential_trainer a{opts, train};
  auto test = test::blobs(600, 4, 1.0);
  auto history = a.run(&test);
  REQUIRE(a.stopped() == stop_verdict::target);
  auto& evals = a.evaluations();
  REQUIRE(evals.size() >= 2);
  for (size_t i = 0; i + 1 < evals.size(); ++i) {
    CHECK(evals[i].accuracy < 0.75);
    CHECK(evals[i].batches % 10 == 0);
  }
  CHECK(evals.back().accuracy >= 0.75);
  CHECK(a.target_s() == evals.back().elapsed_s);
  CHECK(history.size() < 20);
  CHECK(history.back().validation_accuracy == evals.back().accuracy);
  // The held-out 240 rows are validated, not trained.
  CHECK(a.validation().size() == 240);
  auto whole = opts;
  whole.validation = {};
  whole.validation.fraction = 0.1;
  whole.epochs = 1;
  sequential_trainer c{whole, train};
  CHECK(c.run(nullptr).front().rows == 2160);
  CHECK(c.evaluations().size() == 1); // at the epoch's end only
  // A test set of wrong labels changes nothing but the test figures.
  auto wrong = test;
  for (auto& y : wrong.y)
    y = (y + 1) % 3;
  sequential_trainer b{opts, train};
  auto other = b.run(&wrong);
  REQUIRE(b.evaluations().size() == evals.size());
  CHECK(b.evaluations().back().batches == evals.back().batches);
  CHECK(test::same_bits(b.params().flat(), a.params().flat()));
  CHECK(other.back().test_accuracy != history.back().test_accuracy);
}
