// Checkpoints of a local run and resuming from them: a consistent cut
// between epochs, so that a resumed bsp run ends with the model of an
// uninterrupted one, bit for bit, and a corrupt newest checkpoint gives
// way to the previous one.

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "actors/local_backend.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;
using paramserv::test::same_bits;
namespace fs = std::filesystem;

namespace {

// An MLP 4-8-3 with adam (whose moments and step count must survive), 4
// epochs of bsp, 2 workers and 2 shards.
train_options adam_options() {
  auto opts = test::small_options("mlp", "adam", 0.01f, 4, 11);
  return opts;
}

local_options two_by_two(const std::string& modes = "bsp@1") {
  local_options local;
  local.workers = 2;
  local.shards = 2;
  local.threads = 2;
  local.modes = parse_mode_schedule(modes);
  return local;
}

std::string newest_folder(const std::string& dir) {
  std::string newest;
  for (auto& entry : fs::directory_iterator(dir))
    newest = std::max(newest, entry.path().string());
  return newest;
}

bool logged(const local_result& r, const std::string& part) {
  for (auto& line : r.log)
    if (line.find(part) != std::string::npos)
      return true;
  return false;
}

// A checkpoint folder, the data, the options, and the uninterrupted run's
// result to compare with.
struct resume_fixture {
  test::temp_dir dir{"paramserv-resume"};
  std::string ckpts = (dir.path / "ckpts").string();
  std::shared_ptr<const dataset> train
    = std::make_shared<const dataset>(test::blobs(240, 5));
  train_options opts = adam_options();
  local_result plain = train_local(opts, two_by_two(), train, nullptr);
};

} // namespace

TEST_CASE("a bsp run resumed from its checkpoint ends with the model of an "
          "uninterrupted run, bit for bit") {
  resume_fixture f;
  auto& [dir, ckpts, train, opts, plain] = f;
  // The same run, checkpointed after epochs 1, 2 and 3: the same model.
  auto local = two_by_two();
  local.checkpoints.dir = ckpts;
  auto checkpointed = train_local(opts, local, train, nullptr);
  CHECK(same_bits(checkpointed.params.flat(), plain.params.flat()));
  CHECK(logged(checkpointed, "checkpoint after epoch 3 written to " + ckpts));
  // Resumed from the newest (after epoch 3): epoch 4 again.
  auto again = two_by_two();
  again.checkpoints.resume = ckpts;
  auto resumed = train_local(opts, again, train, nullptr);
  CHECK(logged(resumed, "resumed from " + ckpts + " (after epoch 3)"));
  CHECK(same_bits(resumed.params.flat(), plain.params.flat()));
  REQUIRE(resumed.history.size() == 4);
  CHECK(resumed.history[0].train_loss == plain.history[0].train_loss);
  CHECK(resumed.history[3].train_loss == plain.history[3].train_loss);
  SUBCASE("a flipped byte in the newest: refused by name, the previous used") {
    auto part = newest_folder(ckpts) + "/shard-1.part";
    std::fstream f{part, std::ios::in | std::ios::out | std::ios::binary};
    f.seekp(40);
    f.put('\x5a');
    f.close();
    auto from_older = train_local(opts, again, train, nullptr);
    CHECK(logged(from_older, part + ": checksum mismatch"));
    CHECK(logged(from_older, "resumed from " + ckpts + " (after epoch 2)"));
    CHECK(same_bits(from_older.params.flat(), plain.params.flat()));
  }
  SUBCASE("a truncated manifest and a missing part: the previous used") {
    auto newest = newest_folder(ckpts);
    fs::resize_file(newest + "/MANIFEST", 10);
    auto from_older = train_local(opts, again, train, nullptr);
    CHECK(logged(from_older, newest + "/MANIFEST: truncated"));
    CHECK(same_bits(from_older.params.flat(), plain.params.flat()));
    // Then the previous one loses a part too: nothing verifies.
    for (auto& entry : fs::directory_iterator(ckpts))
      if (entry.path().string() != newest)
        fs::remove(entry.path() / "job.part");
    CHECK_THROWS_WITH_AS(train_local(opts, again, train, nullptr),
      doctest::Contains("no checkpoint that verifies"), std::invalid_argument);
  }
  SUBCASE("another job is refused, naming what differs") {
    auto other = opts;
    other.seed = 12;
    CHECK_THROWS_WITH_AS(train_local(other, again, train, nullptr),
      doctest::Contains("the checkpoint is of a job with another seed"),
      std::invalid_argument);
    other = opts;
    other.epochs = 3;
    CHECK_THROWS_WITH_AS(train_local(other, again, train, nullptr),
      doctest::Contains("3 epochs done; --epochs 3 leaves nothing"),
      std::invalid_argument);
  }
}

