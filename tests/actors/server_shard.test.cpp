// A server shard spawned on its own and driven by scoped actors, one
// request at a time, so every step happens in a known order.

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/server_shard.hpp"
#include "messages/add_message_types.hpp"
#include "messages/errc.hpp"
#include "messages/job_messages.hpp"
#include "messages/scheduler_actor.hpp"
#include "tests/actors/actor_support.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;

namespace {

using test::configured;
using test::random_floats;

// Guards against a hang only; every reply comes at once.
constexpr auto reply_timeout = std::chrono::seconds(30);

constexpr uint64_t job = 42;

// Floats the shard owns: a 3x2 weight and a 3x1 bias.
constexpr size_t params = 9;

// One shard of a job of `workers` workers, sgd, initial values from seed 1,
// spawned without a node. The scoped actor `self` plays the scheduler and
// every worker: the shard registers with it and gets its slice from it, and
// its roster names `self` under every worker id.
struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{configured(cfg)};
  caf::scoped_actor self{sys};
  std::vector<float> w0 = random_floats(params, 1);
  server_shard_actor shard;

  explicit fixture(uint32_t workers = 3) {
    shard = sys.spawn(server_shard,
      shard_config{caf::actor_cast<scheduler_actor>(self), nullptr});
    self->receive(
      [&](register_atom, const registration& reg) {
        CHECK(reg.role == node_role::server);
        CHECK(reg.node.empty());
        CHECK(!reg.shares_memory);
        CHECK(reg.protocol == protocol_version);
      },
      caf::after(reply_timeout) >>
        [&] {
          FAIL("the shard did not register");
        });
    self->send(
      shard, shard_slice{job, 0, workers, w0, optimizer_options{}, 0, 0, {}});
    std::vector<caf::actor> roster(workers, caf::actor_cast<caf::actor>(self));
    // The slice was sent first, so the roster finds the shard with it.
    CHECK(ask<uint64_t>(roster_atom::value, worker_roster{job, roster}) == 0);
  }

  ~fixture() {
    self->send_exit(shard, caf::exit_reason::user_shutdown);
  }

