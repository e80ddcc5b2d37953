// A scheduler spawned on its own with real shards and stand-in workers,
// driven by a scoped actor, so each step of the protocol happens in a
// known order.

#include "actors/scheduler.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>

#include "actors/server_shard.hpp"
#include "actors/shard_memory.hpp"
#include "messages/errc.hpp"
#include "tests/actors/actor_support.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;

namespace {

// Guards against a hang only; every reply comes at once.
constexpr auto reply_timeout = std::chrono::seconds(30);

constexpr uint64_t job = 7;

// A worker that takes no part: it only has to exist, so that the
// scheduler can monitor it.
worker_actor::behavior_type idle_worker() {
  return {
    [](start_atom) {},
    [](step_atom) {},
  };
}

// A scheduler for `workers` workers over one shard of an MLP 4-8-3 (bsp),
// and `workers` idle stand-ins that the test joins by hand.
struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{test::configured(cfg)};
  caf::scoped_actor self{sys};
  std::vector<server_shard_actor> shards;
  std::vector<worker_actor> workers;
  scheduler_actor sched;

  explicit fixture(size_t k) {
    auto opts = test::small_options("mlp", optimizer_kind::sgd, 0.1f, 2, 3);
    auto net = make_model(opts.model);
    auto map
      = std::make_shared<const shard_map>(shard_map::make(net->shapes(), 1));
    auto mem = std::make_shared<shard_memory>();
    mem->values.assign(map->sizes[0], 0.0f);
    mem->opt = make_optimizer(opts.optimizer, map->sizes[0]);
    shards.push_back(
      sys.spawn(server_shard, shard_config{job, 0, k, map}, mem));
    scheduler_config sc;
    sc.job = job;
    sc.workers = k;
    sc.opts = opts;
    sc.modes = {mode_switch{}};
    sc.shards = shards;
    sc.map = map;
    sched = sys.spawn(scheduler, std::move(sc));
    for (size_t w = 0; w < k; ++w)
      workers.push_back(sys.spawn(idle_worker));
  }

  ~fixture() {
    for (auto& s : shards)
      self->send_exit(s, caf::exit_reason::user_shutdown);
    for (auto& w : workers)
      self->send_exit(w, caf::exit_reason::user_shutdown);
    self->send_exit(sched, caf::exit_reason::user_shutdown);
  }
};

} // namespace

TEST_CASE("a scheduler that finished with an error quits instead of "
          "answering on") {
  fixture f{1};
  // The join's reply (the first plan) goes to the scoped actor's mailbox.
  f.self->send(f.sched, join_atom::value, uint32_t{0}, f.workers[0]);
  auto run = f.self->request(f.sched, reply_timeout, run_atom::value);
  // Its only worker dies: the job ends with an error.
  f.self->send_exit(f.workers[0], caf::exit_reason::kill);
  caf::error failure;
  run.receive(
    [&](run_result&) {
      FAIL("a job without workers finished");
    },
    [&](caf::error& err) {
      failure = err;
    });
  CHECK(failure == make_error(errc::job_failed, "every worker died"));
  // A finished scheduler takes no further request.
  caf::error after;
  f.self->request(f.sched, reply_timeout, run_atom::value)
    .receive(
      [&](run_result&) {
        FAIL("a finished scheduler started another run");
      },
      [&](caf::error& err) {
        after = err;
      });
  CHECK(after == caf::sec::request_receiver_down);
}