TEST_CASE("a run stopped after a checkpoint resumes to the uninterrupted "
          "model") {
  resume_fixture f;
  auto& [dir, ckpts, train, opts, plain] = f;
  // Stopped by its caller after epoch 2: the checkpoint of epoch 1, and
  // maybe of 2, is there; either resumes to the same model.
  auto local = two_by_two();
  local.checkpoints.dir = ckpts;
  local_hooks stop;
  stop.on_epoch = [](const epoch_metrics& m) {
    if (m.epoch == 2)
      throw std::runtime_error{"stopped"};
  };
  CHECK_THROWS_AS(
    train_local(opts, local, train, nullptr, stop), std::runtime_error);
  auto again = two_by_two();
  again.checkpoints.resume = ckpts;
  auto resumed = train_local(opts, again, train, nullptr);
  CHECK(same_bits(resumed.params.flat(), plain.params.flat()));
}

TEST_CASE("asp and ssp runs resume from their checkpoints") {
  test::temp_dir dir{"paramserv-resume"};
  auto train = std::make_shared<const dataset>(test::blobs(240, 5));
  auto opts = adam_options();
  for (std::string modes : {"asp@1", "ssp:1@1", "bsp@1,asp@3"}) {
    CAPTURE(modes);
    auto ckpts = (dir.path / modes).string();
    auto local = two_by_two(modes);
    local.checkpoints.dir = ckpts;
    local.checkpoints.every = 2;
    auto first = train_local(opts, local, train, nullptr);
    auto again = two_by_two(modes);
    again.checkpoints.resume = ckpts;
    auto resumed = train_local(opts, again, train, nullptr);
    CHECK(logged(resumed, "(after epoch 2)"));
    REQUIRE(resumed.history.size() == 4);
    CHECK(resumed.history[1].train_loss == first.history[1].train_loss);
    CHECK(resumed.history[3].train_loss < resumed.history[0].train_loss);
  }
}

namespace {

// The folders of a checkpoint store, newest first.
std::vector<std::string> folders_newest_first(const std::string& dir) {
  std::vector<std::string> result;
  for (auto& entry : fs::directory_iterator(dir))
    result.push_back(entry.path().string());
  std::sort(result.rbegin(), result.rend());
  return result;
}

} // namespace

TEST_CASE("--checkpoint-seconds cuts inside an epoch, and a bsp run resumed "
          "from such a cut ends with the uninterrupted model, bit for bit") {
  resume_fixture f;
  auto& [dir, ckpts, train, opts, plain] = f;
  // A cut at every clock boundary (and none by epochs): the cuts leave the
  // model as it was.
  auto local = two_by_two();
  local.checkpoints.dir = ckpts;
  local.checkpoints.every = 0;
  local.checkpoints.seconds = 1e-9;
  auto cut = train_local(opts, local, train, nullptr);
  CHECK(same_bits(cut.params.flat(), plain.params.flat()));
  CHECK(logged(cut, "checkpoint in epoch 1 ("));
  CHECK(logged(cut, "checkpoint in epoch 4 ("));
  // The newest is the cut at the last clock of epoch 4 (every row
  // trained); the one before it, a clock earlier, is inside the epoch.
  // Without the newest (lost in a crash, say) the run resumes from there.
  auto found = folders_newest_first(ckpts);
  REQUIRE(found.size() == 2);
  fs::remove_all(found[0]);
  auto again = two_by_two();
  again.checkpoints.resume = ckpts;
  auto resumed = train_local(opts, again, train, nullptr);
  CHECK(logged(resumed, "resumed from " + ckpts + " (in epoch 4 ("));
  CHECK(same_bits(resumed.params.flat(), plain.params.flat()));
  REQUIRE(resumed.history.size() == 4);
  // The epoch's metrics carry over the cut: rows and loss as if whole.
  CHECK(resumed.history[3].rows == plain.history[3].rows);
  CHECK(resumed.history[3].train_loss == plain.history[3].train_loss);
}

