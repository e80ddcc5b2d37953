// paramserv::train, the one-call form: the caller's model, gradient and
// update rule, as C++ objects, train through the same actors as a job of
// registered names, and the call leaves nothing behind.

#include <doctest/doctest.h>

#include <dirent.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "actors/train.hpp"
#include "linalg/optim/optimizer.hpp"
#include "linalg/optim/update_rules.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;
using paramserv::test::same_bits;

namespace {

// Threads of this process, from /proc/self/task.
size_t thread_count() {
  size_t n = 0;
  if (auto* dir = opendir("/proc/self/task")) {
    while (auto* entry = readdir(dir))
      if (entry->d_name[0] != '.')
        ++n;
    closedir(dir);
  }
  return n;
}

// The thread count once it is `expected`, or after 10 s. A joined thread
// can stay listed in /proc/self/task a moment after pthread_join returned
// (the kernel wakes the joiner before it removes the task), which a loaded
// machine shows: the count is an event to wait for, with a bound.
size_t thread_count_settled(size_t expected) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto n = thread_count();
  while (n != expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
    n = thread_count();
  }
  return n;
}

std::shared_ptr<const dataset> blobs(size_t n, uint64_t seed) {
  return std::make_shared<const dataset>(test::blobs(n, seed));
}

// An MLP 4-8-3, sgd, 16 rows per batch, 3 epochs, 2 workers under bsp.
train_call_options small_call(float lr, uint64_t seed) {
  train_call_options o;
  o.train = test::small_options("mlp", "sgd", lr, 3, seed);
  o.run.workers = 2;
  o.run.threads = 2;
  o.run.modes = parse_mode_schedule("bsp@1");
  return o;
}

std::unique_ptr<model> small_mlp(const dataset& data) {
  model_spec spec;
  spec.kind = "mlp";
  spec.inputs = data.features();
  spec.hidden = {8};
  spec.classes = data.classes;
  return make_model(spec);
}

// The same job through train_local with the built-in names.
local_result by_name(const train_call_options& o,
  std::shared_ptr<const dataset> data, const model& net) {
  auto opts = o.train;
  opts.model = net.spec();
  return train_local(opts, o.run, data, nullptr);
}

} // namespace

TEST_CASE("train() with the model alone is the job of its built-in name, bit "
          "for bit") {
  auto data = blobs(240, 5);
  auto net = small_mlp(*data);
  auto o = small_call(0.1f, 7);
  auto called = train(*net, data, o);
  auto named = by_name(o, data, *net);
  CHECK(same_bits(called.params.flat(), named.params.flat()));
  REQUIRE(called.history.size() == 3);
  CHECK(called.history.back().train_loss == named.history.back().train_loss);
}

TEST_CASE("train() applies the caller's aggregation (update rule) and update "
          "(gradient) functions") {
  auto data = blobs(240, 5);
  auto net = small_mlp(*data);
  auto reference = by_name(small_call(0.1f, 7), data, *net);
  SUBCASE("aggregate: sgd at twice the rate, given half the rate") {
    auto o = small_call(0.05f, 7);
    o.aggregate = rule_factory(test::doubled_sgd{});
    o.run.shards = 2;
    auto called = train(*net, data, o);
    CHECK(same_bits(called.params.flat(), reference.params.flat()));
  }
  SUBCASE("update: the model's gradient doubled, given half the rate") {
    auto o = small_call(0.05f, 7);
    std::atomic<size_t> calls{0};
    // Workers call it at once: each thread computes with a model of its
    // own (a model's scratch buffers are not shared).
    o.update = [proto = std::shared_ptr<const model>(net->clone()), &calls](
                 const parameter_set& w, const arma::fmat& x,
                 std::span<const uint32_t> y, parameter_set& grad) {
      thread_local std::unique_ptr<model> mine;
      if (!mine)
        mine = proto->clone();
      float loss = mine->gradient(w, x, y, grad);
      for (auto& g : grad.flat())
        g *= 2.0f;
      calls.fetch_add(1, std::memory_order_relaxed);
      return loss;
    };
    auto called = train(*net, data, o);
    CHECK(same_bits(called.params.flat(), reference.params.flat()));
    // 240 rows, 2 workers, 16 per batch: 8 batches per worker per epoch.
    CHECK(calls.load() == 3 * 2 * 8);
  }
  SUBCASE("without them, half the rate is another model") {
    auto called = train(*net, data, small_call(0.05f, 7));
    CHECK_FALSE(same_bits(called.params.flat(), reference.params.flat()));
  }
}

