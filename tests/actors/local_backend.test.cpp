// Whole runs of the local parameter server (shards, workers and a scheduler
// as actors in one process) on small synthetic data. Every check is on the
// outcome, never on timing: injected delays only make some interleavings
// likely, and the asserted properties must hold under all of them.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/local_backend.hpp"
#include "linalg/data/feature_transform.hpp"
#include "linalg/io/model_io.hpp"
#include "linalg/models/mlp.hpp"
#include "linalg/optim/optimizer.hpp"
#include "linalg/data/partition.hpp"
#include "linalg/core/random.hpp"
#include "linalg/train/sequential_trainer.hpp"
#include "tests/actors/actor_support.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;
using paramserv::test::same_bits;

namespace {

using std::chrono::microseconds;

std::shared_ptr<const dataset> blobs(size_t n, uint64_t seed) {
  return std::make_shared<const dataset>(test::blobs(n, seed));
}

// An MLP 4-8-3 trained with plain sgd, 16 rows per batch, 3 epochs.
train_options small_options() {
  return test::small_options("mlp", "sgd", 0.1f, 3, 7);
}

local_options local_with(size_t workers, const std::string& modes) {
  local_options local;
  local.workers = workers;
  local.threads = 2;
  local.modes = parse_mode_schedule(modes);
  return local;
}

std::vector<float> flat(const parameter_set& p) {
  auto xs = p.flat();
  return {xs.begin(), xs.end()};
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double result = 0;
  for (size_t i = 0; i < a.size(); ++i)
    result = std::max(result, std::abs(double{a[i]} - double{b[i]}));
  return result;
}

// Synchronous SGD over the union of the workers' batches, written out
// without actors, from DESIGN.md "Semantics" (bsp): worker w owns
// partition_rows(...)[w] and reshuffles that same vector every epoch with
// shuffle_epoch(rows, seed, w, epoch); clock c's batch is worker 0's c-th
// batch, then worker 1's, ... (workers out of batches skipped); one update
// per clock with the union batch's mean gradient.
std::vector<float> union_batch_reference(
  const train_options& opts, size_t k, const dataset& train) {
  auto net = make_model(opts.model);
  parameter_set params{net->shapes()};
  parameter_set grad{net->shapes()};
  net->initialize(params, opts.seed);
  auto opt = make_optimizer(opts.optimizer, params.size());
  auto parts = partition_rows(train.size(), k, opts.scheme, opts.seed);
  const size_t b = opts.batch_size;
  arma::fmat batch;
  std::vector<uint32_t> labels;
  for (size_t e = 0; e < opts.epochs; ++e) {
    size_t clocks = 0;
    for (size_t w = 0; w < k; ++w) {
      shuffle_epoch(parts[w], opts.seed, w, e);
      clocks = std::max(clocks, (parts[w].size() + b - 1) / b);
    }
    for (size_t c = 0; c < clocks; ++c) {
      std::vector<uint32_t> rows;
      for (size_t w = 0; w < k; ++w) {
        size_t first = c * b;
        if (first >= parts[w].size())
          continue;
        size_t last = std::min(first + b, parts[w].size());
        rows.insert(
          rows.end(), parts[w].begin() + first, parts[w].begin() + last);
      }
      gather_batch(train, rows.data(), rows.size(), batch, labels);
      net->gradient(params, batch, labels, grad);
      opt->update(params.flat(), grad.flat(), opts.schedule.at(e));
    }
  }
  return flat(params);
}

// Batches each worker gets per epoch.
std::vector<size_t> batches_per_worker(
  const train_options& opts, size_t k, size_t n) {
  std::vector<size_t> result;
  for (auto& rows : partition_rows(n, k, opts.scheme, opts.seed))
    result.push_back((rows.size() + opts.batch_size - 1) / opts.batch_size);
  return result;
}

std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::filesystem::path scratch(const std::string& name) {
  auto p = std::filesystem::temp_directory_path()
           / ("paramserv-local-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(p);
  return p;
}

} // namespace

TEST_CASE("bsp with one worker equals the sequential trainer") {
  auto train = blobs(200, 1);
  auto opts = small_options();
  SUBCASE("sgd") {
    opts.optimizer.kind = "sgd";
  }
  SUBCASE("adam") {
    opts.optimizer.kind = "adam";
    opts.schedule.base = 0.01f;
  }
  SUBCASE("momentum, disjoint_random rows") {
    opts.optimizer.kind = "momentum";
    opts.scheme = partition_scheme::disjoint_random;
  }
  auto r = train_local(opts, local_with(1, "bsp@1"), train, nullptr);
  REQUIRE(r.history.size() == opts.epochs);
  sequential_trainer seq{opts, *train};
  seq.run(nullptr);
  // The same code on the same data in the same order: equal to float
  // rounding at most (in fact bit for bit).
  CHECK(max_abs_diff(flat(r.params), flat(seq.params())) < 1e-6);
}

TEST_CASE("a bsp run with k workers equals sequential sgd on the union "
          "batches") {
  auto opts = small_options();
  size_t k = 0, n = 0;
  // Row counts chosen so that workers get unequal numbers of batches or
  // batches of unequal size in one clock:
  // 161 rows over 2 workers is 81 + 80 rows, 6 + 5 batches of 16;
  // 101 rows over 3 workers is 34 + 34 + 33 rows, last batches 2, 2, 1;
  // 97 rows over 3 workers is 33 + 32 + 32 rows, 3 + 2 + 2 batches.
  SUBCASE("k = 2, contiguous") {
    k = 2;
    n = 161;
  }
  SUBCASE("k = 3, round robin") {
    k = 3;
    n = 101;
    opts.scheme = partition_scheme::disjoint_round_robin;
  }
  SUBCASE("k = 3, random, momentum") {
    k = 3;
    n = 97;
    opts.scheme = partition_scheme::disjoint_random;
    opts.optimizer.kind = "momentum";
    opts.schedule.base = 0.05f;
  }
  CAPTURE(k);
  // Without scaling the rate: one step of the union batch per clock.
  opts.scaling = lr_scaling::none;
  auto train = blobs(n, 2);
  auto expected = union_batch_reference(opts, k, *train);
  auto r = train_local(opts, local_with(k, "bsp@1"), train, nullptr);
  REQUIRE(r.history.size() == opts.epochs);
  auto actual = flat(r.params);
  REQUIRE(actual.size() == expected.size());
  // The server sums the workers' mean gradients weighted by rows instead
  // of averaging the union batch directly: the same number up to rounding.
  for (size_t i = 0; i < actual.size(); ++i) {
    CAPTURE(i);
    CHECK(std::abs(double{actual[i]} - double{expected[i]})
          <= 1e-5 * std::max(1.0, std::abs(double{expected[i]})));
  }
  // The reference is not trivially close to anything: training moved the
  // parameters away from their initial values.
  auto net = make_model(opts.model);
  parameter_set init{net->shapes()};
  net->initialize(init, opts.seed);
  CHECK(max_abs_diff(flat(init), expected) > 1e-2);
}

TEST_CASE("bsp gives the same model bit for bit for 1, 2 and 4 shards and "
          "the same saved bytes for the same seed") {
  auto train = blobs(200, 3);
  auto opts = small_options();
  opts.optimizer.kind = "adam";
  opts.schedule.base = 0.01f;
  auto run = [&](size_t shards, uint64_t seed) {
    auto local = local_with(2, "bsp@1");
    local.shards = shards;
    auto o = opts;
    o.seed = seed;
    return train_local(o, local, train, nullptr).params;
  };
  auto one = run(1, 7);
  auto two = run(2, 7);
  auto four = run(4, 7);
  CHECK(same_bits(flat(one), flat(two)));
  CHECK(same_bits(flat(one), flat(four)));
  auto again = run(1, 7);
  auto other = run(1, 8);
  CHECK_FALSE(same_bits(flat(one), flat(other)));

  auto dir_a = scratch("a"), dir_b = scratch("b"), dir_c = scratch("c");
  feature_transform none = feature_transform::fit(scaling::none, *train);
  save_model(dir_a.string(), opts.model, one, scaling::none, none);
  save_model(dir_b.string(), opts.model, again, scaling::none, none);
  save_model(dir_c.string(), opts.model, other, scaling::none, none);
  // Array files are named <array>.<save id>.npy with a fresh id per save:
  // compare them by <array>.
  auto arrays = [](const std::filesystem::path& dir) {
    std::map<std::string, std::string> result;
    for (auto& entry : std::filesystem::directory_iterator(dir)) {
      auto name = entry.path().filename().string();
      if (name != "manifest.json")
        result[name.substr(0, name.find('.'))] = read_bytes(entry.path());
    }
    return result;
  };
  auto a = arrays(dir_a);
  CHECK(a.size() == 6); // W1, b1, W2, b2, input_shift, input_scale
  CHECK(a == arrays(dir_b));
  CHECK(a != arrays(dir_c));
  std::filesystem::remove_all(dir_a);
  std::filesystem::remove_all(dir_b);
  std::filesystem::remove_all(dir_c);
}

TEST_CASE("ssp never lets a worker run more than s clocks ahead nor read "
          "parameters older than s clocks, with a slowed worker") {
  auto train = blobs(480, 4);
  auto opts = small_options();
  opts.batch_size = 8; // 160 rows, 20 clocks per worker and epoch
  opts.epochs = 2;
  uint32_t s = 0;
  SUBCASE("s = 0") {
    s = 0;
  }
  SUBCASE("s = 1") {
    s = 1;
  }
  SUBCASE("s = 3") {
    s = 3;
  }
  CAPTURE(s);
  auto local = local_with(3, "ssp:" + std::to_string(s) + "@1");
  // Worker 0 waits 300 us before each batch, the others not at all: they
  // keep running into the staleness bound.
  local.delays = {microseconds(300)};
  auto r = train_local(opts, local, train, nullptr);
  REQUIRE(r.history.size() == opts.epochs);
  for (auto& m : r.history) {
    CAPTURE(m.epoch);
    CHECK(m.max_clock_gap <= s);
    if (s == 0)
      CHECK(m.max_clock_gap == 0);
    // SSP's read bound: every unit computed at clock c read every worker's
    // pushes up to clock c - s - 1 (the workers record the largest lag).
    CHECK(m.max_read_lag <= s);
    CHECK(m.pushes == 3 * 20);
  }
}

TEST_CASE("asp, hogwild and sbp with one backup of three learn separable "
          "blobs to a test accuracy of at least 0.9") {
  auto train = blobs(600, 5);
  auto test = blobs(300, 6);
  auto opts = small_options();
  opts.optimizer.kind = "adam";
  opts.schedule.base = 0.02f;
  opts.epochs = 5;
  std::string mode;
  SUBCASE("asp") {
    mode = "asp@1";
  }
  SUBCASE("hogwild") {
    mode = "hogwild@1";
  }
  SUBCASE("sbp:1") {
    mode = "sbp:1@1";
  }
  CAPTURE(mode);
  // The threshold means something: the initial model is far below it.
  auto net = make_model(opts.model);
  parameter_set init{net->shapes()};
  net->initialize(init, opts.seed);
  REQUIRE(net->evaluate(init, test->x, test->y).accuracy < 0.6);
  auto r = train_local(opts, local_with(3, mode), train, test);
  REQUIRE(r.history.size() == opts.epochs);
  CHECK(r.history.back().test_accuracy >= 0.9);
  CHECK(r.history.back().train_loss < r.history.front().train_loss);
  CHECK(r.rejected == 0);
}

TEST_CASE("sbp drops and counts the gradients of a slowed worker and "
          "finishes") {
  auto train = blobs(240, 7);
  auto opts = small_options();
  opts.epochs = 2;
  auto local = local_with(3, "sbp:1@1");
  // Worker 0 waits 2 ms before each batch; workers 1 and 2 commit each
  // clock without it, so its pushes of those clocks are late.
  local.delays = {microseconds(2000)};
  auto r = train_local(opts, local, train, nullptr);
  CHECK(r.history.size() == opts.epochs);
  CHECK(r.dropped > 0);
  CHECK(r.rejected == 0);
  for (auto& m : r.history)
    CHECK(m.pushes == 3 * 5); // 80 rows, 5 batches per worker
}

TEST_CASE("pushes per epoch follow the update frequency") {
  // 97 rows over 3 workers: 33 + 32 + 32 rows, 5 + 4 + 4 batches of 8.
  auto train = blobs(97, 8);
  auto opts = small_options();
  opts.batch_size = 8;
  opts.epochs = 2;
  const size_t k = 3;
  auto batches = batches_per_worker(opts, k, train->size());
  REQUIRE(batches == std::vector<size_t>{5, 4, 4});
  auto local = local_with(k, "bsp@1");
  size_t expected = 0;
  SUBCASE("batch") {
    local.freq = update_frequency::batch;
    for (auto b : batches)
      expected += b;
  }
  SUBCASE("nbatches = 3") {
    local.freq = update_frequency::nbatches;
    local.nbatches = 3;
    for (auto b : batches)
      expected += (b + 2) / 3;
  }
  SUBCASE("epoch") {
    local.freq = update_frequency::epoch;
    expected = k;
  }
  for (auto mode : {"bsp@1", "asp@1", "ssp:1@1", "hogwild@1"}) {
    CAPTURE(mode);
    local.modes = parse_mode_schedule(mode);
    auto r = train_local(opts, local, train, nullptr);
    REQUIRE(r.history.size() == opts.epochs);
    for (auto& m : r.history) {
      CAPTURE(m.epoch);
      CHECK(m.pushes == expected);
    }
  }
}

TEST_CASE("unequal partitions finish in every mode") {
  auto opts = small_options();
  opts.epochs = 3;
  size_t n = 0;
  // 203 rows: 68 + 68 + 67, 5 batches each with last batches of 4, 4, 3;
  // 97 rows: 33 + 32 + 32, 3 + 2 + 2 batches.
  SUBCASE("203 rows") {
    n = 203;
  }
  SUBCASE("97 rows") {
    n = 97;
  }
  CAPTURE(n);
  auto train = blobs(n, 9);
  size_t batches = 0;
  for (auto b : batches_per_worker(opts, 3, n))
    batches += b;
  for (auto mode : {"bsp@1", "asp@1", "ssp:1@1", "hogwild@1", "sbp:1@1"}) {
    CAPTURE(mode);
    auto r = train_local(opts, local_with(3, mode), train, nullptr);
    REQUIRE(r.history.size() == opts.epochs);
    for (size_t e = 0; e < r.history.size(); ++e) {
      CAPTURE(e);
      CHECK(r.history[e].epoch == e + 1);
      // Every batch of every worker was trained (and pushed) once.
      CHECK(r.history[e].pushes == batches);
      CHECK(std::isfinite(r.history[e].train_loss));
    }
  }
}

TEST_CASE("a mode schedule switches modes at the stated epochs and trains "
          "to the last epoch") {
  auto train = blobs(240, 10); // 80 rows, 5 batches per worker
  auto opts = small_options();
  opts.epochs = 4;
  std::string schedule;
  std::vector<std::string> expected;
  SUBCASE("bsp, then ssp:3, then asp") {
    schedule = "bsp@1,ssp:3@2,asp@3";
    expected = {"epoch 1: mode bsp", "epoch 2: mode ssp:3 (was bsp)",
      "epoch 3: mode asp (was ssp:3)"};
  }
  SUBCASE("hogwild, then bsp, then sbp:1") {
    // From in-place updates back to messages and back to a barrier.
    schedule = "hogwild@1,bsp@2,sbp:1@4";
    expected = {"epoch 1: mode hogwild", "epoch 2: mode bsp (was hogwild)",
      "epoch 4: mode sbp:1 (was bsp)"};
  }
  CAPTURE(schedule);
  std::vector<size_t> epochs_seen;
  std::vector<std::string> lines_seen;
  local_hooks hooks;
  hooks.on_epoch = [&](const epoch_metrics& m) {
    epochs_seen.push_back(m.epoch);
  };
  hooks.on_log = [&](const std::string& line) {
    lines_seen.push_back(line);
  };
  auto r = train_local(opts, local_with(3, schedule), train, nullptr, hooks);
  REQUIRE(r.history.size() == 4);
  CHECK(epochs_seen == std::vector<size_t>{1, 2, 3, 4});
  // Exactly the switch lines, in order: none for an epoch that keeps its
  // mode.
  CHECK(r.log == expected);
  CHECK(lines_seen == r.log);
  auto modes = parse_mode_schedule(schedule);
  for (auto& m : r.history) {
    CAPTURE(m.epoch);
    CHECK(m.pushes == 3 * 5);
    CHECK(std::isfinite(m.train_loss));
    auto mode = mode_at(modes, m.epoch);
    if (mode.mode == consistency::bsp) {
      CHECK(m.max_clock_gap == 0); // lockstep
      CHECK(m.max_read_lag == 0); // every unit reads the last commit
    }
    if (mode.mode == consistency::ssp) {
      CHECK(m.max_clock_gap <= mode.param);
      CHECK(m.max_read_lag <= mode.param);
    }
  }
}

TEST_CASE("validate refuses inconsistent parameter-server options and names "
          "the option") {
  auto train = blobs(50, 11);
  auto opts = small_options();
  auto local = local_with(2, "bsp@1");
  std::string option;
  SUBCASE("zero workers") {
    local.workers = 0;
    option = "--workers";
  }
  SUBCASE("zero shards") {
    local.shards = 0;
    option = "--shards";
  }
  SUBCASE("as many backup workers as workers") {
    local.modes = parse_mode_schedule("sbp:2@1");
    option = "--backup-workers";
  }
  SUBCASE("more backup workers than workers, in a later epoch") {
    local.modes = parse_mode_schedule("bsp@1,sbp:5@2");
    option = "--backup-workers";
  }
  SUBCASE("more shards than keys") {
    // The 4-8-3 MLP has at most 14 keys (one per weight column and bias).
    local.shards = 15;
    option = "--shards";
  }
  SUBCASE("nbatches 0") {
    local.freq = update_frequency::nbatches;
    local.nbatches = 0;
    option = "--nbatches";
  }
  CAPTURE(option);
  CHECK_THROWS_WITH_AS(validate(opts, local, *train),
    doctest::Contains(option.c_str()), std::invalid_argument);
  // train_local checks the same before it starts anything.
  CHECK_THROWS_AS(
    train_local(opts, local, train, nullptr), std::invalid_argument);
}

TEST_CASE("train_local refuses a test set that does not fit the model") {
  // Found in review: such a test set made the scheduler throw during
  // validation, and train_local then waited forever.
  auto train = blobs(60, 13);
  auto test = std::make_shared<dataset>(*blobs(30, 14));
  test->x.resize(5, test->x.n_cols);
  CHECK_THROWS_WITH_AS(
    train_local(small_options(), local_with(2, "bsp@1"), train, test),
    doctest::Contains("the test set has 5 features"), std::invalid_argument);
}

TEST_CASE("validate accepts the boundary cases") {
  auto train = blobs(50, 12);
  auto opts = small_options();
  auto local = local_with(2, "sbp:1@1");
  CHECK_NOTHROW(validate(opts, local, *train));
  local.workers = 1;
  local.modes = parse_mode_schedule("bsp@1");
  local.shards = 14;
  CHECK_NOTHROW(validate(opts, local, *train));
}

TEST_CASE("an update holding a NaN reaches no shard and the run goes on, in "
          "every mode") {
  // Row 5 has a NaN feature: the batch that holds it yields a NaN
  // gradient. It must be skipped whole (not applied on one shard and
  // refused by another), once per epoch, and the model stays finite.
  auto data = test::blobs(96, 21);
  data.x(2, 5) = std::numeric_limits<float>::quiet_NaN();
  auto train = std::make_shared<const dataset>(std::move(data));
  auto opts = small_options();
  opts.epochs = 2;
  for (auto mode : {"bsp@1", "asp@1", "ssp:1@1", "hogwild@1", "sbp:1@1"}) {
    CAPTURE(mode);
    auto local = local_with(3, mode);
    local.shards = 2;
    auto r = train_local(opts, local, train, nullptr);
    REQUIRE(r.history.size() == 2);
    CHECK(r.rejected == 0);
    for (auto& m : r.history)
      CHECK(m.skipped == 1);
    for (float x : r.params.flat())
      REQUIRE(std::isfinite(x));
  }
}

TEST_CASE("two runs of the same seed get different job ids and the same "
          "model") {
  auto train = blobs(60, 3);
  auto opts = small_options();
  opts.epochs = 1;
  auto a = train_local(opts, local_with(2, "bsp@1"), train, nullptr);
  auto b = train_local(opts, local_with(2, "bsp@1"), train, nullptr);
  CHECK(a.job != b.job);
  CHECK(same_bits(flat(a.params), flat(b.params)));
}

namespace {

using ping_atom = caf::atom_constant<caf::atom("ping")>;

// An application actor that answers every `ping` with its count so far,
// starting from `start` (an argument: CAF 0.17 dereferences a null argument
// tuple when it spawns a function that takes none).
caf::behavior counter(caf::stateful_actor<size_t>* self, size_t start) {
  self->state = start;
  return {
    [=](ping_atom) {
      return ++self->state;
    },
  };
}

// The application's actor that trains: it starts the job with itself as
// the driver and hands the result to `done`.
caf::behavior embedder(caf::event_based_actor* self, job_spec spec,
  std::shared_ptr<const dataset> train, caf::actor done) {
  start_job(
    self->system(), spec, train, nullptr, caf::actor_cast<caf::actor>(self));
  return {
    [](const epoch_metrics&) {},
    [](const progress_report&) {},
    [](const std::string&) {},
    [=](run_result& r) {
      self->send(done, std::move(r));
      self->quit();
    },
    [=](caf::error& err) {
      self->send(done, std::move(err));
      self->quit();
    },
  };
}

} // namespace

TEST_CASE("an application actor gets the training result as a message while "
          "another actor of its system keeps answering") {
  caf::actor_system_config cfg;
  caf::actor_system sys{test::configured(cfg)};
  caf::scoped_actor self{sys};
  auto train = blobs(6000, 3);
  auto opts = test::small_options("mlp", "sgd", 0.1f, 6, 2);
  local_options local;
  local.workers = 2;
  auto spec = make_job_spec(opts, local, *train);
  auto count = sys.spawn(counter, size_t{0});
  sys.spawn(embedder, spec, train, caf::actor_cast<caf::actor>(self));
  // Ask the counter, one request after the other, until the result came;
  // each answer is a request served while the job ran.
  size_t answered = 0;
  std::optional<run_result> result;
  while (!result) {
    self->request(count, std::chrono::seconds(60), ping_atom::value)
      .receive(
        [&](size_t n) {
          answered = n;
        },
        [&](caf::error& err) {
          FAIL(sys.render(err));
        });
    self->receive(
      [&](run_result& r) {
        result = std::move(r);
      },
      [&](caf::error& err) {
        FAIL(sys.render(err));
      },
      // Only what is in the mailbox already: no wait.
      caf::after(std::chrono::seconds(0)) >> [] {});
  }
  self->send_exit(count, caf::exit_reason::user_shutdown);
  CHECK(result->history.size() == 6);
  CHECK(result->params.size()
        == parameter_set{make_model(opts.model)->shapes()}.flat().size());
  CHECK(answered > 1);
}

namespace {

// A custom model for the registry: an MLP under another name (so its
// results can be compared with the built-in one's), built by its factory.
class renamed_mlp : public mlp {
public:
  explicit renamed_mlp(const model_spec& spec)
    : mlp(builtin(spec)), spec_(spec) {}

