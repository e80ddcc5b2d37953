// A server shard spawned on its own and driven by a scoped actor, one
// request at a time, so every step happens in a known order.

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/server_shard.hpp"
#include "linalg/core/random.hpp"
#include "messages/add_message_types.hpp"
#include "messages/errc.hpp"
#include "tests/actors/actor_support.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;

namespace {

using test::configured;
using test::random_floats;

// Guards against a hang only; every reply comes at once.
constexpr auto reply_timeout = std::chrono::seconds(30);

constexpr uint64_t job = 42;

// One shard owning a 3x2 weight and a 3x1 bias (9 floats in 3 keys), sgd,
// `workers` workers, initial values from seed 1.
struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{configured(cfg)};
  std::shared_ptr<const shard_map> map;
  std::shared_ptr<shard_memory> mem;
  std::vector<float> w0;
  server_shard_actor shard;
  caf::scoped_actor self{sys};

  explicit fixture(size_t workers = 3) {
    std::vector<tensor_shape> shapes{{"W", 3, 2}, {"b", 3, 1}};
    map = std::make_shared<const shard_map>(shard_map::make(shapes, 1));
    mem = std::make_shared<shard_memory>();
    w0 = random_floats(map->sizes[0], 1);
    mem->values = w0;
    mem->opt = make_optimizer(optimizer_options{}, map->sizes[0]);
    shard = sys.spawn(server_shard, shard_config{job, 0, workers, map}, mem);
  }

  ~fixture() {
    self->send_exit(shard, caf::exit_reason::user_shutdown);
  }

  size_t size() const {
    return map->sizes[0];
  }

  gradient_push make_push(uint32_t worker, uint64_t clock, uint64_t version,
    uint64_t rows, std::vector<float> values) const {
    return gradient_push{job, worker, clock, version, rows, map->keys_of[0],
      map->lengths_of(0), std::move(values)};
  }

  // Asks the shard and returns its reply; an error reply fails the test.
  template <class T, class... Ts>
  T ask(Ts... xs) {
    T result{};
    self->request(shard, reply_timeout, std::move(xs)...)
      .receive(
        [&](T& x) {
          result = std::move(x);
        },
        [&](caf::error& err) {
          FAIL(sys.render(err));
        });
    return result;
  }

  // Sends a well-formed push; returns the shard's version.
  uint64_t push(gradient_push p) {
    return ask<uint64_t>(push_atom::value, std::move(p));
  }

  // Sends a malformed push; returns the error the shard refused it with
  // (an empty error if it was accepted).
  caf::error refused(gradient_push p) {
    caf::error result;
    self->request(shard, reply_timeout, push_atom::value, std::move(p))
      .receive([&](uint64_t) {},
        [&](caf::error& err) {
          result = std::move(err);
        });
    return result;
  }

  uint64_t set_mode(bool synchronous, float lr, bool in_place = false) {
    return ask<uint64_t>(
      mode_atom::value, shard_mode{job, synchronous, lr, in_place});
  }

  uint64_t commit(
    std::vector<uint32_t> workers, std::vector<uint64_t> late = {}) {
    return ask<uint64_t>(commit_atom::value,
      commit_request{job, 1, std::move(workers), std::move(late)});
  }

  parameter_slice pull() {
    return ask<parameter_slice>(pull_atom::value, parameter_pull{job, 0, {}});
  }

  shard_stats stats() {
    return ask<shard_stats>(stats_atom::value);
  }
};

void check_close(const std::vector<float>& actual,
  const std::vector<double>& expected, double tol) {
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    CAPTURE(i);
    CHECK(std::abs(actual[i] - expected[i]) <= tol);
  }
}

} // namespace

