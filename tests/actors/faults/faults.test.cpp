// Faults injected on purpose (actors/faults/fault_plan.hpp): lost, late and
// doubled messages leave a bsp model as it would be without them, and an
// asynchronous one within a point of accuracy.

#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "actors/faults/fault_plan.hpp"
#include "actors/local_backend.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;
using paramserv::test::same_bits;

namespace {

// Three classes in 4-D whose blobs overlap: about 87% is the best a model
// gets, so a point of accuracy is something a broken run would lose.
dataset overlapping_blobs(size_t n, uint64_t seed) {
  return test::blobs(n, seed, 1.2);
}

struct fault_fixture {
  // 480 training rows; the accuracy comparisons take more, so that both
  // runs reach the plateau and a point means something.
  // They also train 5 epochs, the last two at a tenth of the rate, so that
  // the asynchronous runs settle.
  explicit fault_fixture(size_t rows = 480)
    : train(std::make_shared<const dataset>(overlapping_blobs(rows, 5))) {
    if (rows > 480) {
      opts.epochs = 5;
      opts.schedule.kind = lr_schedule_kind::step;
      opts.schedule.step_epochs = 3;
      opts.schedule.gamma = 0.1f;
    }
  }

  std::shared_ptr<const dataset> train;
  std::shared_ptr<const dataset> test
    = std::make_shared<const dataset>(overlapping_blobs(2000, 6));
  train_options opts = test::small_options("mlp", "adam", 0.01f, 4, 11);

  // Two workers, two shards, short timeouts: a lost message costs 150 ms.
  local_options local(const std::string& modes) const {
    local_options l;
    l.workers = 2;
    l.shards = 2;
    l.threads = 2;
    l.modes = parse_mode_schedule(modes);
    l.timeouts.push_ms = 150;
    l.timeouts.pull_ms = 150;
    return l;
  }
};

} // namespace

TEST_CASE("a fault plan parses from its flag and names the item it refuses") {
  auto plan = parse_fault_plan(
    "seed=7,drop:push:0.1,delay:pull:0.25:20,duplicate:push:1,"
    "kill:worker:1:30,kill:shard:0:5,slow:shard:1:10");
  CHECK(plan.seed == 7);
  REQUIRE(plan.rules.size() == 3);
  CHECK(plan.rules[0].action == fault_action::drop);
  CHECK(plan.rules[0].message == fault_message::push);
  CHECK(plan.rules[0].probability == 0.1);
  CHECK(plan.rules[1].action == fault_action::delay);
  CHECK(plan.rules[1].message == fault_message::pull);
  CHECK(plan.rules[1].delay == std::chrono::milliseconds(20));
  CHECK(plan.rules[2].action == fault_action::duplicate);
  REQUIRE(plan.kills.size() == 2);
  CHECK(plan.kills[0].who == kill_rule::target::worker);
  CHECK(plan.kills[0].id == 1);
  CHECK(plan.kills[0].clock == 30);
  CHECK(plan.kills[1].who == kill_rule::target::shard);
  CHECK(plan.slow_shard == 1);
  CHECK(plan.slowdown == 10);
  CHECK(parse_fault_plan("").empty());
  for (auto [text, why] : {
         std::pair{"drop:push:2", "\"drop:push:2\": the probability"},
         std::pair{"drop:grant:0.5", "\"drop:grant:0.5\": the message"},
         std::pair{"kill:worker:1:0", "clocks start at 1"},
         std::pair{"kill:worker:x:3", "\"x\" is not a number"},
         std::pair{"delay:push:0.5", "expected delay:push|pull"},
         std::pair{"slow:shard:0:0.5", "the factor"},
         std::pair{"explode", "unknown fault"},
       }) {
    CAPTURE(text);
    std::string err;
    try {
      parse_fault_plan(text);
    } catch (const std::invalid_argument& e) {
      err = e.what();
    }
    CHECK(test::contains(err, "--inject-faults: "));
    CHECK(test::contains(err, why));
  }
}

TEST_CASE("fault dice are deterministic by seed, role and id") {
  fault_plan p;
  p.seed = 3;
  p.rules.push_back({fault_action::drop, fault_message::push, 0.5});
  auto plan = std::make_shared<const fault_plan>(p);
  auto sequence = [&](bool shard, uint32_t id) {
    fault_dice dice{plan, shard, id};
    std::string hits;
    for (int i = 0; i < 64; ++i)
      hits += dice.roll(fault_message::push, id) ? '1' : '0';
    return hits;
  };
  CHECK(sequence(false, 1) == sequence(false, 1));
  CHECK(sequence(false, 1) != sequence(false, 2));
  CHECK(sequence(false, 1) != sequence(true, 1));
  // Pulls are not pushes: no rule, no hit.
  fault_dice dice{plan, false, 0};
  for (int i = 0; i < 64; ++i)
    CHECK_FALSE(dice.roll(fault_message::pull, 0));
  // A rule for one worker hits no other.
  p.rules[0].probability = 1;
  p.rules[0].worker = 4;
  fault_dice only4{std::make_shared<const fault_plan>(p), false, 0};
  CHECK_FALSE(only4.roll(fault_message::push, 3));
  CHECK(only4.roll(fault_message::push, 4));
}

