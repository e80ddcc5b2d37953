// A validation set and the stopping rules in the local parameter server:
// the same evaluations as the sequential trainer with one bsp worker, a
// stop at the first evaluation reaching the target in every mode, and the
// test set never read by either rule.

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "actors/local_backend.hpp"
#include "linalg/train/sequential_trainer.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;
using paramserv::test::same_bits;

namespace {

// 2,400 rows of overlapping blobs: accuracy climbs over many evaluations.
struct validation_fixture {
  dataset data = test::blobs(2400, 3, 1.0);
  std::shared_ptr<const dataset> train = std::make_shared<const dataset>(data);
  std::shared_ptr<const dataset> test
    = std::make_shared<const dataset>(test::blobs(600, 4, 1.0));
  train_options opts = [] {
    auto o = test::small_options("softmax", "sgd", 0.05f, 20, 7);
    o.validation.target_accuracy = 0.75;
    o.validation.every = 10;
    return o;
  }();
};

local_options local_with(size_t workers, const std::string& modes) {
  local_options local;
  local.workers = workers;
  local.shards = 2;
  local.threads = 2;
  local.modes = parse_mode_schedule(modes);
  return local;
}

// The run `r` evaluated at the sequential trainer's batches with its
// accuracies, stopped at its target and ended with its model, bit for bit.
void check_stops_as_sequential(
  const validation_fixture& f, const local_result& r) {
  sequential_trainer seq{f.opts, f.data};
  seq.run(f.test.get());
  REQUIRE(seq.stopped() == stop_verdict::target);
  REQUIRE(seq.evaluations().size() >= 3);
  CHECK(r.stopped == stop_verdict::target);
  REQUIRE(r.evaluations.size() == seq.evaluations().size());
  for (size_t i = 0; i < r.evaluations.size(); ++i) {
    CAPTURE(i);
    CHECK(r.evaluations[i].batches == seq.evaluations()[i].batches);
    CHECK(r.evaluations[i].accuracy == seq.evaluations()[i].accuracy);
  }
  CHECK(same_bits(r.params.flat(), seq.params().flat()));
}

} // namespace

TEST_CASE("bsp with one worker validates and stops as the sequential "
          "trainer does, bit for bit") {
  validation_fixture f;
  auto r = train_local(f.opts, local_with(1, "bsp@1"), f.train, f.test);
  check_stops_as_sequential(f, r);
  CHECK(r.target_s == r.evaluations.back().elapsed_s);
}

TEST_CASE("hogwild with one worker on one thread evaluates the model of the "
          "batch it names, as the sequential trainer does") {
  // A Hogwild! worker waits for no reply, and CAF runs an actor for as
  // long as its mailbox holds messages (its own steps): unless the report
  // that makes an evaluation due waits for it, the scheduler and shards on
  // its thread first run at the epoch's end, and the evaluation asked for
  // at batch 10 reads the model of batch 135.
  // The worker also waited for the evaluation that stopped the run, so it
  // stopped at the same batch too.
  validation_fixture f;
  auto local = local_with(1, "hogwild@1");
  local.threads = 1;
  auto r = train_local(f.opts, local, f.train, f.test);
  check_stops_as_sequential(f, r);
}

TEST_CASE("every mode stops at the first validation evaluation at or above "
          "the target") {
  validation_fixture f;
  for (std::string mode :
    {"bsp@1", "asp@1", "ssp:2@1", "sbp:1@1", "hogwild@1"}) {
    CAPTURE(mode);
    auto r = train_local(
      f.opts, local_with(mode == "sbp:1@1" ? 3 : 2, mode), f.train, f.test);
    CHECK(r.stopped == stop_verdict::target);
    REQUIRE(r.evaluations.size() >= 2);
    for (size_t i = 0; i + 1 < r.evaluations.size(); ++i)
      CHECK(r.evaluations[i].accuracy < 0.75);
    CHECK(r.evaluations.back().accuracy >= 0.75);
    CHECK(r.target_s > 0);
    // Stopped inside the run: its last epoch's metrics hold the model it
    // stopped with.
    REQUIRE(!r.history.empty());
    CHECK(r.history.size() < 20);
    CHECK(
      r.history.back().validation_accuracy == r.evaluations.back().accuracy);
  }
}

TEST_CASE("the stopping rules never read the test set") {
  validation_fixture f;
  auto wrong = std::make_shared<dataset>(*f.test);
  for (auto& y : wrong->y)
    y = (y + 1) % 3;
  auto a = train_local(f.opts, local_with(2, "bsp@1"), f.train, f.test);
  auto b = train_local(f.opts, local_with(2, "bsp@1"), f.train, wrong);
  REQUIRE(a.evaluations.size() == b.evaluations.size());
  CHECK(a.evaluations.back().batches == b.evaluations.back().batches);
  CHECK(same_bits(a.params.flat(), b.params.flat()));
  CHECK(a.history.back().test_accuracy != b.history.back().test_accuracy);
  // Evaluated every 10 batches of both workers together, and after each
  // epoch: 2,160 rows in batches of 16 are 136 batches an epoch.
  CHECK(a.evaluations.front().batches == 10);
  CHECK(a.evaluations[1].batches == 20);
}

TEST_CASE("patience stops a run that no longer improves") {
  validation_fixture f;
  auto opts = f.opts;
  opts.validation = {};
  opts.validation.fraction = 0.1;
  opts.validation.patience = 2;
  opts.schedule.base = 0.5f; // plateaus within a few epochs
  auto r = train_local(opts, local_with(2, "bsp@1"), f.train, f.test);
  CHECK(r.stopped == stop_verdict::patience);
  REQUIRE(r.evaluations.size() >= 3);
  CHECK(r.history.size() < 20);
  auto n = r.evaluations.size();
  double best_before = 0;
  for (size_t i = 0; i + 2 < n; ++i)
    best_before = std::max(best_before, r.evaluations[i].accuracy);
  CHECK(r.evaluations[n - 1].accuracy <= best_before);
  CHECK(r.evaluations[n - 2].accuracy <= best_before);
  CHECK(r.target_s < 0);
}