TEST_CASE("hogwild epochs are checkpointed by time at their end only") {
  test::temp_dir dir{"paramserv-resume"};
  auto train = std::make_shared<const dataset>(test::blobs(240, 5));
  auto opts = adam_options();
  auto local = two_by_two("hogwild@1");
  local.checkpoints.dir = (dir.path / "ckpts").string();
  local.checkpoints.every = 0;
  local.checkpoints.seconds = 1e-9;
  auto r = train_local(opts, local, train, nullptr);
  CHECK(logged(r, "checkpoint after epoch 1"));
  CHECK(logged(r, "checkpoint after epoch 3"));
  CHECK_FALSE(logged(r, "checkpoint in epoch"));
}

TEST_CASE("asp, ssp and sbp runs resume from a cut inside an epoch, every row "
          "of it trained once") {
  test::temp_dir dir{"paramserv-resume"};
  auto train = std::make_shared<const dataset>(test::blobs(240, 5));
  auto opts = adam_options();
  opts.asp_pipelining = true;
  for (std::string modes : {"asp@1", "ssp:1@1", "sbp:1@1"}) {
    CAPTURE(modes);
    auto ckpts = (dir.path / modes).string();
    auto local = two_by_two(modes);
    if (modes == "sbp:1@1")
      local.workers = 3;
    local.checkpoints.dir = ckpts;
    local.checkpoints.every = 0;
    local.checkpoints.seconds = 1e-9;
    auto first = train_local(opts, local, train, nullptr);
    CHECK(logged(first, "checkpoint in epoch 2 ("));
    // The cut before the newest is inside epoch 4, a clock before its end.
    auto found = folders_newest_first(ckpts);
    REQUIRE(found.size() == 2);
    fs::remove_all(found[0]);
    auto again = local;
    again.checkpoints = {};
    again.checkpoints.resume = ckpts;
    auto resumed = train_local(opts, again, train, nullptr);
    CHECK(logged(resumed, "(in epoch 4 ("));
    REQUIRE(resumed.history.size() == 4);
    CHECK(resumed.history[2].train_loss == first.history[2].train_loss);
    // Pipelined asp computes a unit while the last one's replies are out:
    // the cut leaves that unit out, so the resumed run trains it, and each
    // row of the epoch exactly once.
    CHECK(resumed.history[3].rows == first.history[3].rows);
    CHECK(resumed.history[3].train_loss < resumed.history[0].train_loss);
  }
}

TEST_CASE("a resumed run keeps its evaluations and stopping rules, and a "
          "checkpoint of another validation split is refused") {
  test::temp_dir dir{"paramserv-resume"};
  auto train = std::make_shared<const dataset>(test::blobs(240, 5));
  auto opts = adam_options();
  opts.validation.fraction = 0.25;
  opts.validation.every = 5;
  auto plain = train_local(opts, two_by_two(), train, nullptr);
  auto ckpts = (dir.path / "ckpts").string();
  auto local = two_by_two();
  local.checkpoints.dir = ckpts;
  train_local(opts, local, train, nullptr);
  auto again = two_by_two();
  again.checkpoints.resume = ckpts;
  auto resumed = train_local(opts, again, train, nullptr);
  CHECK(logged(resumed, "(after epoch 3)"));
  // Every evaluation of the uninterrupted run, the three epochs before the
  // checkpoint's included, at the same batches with the same accuracy.
  REQUIRE(resumed.evaluations.size() == plain.evaluations.size());
  for (size_t i = 0; i < plain.evaluations.size(); ++i) {
    CAPTURE(i);
    CHECK(resumed.evaluations[i].batches == plain.evaluations[i].batches);
    CHECK(resumed.evaluations[i].accuracy == plain.evaluations[i].accuracy);
  }
  auto other = opts;
  other.validation.fraction = 0.5;
  CHECK_THROWS_WITH_AS(train_local(other, again, train, nullptr),
    doctest::Contains("another validation set (rows held out)"),
    std::invalid_argument);
}