TEST_CASE("one synchronous clock applies exactly the row-weighted mean of "
          "the workers' gradients") {
  fixture f;
  const float lr = 0.5f;
  CHECK(f.set_mode(true, lr) == 0);
  auto g0 = random_floats(f.size(), 10);
  auto g1 = random_floats(f.size(), 11);
  auto g2 = random_floats(f.size(), 12);
  // Arrival order 2, 0, 1: the mean must not depend on it.
  CHECK(f.push(f.make_push(2, 1, 0, 32, g2)) == 0);
  CHECK(f.push(f.make_push(0, 1, 0, 64, g0)) == 0);
  CHECK(f.push(f.make_push(1, 1, 0, 64, g1)) == 0);
  // Buffered, not applied: a pull before the commit sees the old values.
  auto before = f.pull();
  CHECK(before.version == 0);
  CHECK(before.keys == f.map->keys_of[0]);
  CHECK(before.values == f.w0);
  CHECK(f.commit({0, 1, 2}) == 1);
  auto after = f.pull();
  CHECK(after.version == 1);
  // sgd: w <- w - lr * (64 g0 + 64 g1 + 32 g2) / 160, computed in double.
  std::vector<double> expected(f.size());
  for (size_t i = 0; i < f.size(); ++i)
    expected[i]
      = f.w0[i] - lr * (64.0 * g0[i] + 64.0 * g1[i] + 32.0 * g2[i]) / 160.0;
  check_close(after.values, expected, 1e-6);
  auto s = f.stats();
  CHECK(s.pushes == 3);
  CHECK(s.updates == 1);
  CHECK(s.dropped == 0);
  CHECK(s.rejected == 0);
  // A second commit with nothing buffered changes nothing.
  CHECK(f.commit({0, 1, 2}) == 1);
  CHECK(f.pull().values == after.values);
}

TEST_CASE("asynchronous mode applies each push on arrival and records its "
          "staleness") {
  fixture f;
  const float lr = 0.25f;
  f.set_mode(false, lr);
  std::vector<std::vector<float>> gs;
  for (uint64_t k = 0; k < 4; ++k)
    gs.push_back(random_floats(f.size(), 20 + k));
  // Pulled versions 0, 0, 0, 3 against shard versions 0, 1, 2, 3:
  // staleness 0, 1, 2, 0.
  std::vector<uint64_t> pulled{0, 0, 0, 3};
  std::vector<double> expected(f.w0.begin(), f.w0.end());
  for (size_t k = 0; k < gs.size(); ++k) {
    CAPTURE(k);
    CHECK(f.push(f.make_push(k % 3, k + 1, pulled[k], 16, gs[k])) == k + 1);
    for (size_t i = 0; i < f.size(); ++i)
      expected[i] -= lr * gs[k][i];
    auto now = f.pull();
    CHECK(now.version == k + 1);
    check_close(now.values, expected, 1e-6);
  }
  auto s = f.stats();
  CHECK(s.pushes == 4);
  CHECK(s.updates == 4);
  CHECK(s.measured == 4);
  CHECK(s.staleness_sum == 3.0);
  CHECK(s.max_staleness == 2);
  // Reading the counters resets them.
  auto again = f.stats();
  CHECK(again.pushes == 0);
  CHECK(again.max_staleness == 0);
}

TEST_CASE("malformed pushes are refused with an error and leave the "
          "parameters unchanged") {
  std::function<void(gradient_push&)> spoil;
  errc expected = errc::bad_shape;
  SUBCASE("a NaN") {
    spoil = [](gradient_push& p) {
      p.values[4] = std::numeric_limits<float>::quiet_NaN();
    };
    expected = errc::not_finite;
  }
  SUBCASE("an infinity") {
    spoil = [](gradient_push& p) {
      p.values[0] = -std::numeric_limits<float>::infinity();
    };
    expected = errc::not_finite;
  }
  SUBCASE("another job") {
    spoil = [](gradient_push& p) {
      p.job = job + 1;
    };
    expected = errc::wrong_job;
  }
  SUBCASE("an unknown worker") {
    spoil = [](gradient_push& p) {
      p.worker = 3;
    };
    expected = errc::bad_worker;
  }
  SUBCASE("keys the shard does not own") {
    spoil = [](gradient_push& p) {
      p.keys.back() += 1;
    };
  }
  SUBCASE("wrong lengths") {
    spoil = [](gradient_push& p) {
      p.lengths[0] += 1;
      p.lengths[1] -= 1;
    };
  }
  SUBCASE("too few values") {
    spoil = [](gradient_push& p) {
      p.values.pop_back();
    };
  }
  SUBCASE("zero rows (its weight in a mean would be 0/0)") {
    spoil = [](gradient_push& p) {
      p.rows = 0;
    };
  }
  SUBCASE("too many values") {
    spoil = [](gradient_push& p) {
      p.values.push_back(0.0f);
    };
  }
  REQUIRE(spoil);
  for (bool synchronous : {false, true}) {
    CAPTURE(synchronous);
    fixture f;
    f.set_mode(synchronous, 0.5f);
    auto good = f.make_push(1, 1, 0, 16, random_floats(f.size(), 30));
    auto bad = good;
    spoil(bad);
    auto before = f.pull();
    auto err = f.refused(bad);
    REQUIRE(err);
    CHECK(err.category() == caf::atom("paramserv"));
    CHECK(err.code() == static_cast<uint8_t>(expected));
    // A commit would apply a bad push had it been buffered.
    if (synchronous)
      f.commit({0, 1, 2});
    auto after = f.pull();
    CHECK(after.version == before.version);
    CHECK(after.values == before.values);
    auto s = f.stats();
    CHECK(s.rejected == 1);
    CHECK(s.pushes == 0);
    CHECK(s.updates == 0);
    // The same push, well formed, is accepted and applied.
    CHECK(f.push(good) == before.version + (synchronous ? 0 : 1));
    if (synchronous)
      f.commit({1});
    CHECK(f.pull().version == before.version + 1);
  }
}