TEST_CASE("lost, late and doubled pushes and pulls leave a bsp model as a "
          "run without them, bit for bit") {
  fault_fixture f;
  auto plain = train_local(f.opts, f.local("bsp@1"), f.train, f.test);
  CHECK(plain.retried == 0);
  CHECK(plain.duplicates == 0);
  auto local = f.local("bsp@1");
  std::string faults;
  SUBCASE("dropped pushes, sent again after their timeout") {
    faults = "seed=1,drop:push:0.05";
  }
  SUBCASE("dropped pulls") {
    faults = "seed=2,drop:pull:0.05";
  }
  SUBCASE("duplicated pushes, applied once") {
    faults = "seed=3,duplicate:push:0.2,duplicate:pull:0.2";
  }
  SUBCASE("delayed pushes and pulls") {
    faults = "seed=4,delay:push:0.2:10,delay:pull:0.2:10";
  }
  REQUIRE_FALSE(faults.empty());
  CAPTURE(faults);
  local.faults = parse_fault_plan(faults);
  auto faulty = train_local(f.opts, local, f.train, f.test);
  CHECK(same_bits(faulty.params.flat(), plain.params.flat()));
  if (faults.find("drop") != std::string::npos)
    CHECK(faulty.retried > 0);
  else
    CHECK(faulty.retried == 0);
  if (faults.find("duplicate:push") != std::string::npos)
    CHECK(faulty.duplicates > 0);
  else
    CHECK(faulty.duplicates == 0);
}

TEST_CASE("lost, late and doubled messages leave an asynchronous run within "
          "a point of accuracy") {
  fault_fixture f{2400};
  for (std::string mode : {"asp@1", "ssp:2@1"}) {
    CAPTURE(mode);
    auto plain = train_local(f.opts, f.local(mode), f.train, f.test);
    auto local = f.local(mode);
    local.faults = parse_fault_plan("seed=5,drop:push:0.01,drop:pull:0.01,"
                                    "duplicate:push:0.1,delay:push:0.1:5");
    auto faulty = train_local(f.opts, local, f.train, f.test);
    CHECK(faulty.retried > 0);
    CHECK(faulty.duplicates > 0);
    double a = plain.history.back().test_accuracy;
    double b = faulty.history.back().test_accuracy;
    CAPTURE(a);
    CAPTURE(b);
    CHECK(a > 0.7);
    CHECK(std::abs(a - b) <= 0.01);
  }
}

namespace {

bool logged(const local_result& r, const std::string& part) {
  for (auto& line : r.log)
    if (line.find(part) != std::string::npos)
      return true;
  return false;
}

} // namespace

TEST_CASE("a worker killed in any mode never hangs the run: its partition is "
          "dropped or handed to the others") {
  fault_fixture f;
  f.opts.epochs = 3;
  // 3 workers of 160 rows, 10 pushes an epoch each; worker 1 dies at its
  // 4th.
  for (std::string mode :
    {"bsp@1", "asp@1", "ssp:2@1", "hogwild@1", "sbp:1@1"}) {
    for (auto policy :
      {worker_loss_policy::drop, worker_loss_policy::reassign}) {
      CAPTURE(mode);
      std::string policy_name = to_string(policy);
      CAPTURE(policy_name);
      auto local = f.local(mode);
      local.workers = 3;
      local.on_worker_loss = policy;
      local.faults = parse_fault_plan("kill:worker:1:4");
      auto r = train_local(f.opts, local, f.train, f.test);
      REQUIRE(r.history.size() == 3);
      CHECK(r.history[0].workers_lost == 1);
      CHECK(r.history[2].workers == 2);
      CHECK(logged(r, "worker 1 died"));
      CHECK(logged(r, "killed by the fault plan at clock 4"));
      if (policy == worker_loss_policy::drop) {
        CHECK(r.history[0].rows_reassigned == 0);
        CHECK(r.history[1].rows == 480 - 160);
        CHECK(r.history[2].rows == 480 - 160);
      } else {
        CHECK(r.history[0].rows_reassigned == 160);
        // The rows it had not trained yet were trained in the same epoch
        // by the others, if they were still training it: under bsp and ssp
        // they wait for its clocks, so they are when it dies (under sbp it
        // is the backup they need not wait for). Every row from the next
        // epoch on.
        bool gated = mode.starts_with("bsp") || mode.starts_with("ssp");
        CHECK(r.history[0].rows >= 480 - 160);
        if (gated)
          CHECK(r.history[0].rows > 480 - 160);
        CHECK(r.history[1].rows == 480);
        CHECK(r.history[2].rows == 480);
        CHECK(logged(r, "worker 1's 160 rows"));
      }
      CHECK(r.history[2].test_accuracy > 0.5); // chance: 1/3
    }
  }
}