  const model_spec& spec() const override {
    return spec_;
  }

  std::unique_ptr<model> clone() const override {
    return std::make_unique<renamed_mlp>(spec_);
  }

private:
  static model_spec builtin(model_spec spec) {
    spec.kind = "mlp";
    return spec;
  }

  model_spec spec_;
};

} // namespace

TEST_CASE("a registered custom model trains through the same actors, and an "
          "unknown one is refused by name") {
  register_model("test-renamed-mlp", [](const model_spec& spec) {
    return std::make_unique<renamed_mlp>(spec);
  });
  auto train = blobs(240, 5);
  auto opts = small_options();
  opts.model.kind = "mlp";
  auto builtin = train_local(opts, local_with(2, "bsp@1"), train, nullptr);
  opts.model.kind = "test-renamed-mlp";
  auto custom = train_local(opts, local_with(2, "bsp@1"), train, nullptr);
  // The same computation under another name: the same model, bit for bit.
  CHECK(same_bits(flat(custom.params), flat(builtin.params)));
  CHECK(custom.history.size() == builtin.history.size());
  opts.model.kind = "test-never-registered";
  std::string why;
  try {
    train_local(opts, local_with(2, "bsp@1"), train, nullptr);
  } catch (const std::invalid_argument& e) {
    why = e.what();
  }
  CHECK(why.find("\"test-never-registered\"") != std::string::npos);
  CHECK(why.find("test-renamed-mlp") != std::string::npos);
}

TEST_CASE("a registered update rule updates the shards, and a job naming an "
          "unknown one is refused by name") {
  register_update_rule("test-doubled-sgd", rule_factory(test::doubled_sgd{}));
  auto train = blobs(240, 5);
  auto opts = small_options();
  opts.optimizer.kind = "sgd";
  opts.schedule.base = 0.1f;
  auto builtin = train_local(opts, local_with(2, "bsp@1"), train, nullptr);
  opts.optimizer.kind = "test-doubled-sgd";
  opts.schedule.base = 0.05f;
  auto local = local_with(2, "bsp@1");
  local.shards = 2;
  auto custom = train_local(opts, local, train, nullptr);
  CHECK(same_bits(flat(custom.params), flat(builtin.params)));
  opts.optimizer.kind = "test-never-registered";
  std::string why;
  try {
    train_local(opts, local, train, nullptr);
  } catch (const std::invalid_argument& e) {
    why = e.what();
  }
  CHECK(why.find("\"test-never-registered\"") != std::string::npos);
  CHECK(why.find("test-doubled-sgd") != std::string::npos);
  unregister_update_rule("test-doubled-sgd");
}

TEST_CASE("bsp's learning rate scales with the workers a commit averages, "
          "warmed up over the documented epochs") {
  auto train = blobs(320, 3);
  auto opts = small_options();
  opts.epochs = 4;
  opts.scaling = lr_scaling::linear;
  opts.warmup_epochs = 2;
  auto r = train_local(opts, local_with(2, "bsp@1"), train, nullptr);
  REQUIRE(r.history.size() == 4);
  float base = opts.schedule.base;
  // Each epoch reports its last commit's rate: 2 workers of 160 rows, 10
  // clocks an epoch; the last commit of epoch 1 is 0.9 epochs in.
  CHECK(r.history[0].lr == doctest::Approx(base * (1.0 + 0.9 / 2)));
  CHECK(r.history[1].lr == doctest::Approx(base * (1.0 + 1.9 / 2)));
  CHECK(r.history[2].lr == static_cast<float>(2.0 * base));
  CHECK(r.history[3].lr == static_cast<float>(2.0 * base));
  opts.scaling = lr_scaling::sqrt;
  opts.warmup_epochs = 0;
  auto s = train_local(opts, local_with(2, "bsp@1"), train, nullptr);
  CHECK(s.history[0].lr == static_cast<float>(std::sqrt(2.0) * base));
  // Asynchronous modes never scale.
  auto a = train_local(opts, local_with(2, "asp@1"), train, nullptr);
  CHECK(a.history[0].lr == doctest::Approx(base));
}