TEST_CASE("sbp drops a late worker's push of a committed clock") {
  fixture f;
  const float lr = 0.5f;
  f.set_mode(true, lr);
  auto g0 = random_floats(f.size(), 40);
  auto g1 = random_floats(f.size(), 41);
  auto g2 = random_floats(f.size(), 42);
  // Clock 1 committed with workers 0 and 1; worker 2 is late for clock 1.
  std::vector<double> expected(f.size());
  for (size_t i = 0; i < f.size(); ++i)
    expected[i] = f.w0[i] - lr * (g0[i] + g1[i]) / 2.0;
  CHECK(f.push(f.make_push(0, 1, 0, 16, g0)) == 0);
  CHECK(f.push(f.make_push(1, 1, 0, 16, g1)) == 0);
  SUBCASE("the late push arrives after the commit") {
    CHECK(f.commit({0, 1}, {2, 1}) == 1);
    CHECK(f.push(f.make_push(2, 1, 0, 16, g2)) == 1);
  }
  SUBCASE("the late push arrived before the commit") {
    CHECK(f.push(f.make_push(2, 1, 0, 16, g2)) == 0);
    CHECK(f.commit({0, 1}, {2, 1}) == 1);
  }
  auto after = f.pull();
  CHECK(after.version == 1);
  check_close(after.values, expected, 1e-6);
  auto s = f.stats();
  CHECK(s.dropped == 1);
  CHECK(s.pushes == 3);
  CHECK(s.updates == 1);
  // Worker 2's next clock is on time again and counts.
  CHECK(f.push(f.make_push(0, 2, 1, 16, g0)) == 1);
  CHECK(f.push(f.make_push(1, 2, 1, 16, g1)) == 1);
  CHECK(f.push(f.make_push(2, 2, 1, 16, g2)) == 1);
  CHECK(f.commit({0, 1, 2}) == 2);
  for (size_t i = 0; i < f.size(); ++i)
    expected[i] -= lr * (double{g0[i]} + g1[i] + g2[i]) / 3.0;
  check_close(f.pull().values, expected, 1e-6);
  CHECK(f.stats().dropped == 0);
}

TEST_CASE("a buffered push of a worker the commit neither includes nor marks "
          "late is lost, not late") {
  // Worker 2 pushed clock 1 and died before asking for its clock: the
  // scheduler commits workers 0 and 1 without it and marks nobody late.
  fixture f;
  const float lr = 0.5f;
  f.set_mode(true, lr);
  auto g0 = random_floats(f.size(), 50);
  auto g1 = random_floats(f.size(), 51);
  CHECK(f.push(f.make_push(0, 1, 0, 16, g0)) == 0);
  CHECK(f.push(f.make_push(1, 1, 0, 16, g1)) == 0);
  CHECK(f.push(f.make_push(2, 1, 0, 16, random_floats(f.size(), 52))) == 0);
  CHECK(f.commit({0, 1}) == 1);
  std::vector<double> expected(f.size());
  for (size_t i = 0; i < f.size(); ++i)
    expected[i] = f.w0[i] - lr * (double{g0[i]} + g1[i]) / 2.0;
  check_close(f.pull().values, expected, 1e-6);
  auto s = f.stats();
  CHECK(s.pushes == 3);
  CHECK(s.updates == 1);
  CHECK(s.dropped == 0);
  CHECK(s.lost == 1);
}

TEST_CASE("while workers update a shard in place (hogwild) it refuses "
          "pushes and leaves the model unchanged") {
  fixture f;
  f.set_mode(false, 0.5f, true);
  auto err = f.refused(f.make_push(0, 1, 0, 16, random_floats(f.size(), 60)));
  CHECK(err == make_error(errc::out_of_order, ""));
  CHECK(f.pull().values == f.w0);
  CHECK(f.stats().rejected == 1);
  // The next epoch's mode lifts it.
  f.set_mode(false, 0.5f);
  CHECK(f.push(f.make_push(0, 1, 0, 16, random_floats(f.size(), 61))) == 1);
}