TEST_CASE("with overlapping partitions a lost worker's rows are handed to "
          "nobody who holds them already") {
  fault_fixture f;
  f.opts.epochs = 2;
  f.opts.scheme = partition_scheme::overlap_reshuffle;
  auto local = f.local("bsp@1");
  local.workers = 3;
  local.on_worker_loss = worker_loss_policy::reassign;
  local.faults = parse_fault_plan("kill:worker:1:4");
  auto r = train_local(f.opts, local, f.train, f.test);
  REQUIRE(r.history.size() == 2);
  CHECK(r.history[0].workers_lost == 1);
  // Every worker holds every row: nothing to hand over, and each of the two
  // left trains all 480.
  CHECK(r.history[0].rows_reassigned == 0);
  CHECK(r.history[1].rows == 2 * 480);
}

TEST_CASE("a shard killed mid-run is restored from the last checkpoint and a "
          "bsp run ends with the model of a run without the fault") {
  fault_fixture f;
  test::temp_dir dir{"paramserv-restore"};
  auto plain = train_local(f.opts, f.local("bsp@1"), f.train, f.test);
  auto local = f.local("bsp@1");
  local.checkpoints.dir = (dir.path / "ckpts").string();
  // 2 workers of 240 rows: 15 pushes an epoch each.
  std::string restored_from;
  size_t epoch = 0;
  SUBCASE("in epoch 3, after two checkpoints") {
    local.faults = parse_fault_plan("kill:shard:1:35");
    restored_from = "the checkpoint after epoch 2";
    epoch = 3;
  }
  SUBCASE("in epoch 1, before any checkpoint") {
    local.faults = parse_fault_plan("kill:shard:0:5");
    restored_from = "the initial model";
    epoch = 1;
  }
  SUBCASE("in epoch 3, from a cut inside it (--checkpoint-seconds)") {
    // A cut at every clock boundary: the newest before the kill (at push
    // 37, the 7th clock of epoch 3) is the one after clock 36.
    local.checkpoints.every = 0;
    local.checkpoints.seconds = 1e-9;
    local.faults = parse_fault_plan("kill:shard:1:37");
    restored_from = "the checkpoint in epoch 3 (";
    epoch = 3;
  }
  auto r = train_local(f.opts, local, f.train, f.test);
  CHECK(logged(r, "killed by the fault plan"));
  CHECK(logged(r, "restored from " + restored_from));
  CHECK(same_bits(r.params.flat(), plain.params.flat()));
  REQUIRE(r.history.size() == 4);
  for (size_t e = 0; e < 4; ++e) {
    CAPTURE(e);
    CHECK(r.history[e].epoch == e + 1);
    CHECK(r.history[e].shards_restored == (e + 1 == epoch ? 1u : 0u));
    CHECK((r.history[e].recovery_s > 0) == (e + 1 == epoch));
    CHECK(r.history[e].train_loss == plain.history[e].train_loss);
  }
}

TEST_CASE("a shard killed mid-run of an asynchronous mode is restored and "
          "the run ends within a point of accuracy") {
  fault_fixture f{2400};
  test::temp_dir dir{"paramserv-restore"};
  for (std::string mode : {"asp@1", "ssp:2@1", "bsp@1,asp@3"}) {
    CAPTURE(mode);
    auto plain = train_local(f.opts, f.local(mode), f.train, f.test);
    auto local = f.local(mode);
    local.checkpoints.dir = (dir.path / ("ckpts-" + mode)).string();
    // 2 workers of 1200 rows: 75 pushes an epoch each; killed in epoch 3.
    local.faults = parse_fault_plan("kill:shard:1:180");
    auto r = train_local(f.opts, local, f.train, f.test);
    CHECK(logged(r, "restored from the checkpoint after epoch 2"));
    double a = plain.history.back().test_accuracy;
    double b = r.history.back().test_accuracy;
    CAPTURE(a);
    CAPTURE(b);
    CHECK(std::abs(a - b) <= 0.01);
  }
}

TEST_CASE("without checkpoints a killed shard ends the run naming it") {
  fault_fixture f;
  auto local = f.local("asp@1");
  local.faults = parse_fault_plan("kill:shard:1:7");
  std::string err;
  try {
    train_local(f.opts, local, f.train, f.test);
  } catch (const std::runtime_error& e) {
    err = e.what();
  }
  CHECK(test::contains(err, "server shard 1 stopped"));
  CHECK(test::contains(err, "shard 1 killed by the fault plan at clock 7"));
}