TEST_CASE("train() leaves no thread, model or update rule behind, also when "
          "it fails") {
  auto data = blobs(240, 5);
  auto net = small_mlp(*data);
  auto models = known_models();
  auto rules = known_update_rules();
  auto threads = thread_count();
  auto o = small_call(0.1f, 7);
  o.aggregate = rule_factory(test::doubled_sgd{});
  auto result = train(*net, data, o);
  CHECK(result.history.size() == 3);
  CHECK(thread_count_settled(threads) == threads);
  CHECK(known_models() == models);
  CHECK(known_update_rules() == rules);
  o.train.epochs = 0;
  CHECK_THROWS_WITH_AS(
    train(*net, data, o), doctest::Contains("--epochs"), std::invalid_argument);
  CHECK(thread_count_settled(threads) == threads);
  CHECK(known_models() == models);
  CHECK(known_update_rules() == rules);
}

TEST_CASE("two train() calls are independent, one after the other and at "
          "once") {
  auto data_a = blobs(240, 5);
  auto data_b = blobs(160, 9);
  // Different models (hidden widths) and each its own update rule.
  auto net_a = small_mlp(*data_a);
  model_spec spec_b = net_a->spec();
  spec_b.hidden = {5};
  auto net_b = make_model(spec_b);
  auto call_a = small_call(0.1f, 7);
  call_a.aggregate = rule_factory(sgd{});
  auto call_b = small_call(0.05f, 3);
  call_b.aggregate = rule_factory(test::doubled_sgd{});
  auto a1 = train(*net_a, data_a, call_a);
  auto b1 = train(*net_b, data_b, call_b);
  auto a2 = train(*net_a, data_a, call_a);
  CHECK(same_bits(a1.params.flat(), a2.params.flat()));
  CHECK(a1.params.size() != b1.params.size());
  // b is sgd at 0.1 under another name, so it equals the job by name.
  auto b_named = small_call(0.1f, 3);
  CHECK(same_bits(
    b1.params.flat(), by_name(b_named, data_b, *net_b).params.flat()));
  // At once, from two threads: each gets what it got alone.
  local_result a3, b3;
  std::thread other{[&] {
    b3 = train(*net_b, data_b, call_b);
  }};
  a3 = train(*net_a, data_a, call_a);
  other.join();
  CHECK(same_bits(a3.params.flat(), a1.params.flat()));
  CHECK(same_bits(b3.params.flat(), b1.params.flat()));
}

TEST_CASE("an exception from a hook stops train() and comes out as it is, "
          "leaving nothing behind") {
  auto data = blobs(240, 5);
  auto net = small_mlp(*data);
  auto models = known_models();
  auto threads = thread_count();
  auto o = small_call(0.1f, 7);
  size_t epochs = 0;
  o.hooks.on_epoch = [&](const epoch_metrics&) {
    ++epochs;
    throw std::logic_error{"the caller stops here"};
  };
  CHECK_THROWS_WITH_AS(
    train(*net, data, o), "the caller stops here", std::logic_error);
  CHECK(epochs == 1);
  CHECK(thread_count_settled(threads) == threads);
  CHECK(known_models() == models);
}

TEST_CASE("train() refuses data that does not fit the model, naming both") {
  auto data = blobs(240, 5);
  model_spec spec;
  spec.kind = "softmax";
  spec.inputs = data->features() + 1;
  spec.classes = data->classes;
  auto net = make_model(spec);
  CHECK_THROWS_WITH_AS(train(*net, data, small_call(0.1f, 7)),
    doctest::Contains("the model expects 5 features, the training set has 4"),
    std::invalid_argument);
  CHECK_THROWS_WITH_AS(train(*net, nullptr, small_call(0.1f, 7)),
    doctest::Contains("no training data"), std::invalid_argument);
}