  gradient_push make_push(uint32_t worker, uint64_t clock, uint64_t version,
    uint64_t rows, std::vector<float> values) const {
    return gradient_push{job, worker, clock, version, rows, std::move(values)};
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

  // Asks the shard from `from` something it should refuse (its reply type
  // is T); returns the error it refused it with (an empty error if it
  // answered).
  template <class T, class... Ts>
  caf::error refused_from(caf::scoped_actor& from, Ts... xs) {
    caf::error result;
    from->request(shard, reply_timeout, std::move(xs)...)
      .receive([&](T&) {},
        [&](caf::error& err) {
          result = std::move(err);
        });
    return result;
  }

  // Sends a well-formed push; returns the shard's version.
  uint64_t push(gradient_push p) {
    return ask<uint64_t>(push_atom::value, std::move(p));
  }

  // Sends a malformed push as worker; returns the error the shard refused it
  // with (an empty error if it was accepted).
  caf::error refused(gradient_push p) {
    return refused_from<uint64_t>(self, push_atom::value, std::move(p));
  }

  uint64_t set_mode(consistency mode, float lr) {
    return ask<uint64_t>(mode_atom::value, shard_mode{job, mode, lr});
  }

  uint64_t commit(
    std::vector<uint32_t> workers, std::vector<uint64_t> late = {}) {
    return ask<uint64_t>(commit_atom::value,
      commit_request{job, 1, std::move(workers), std::move(late)});
  }

  // A pull as worker `reader` (or as the scheduler: scheduler_reader).
  parameter_slice pull(uint32_t reader = 0) {
    return ask<parameter_slice>(pull_atom::value, parameter_pull{job, reader});
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

// Matches any error of this code (caf::error's == compares code and
// category only).
caf::error code_of(errc x) {
  return make_error(x, "");
}

} // namespace

TEST_CASE("one synchronous clock applies exactly the row-weighted mean of "
          "the workers' gradients") {
  consistency mode = consistency::bsp;
  SUBCASE("bsp") {
    mode = consistency::bsp;
  }
  SUBCASE("sbp") {
    mode = consistency::sbp;
  }
  CAPTURE(to_string(mode));
  fixture f;
  const float lr = 0.5f;
  CHECK(f.set_mode(mode, lr) == 0);
  auto g0 = random_floats(params, 10);
  auto g1 = random_floats(params, 11);
  auto g2 = random_floats(params, 12);
  // Arrival order 2, 0, 1: the mean must not depend on it.
  CHECK(f.push(f.make_push(2, 1, 0, 32, g2)) == 0);
  CHECK(f.push(f.make_push(0, 1, 0, 64, g0)) == 0);
  CHECK(f.push(f.make_push(1, 1, 0, 64, g1)) == 0);
  // Buffered, not applied: a pull before the commit sees the old values.
  const std::vector<uint64_t> none_applied{0, 0, 0};
  const std::vector<uint64_t> clock_1_applied{1, 1, 1};
  auto before = f.pull();
  CHECK(before.version == 0);
  CHECK(before.values.get() == f.w0);
  CHECK(before.applied == none_applied);
  CHECK(f.commit({0, 1, 2}) == 1);
  auto after = f.pull();
  CHECK(after.version == 1);
  CHECK(after.applied == clock_1_applied);
  // sgd: w <- w - lr * (64 g0 + 64 g1 + 32 g2) / 160, computed in double.
  std::vector<double> expected(params);
  for (size_t i = 0; i < params; ++i)
    expected[i]
      = f.w0[i] - lr * (64.0 * g0[i] + 64.0 * g1[i] + 32.0 * g2[i]) / 160.0;
  check_close(after.values.get(), expected, 1e-6);
  auto s = f.stats();
  CHECK(s.pushes == 3);
  CHECK(s.updates == 1);
  CHECK(s.dropped == 0);
  CHECK(s.rejected == 0);
  // A second commit with nothing buffered changes nothing.
  CHECK(f.commit({0, 1, 2}) == 1);
  CHECK(f.pull().values == after.values);
}

TEST_CASE("asynchronous modes apply each push on arrival and record its "
          "staleness") {
  consistency mode = consistency::asp;
  SUBCASE("asp") {
    mode = consistency::asp;
  }
  SUBCASE("ssp") {
    mode = consistency::ssp;
  }
  CAPTURE(to_string(mode));
  fixture f;
  const float lr = 0.25f;
  f.set_mode(mode, lr);
  std::vector<std::vector<float>> gs;
  for (uint64_t k = 0; k < 4; ++k)
    gs.push_back(random_floats(params, 20 + k));
  // Pulled versions 0, 0, 0, 3 against shard versions 0, 1, 2, 3:
  // staleness 0, 1, 2, 0.
  std::vector<uint64_t> pulled{0, 0, 0, 3};
  std::vector<double> expected(f.w0.begin(), f.w0.end());
  for (uint32_t k = 0; k < gs.size(); ++k) {
    CAPTURE(k);
    CHECK(f.push(f.make_push(k % 3, k + 1, pulled[k], 16, gs[k])) == k + 1);
    for (size_t i = 0; i < params; ++i)
      expected[i] -= lr * gs[k][i];
    auto now = f.pull();
    CHECK(now.version == k + 1);
    check_close(now.values.get(), expected, 1e-6);
  }
  // Worker 0 pushed clocks 1 and 4, worker 1 clock 2, worker 2 clock 3.
  const std::vector<uint64_t> applied{4, 2, 3};
  CHECK(f.pull().applied == applied);
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
      auto v = p.values.get();
      v[4] = std::numeric_limits<float>::quiet_NaN();
      p.values = std::move(v);
    };
    expected = errc::not_finite;
  }
  SUBCASE("an infinity") {
    spoil = [](gradient_push& p) {
      auto v = p.values.get();
      v[0] = -std::numeric_limits<float>::infinity();
      p.values = std::move(v);
    };
    expected = errc::not_finite;
  }
  SUBCASE("another job") {
    spoil = [](gradient_push& p) {
      p.job = job + 1;
    };
    expected = errc::wrong_job;
  }
  SUBCASE("an unknown worker id (no actor registered under it)") {
    spoil = [](gradient_push& p) {
      p.worker = 3;
    };
    expected = errc::bad_sender;
  }
  SUBCASE("too few values") {
    spoil = [](gradient_push& p) {
      auto v = p.values.get();
      v.pop_back();
      p.values = std::move(v);
    };
  }
  SUBCASE("zero rows (its weight in a mean would be 0/0)") {
    spoil = [](gradient_push& p) {
      p.rows = 0;
    };
  }
  SUBCASE("too many values") {
    spoil = [](gradient_push& p) {
      auto v = p.values.get();
      v.push_back(0.0f);
      p.values = std::move(v);
    };
  }
  REQUIRE(spoil);
  for (auto mode :
    {consistency::asp, consistency::ssp, consistency::bsp, consistency::sbp}) {
    CAPTURE(to_string(mode));
    bool synchronous = rules_of(mode).buffered;
    fixture f;
    f.set_mode(mode, 0.5f);
    auto good = f.make_push(1, 1, 0, 16, random_floats(params, 30));
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
    CHECK(after.values.get() == before.values.get());
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
  f.set_mode(consistency::sbp, lr);
  auto g0 = random_floats(params, 40);
  auto g1 = random_floats(params, 41);
  auto g2 = random_floats(params, 42);
  // Clock 1 committed with workers 0 and 1; worker 2 is late for clock 1.
  std::vector<double> expected(params);
  for (size_t i = 0; i < params; ++i)
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
  const std::vector<uint64_t> applied{1, 1, 0};
  CHECK(after.applied == applied);
  check_close(after.values.get(), expected, 1e-6);
  auto s = f.stats();
  CHECK(s.dropped == 1);
  CHECK(s.pushes == 3);
  CHECK(s.updates == 1);
  // Worker 2's next clock is on time again and counts.
  CHECK(f.push(f.make_push(0, 2, 1, 16, g0)) == 1);
  CHECK(f.push(f.make_push(1, 2, 1, 16, g1)) == 1);
  CHECK(f.push(f.make_push(2, 2, 1, 16, g2)) == 1);
  CHECK(f.commit({0, 1, 2}) == 2);
  for (size_t i = 0; i < params; ++i)
    expected[i] -= lr * (double{g0[i]} + g1[i] + g2[i]) / 3.0;
  check_close(f.pull().values.get(), expected, 1e-6);
  CHECK(f.stats().dropped == 0);
}

TEST_CASE("a buffered push of a worker the commit neither includes nor marks "
          "late is lost, not late") {
  // Worker 2 pushed clock 1 and died before asking for its clock: the
  // scheduler commits workers 0 and 1 without it and marks nobody late.
  fixture f;
  const float lr = 0.5f;
  f.set_mode(consistency::bsp, lr);
  auto g0 = random_floats(params, 50);
  auto g1 = random_floats(params, 51);
  CHECK(f.push(f.make_push(0, 1, 0, 16, g0)) == 0);
  CHECK(f.push(f.make_push(1, 1, 0, 16, g1)) == 0);
  CHECK(f.push(f.make_push(2, 1, 0, 16, random_floats(params, 52))) == 0);
  CHECK(f.commit({0, 1}) == 1);
  std::vector<double> expected(params);
  for (size_t i = 0; i < params; ++i)
    expected[i] = f.w0[i] - lr * (double{g0[i]} + g1[i]) / 2.0;
  check_close(f.pull().values.get(), expected, 1e-6);
  auto s = f.stats();
  CHECK(s.pushes == 3);
  CHECK(s.updates == 1);
  CHECK(s.dropped == 0);
  CHECK(s.lost == 1);
}

TEST_CASE("while workers update a shard in place (hogwild) it refuses "
          "pushes and leaves the model unchanged") {
  fixture f;
  f.set_mode(consistency::hogwild, 0.5f);
  auto err = f.refused(f.make_push(0, 1, 0, 16, random_floats(params, 60)));
  CHECK(err == code_of(errc::out_of_order));
  CHECK(f.pull().values.get() == f.w0);
  CHECK(f.stats().rejected == 1);
  // The next epoch's mode lifts it.
  f.set_mode(consistency::asp, 0.5f);
  CHECK(f.push(f.make_push(0, 1, 0, 16, random_floats(params, 61))) == 1);
}

TEST_CASE("a push or pull from an actor not registered under the worker id "
          "it names is refused, counted, and leaves the model unchanged") {
  fixture f;
  // asp: the push would be applied at once had it been taken.
  f.set_mode(consistency::asp, 0.5f);
  caf::scoped_actor other{f.sys};
  auto push = f.make_push(0, 1, 0, 16, random_floats(params, 70));
  auto push_err = f.refused_from<uint64_t>(other, push_atom::value, push);
  CHECK(push_err == code_of(errc::bad_sender));
  auto pull_err = f.refused_from<parameter_slice>(
    other, pull_atom::value, parameter_pull{job, 0});
  CHECK(pull_err == code_of(errc::bad_sender));
  auto s = f.stats();
  CHECK(s.rejected == 2);
  CHECK(s.pushes == 0);
  CHECK(s.updates == 0);
  auto now = f.pull();
  CHECK(now.version == 0);
  CHECK(now.values.get() == f.w0);
  // The same push from the registered worker is well formed and applied.
  CHECK(f.push(push) == 1);
}

TEST_CASE("control messages from anyone but the scheduler are refused") {
  fixture f;
  const float lr = 0.5f;
  f.set_mode(consistency::bsp, lr);
  auto g0 = random_floats(params, 80);
  auto g1 = random_floats(params, 81);
  CHECK(f.push(f.make_push(0, 1, 0, 16, g0)) == 0);
  // Each would change the shard had it been taken: asp would drop the
  // buffered push and apply the next on arrival, the commit would apply the
  // buffered push, the stats request would reset the counters.
  caf::scoped_actor other{f.sys};
  auto mode_err = f.refused_from<uint64_t>(
    other, mode_atom::value, shard_mode{job, consistency::asp, lr});
  CHECK(mode_err == code_of(errc::bad_sender));
  auto commit_err = f.refused_from<uint64_t>(
    other, commit_atom::value, commit_request{job, 1, {0}, {}});
  CHECK(commit_err == code_of(errc::bad_sender));
  auto stats_err = f.refused_from<shard_stats>(other, stats_atom::value);
  CHECK(stats_err == code_of(errc::bad_sender));
  auto pull_err = f.refused_from<parameter_slice>(
    other, pull_atom::value, parameter_pull{job, scheduler_reader});
  CHECK(pull_err == code_of(errc::bad_sender));
  // A slice is a message, not a request: its refusal comes back as an error
  // message.
  other->send(f.shard, shard_slice{job, 0, 3, random_floats(params, 82),
                         optimizer_options{}, 0, 0, {}});
  other->receive(
    [&](caf::error& err) {
      CHECK(err == code_of(errc::bad_sender));
    },
    caf::after(reply_timeout) >>
      [&] {
        FAIL("the shard did not answer the slice");
      });
  // Still bsp: worker 1's push is buffered beside worker 0's, and the model
  // is unchanged until the scheduler commits both.
  CHECK(f.push(f.make_push(1, 1, 0, 16, g1)) == 0);
  auto before = f.pull();
  CHECK(before.version == 0);
  CHECK(before.values.get() == f.w0);
  CHECK(f.pull(scheduler_reader).values.get() == f.w0);
  auto s = f.stats();
  CHECK(s.rejected == 5);
  CHECK(s.pushes == 2);
  CHECK(s.updates == 0);
  CHECK(f.commit({0, 1}) == 1);
  std::vector<double> expected(params);
  for (size_t i = 0; i < params; ++i)
    expected[i] = f.w0[i] - lr * (double{g0[i]} + g1[i]) / 2.0;
  check_close(f.pull().values.get(), expected, 1e-6);
}

TEST_CASE("every pull of one version shares one buffer; a new version gets "
          "a new one") {
  fixture f;
  const float lr = 0.5f;
  f.set_mode(consistency::asp, lr);
  // In one process CAF passes the reply without copying it.
  auto a = f.pull();
  auto b = f.pull(1);
  auto c = f.pull(scheduler_reader);
  CHECK(a.version == 0);
  CHECK(a.values.get() == f.w0);
  CHECK(b.values.data() == a.values.data());
  CHECK(c.values.data() == a.values.data());
  auto g = random_floats(params, 90);
  CHECK(f.push(f.make_push(0, 1, 0, 16, g)) == 1);
  auto d = f.pull();
  CHECK(d.version == 1);
  CHECK(d.values.data() != a.values.data());
  std::vector<double> expected(params);
  for (size_t i = 0; i < params; ++i)
    expected[i] = f.w0[i] - lr * double{g[i]};
  check_close(d.values.get(), expected, 1e-6);
  CHECK(f.pull(2).values.data() == d.values.data());
  // The buffer of version 0 is not written to: its slices still hold it.
  CHECK(a.values.get() == f.w0);
}

TEST_CASE("a push is applied once: one sent again is acknowledged unapplied, "
          "and after a restore so is every push of the abandoned work") {
  fixture f;
  f.set_mode(consistency::asp, 0.5f);
  auto g = random_floats(params, 2);
  CHECK(f.push(f.make_push(0, 1, 0, 16, g)) == 1);
  // The same clock again (a duplicate, or sent again after a lost reply).
  CHECK(f.push(f.make_push(0, 1, 0, 16, g)) == 1);
  auto s = f.stats();
  CHECK(s.updates == 1);
  CHECK(s.duplicates == 1);
  // Back to the initial values, with worker 0's pushes up to clock 5 and
  // worker 1's up to clock 2 fenced off (they were sent before the halt).
  shard_slice back{job, 0, 3, f.w0, optimizer_options{}, 0, 0, {}, {5, 2, 0}};
  CHECK(f.ask<uint64_t>(restore_atom::value, back) == 0);
  CHECK(f.pull().values == shared_floats{f.w0});
  CHECK(f.push(f.make_push(0, 4, 0, 16, g)) == 0); // abandoned: not applied
  CHECK(f.push(f.make_push(1, 2, 0, 16, g)) == 0);
  CHECK(f.pull().values == shared_floats{f.w0});
  CHECK(f.push(f.make_push(0, 6, 0, 16, g)) == 1); // new work
  CHECK(f.push(f.make_push(2, 1, 0, 16, g)) == 2);
  s = f.stats();
  CHECK(s.updates == 2);
  CHECK(s.duplicates == 2);
  // A restore of the wrong size is refused and changes nothing.
  shard_slice wrong{job, 0, 3, {1.0f}, optimizer_options{}, 0, 0, {}, {}};
  caf::error err;
  f.self->request(f.shard, reply_timeout, restore_atom::value, wrong)
    .receive([](uint64_t) {},
      [&](caf::error& e) {
        err = std::move(e);
      });
  CHECK(err);
  CHECK(f.push(f.make_push(0, 7, 0, 16, g)) == 3);
}

TEST_CASE("a push of staleness s is applied with the step its staleness "
          "remedy documents") {
  fixture f;
  float lr = 0.5f;
  auto g = random_floats(params, 9);
  // Three updates by worker 1 take the shard to version 3; worker 0's push
  // was computed from version 0: staleness 3.
  auto advance = [&] {
    for (uint64_t c = 1; c <= 3; ++c)
      f.push(f.make_push(1, c, c - 1, 1, random_floats(params, 10 + c)));
  };
  SUBCASE("divide: the step is lr / s") {
    f.ask<uint64_t>(mode_atom::value,
      shard_mode{job, consistency::asp, lr, staleness_remedy::divide, 0});
    advance();
    auto before = f.pull().values.get();
    f.push(f.make_push(0, 1, 0, 1, g));
    auto after = f.pull().values.get();
    for (size_t i = 0; i < params; ++i) {
      CAPTURE(i);
      CHECK(after[i] == before[i] - (lr / 3.0f) * g[i]);
    }
  }
  SUBCASE("none: the step is lr") {
    f.ask<uint64_t>(mode_atom::value,
      shard_mode{job, consistency::asp, lr, staleness_remedy::none, 0});
    advance();
    auto before = f.pull().values.get();
    f.push(f.make_push(0, 1, 0, 1, g));
    auto after = f.pull().values.get();
    for (size_t i = 0; i < params; ++i)
      CHECK(after[i] == before[i] - lr * g[i]);
  }
  SUBCASE("dc: g + lambda * g * g * (w_now - w_then), w_then what worker 0 "
          "pulled") {
    float lambda = 2.0f;
    f.ask<uint64_t>(mode_atom::value,
      shard_mode{job, consistency::asp, lr, staleness_remedy::dc, lambda});
    auto then = f.pull(0).values.get(); // version 0, as worker 0
    advance();
    auto now = f.pull().values.get();
    f.push(f.make_push(0, 1, 0, 1, g));
    auto after = f.pull().values.get();
    for (size_t i = 0; i < params; ++i) {
      CAPTURE(i);
      float compensated = g[i] + lambda * g[i] * g[i] * (now[i] - then[i]);
      CHECK(after[i] == now[i] - lr * compensated);
      CHECK(now[i] != then[i]);
    }
  }
}

TEST_CASE("a commit applies the rate the scheduler scaled for it") {
  fixture f;
  f.set_mode(consistency::bsp, 0.5f);
  auto g0 = random_floats(params, 21);
  auto g1 = random_floats(params, 22);
  f.push(f.make_push(0, 1, 0, 1, g0));
  f.push(f.make_push(1, 1, 0, 1, g1));
  auto before = f.pull().values.get();
  f.ask<uint64_t>(
    commit_atom::value, commit_request{job, 1, {0, 1}, {}, 1.0f});
  auto after = f.pull().values.get();
  for (size_t i = 0; i < params; ++i) {
    float mean = 0.5f * g0[i] + 0.5f * g1[i];
    CHECK(after[i] == before[i] - 1.0f * mean);
  }
}
