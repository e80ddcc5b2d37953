// A scheduler spawned on its own with real shards and stand-in workers,
// driven by a scoped actor, so each step of the protocol happens in a
// known order.

#include "actors/scheduler.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>

#include "actors/server_shard.hpp"
#include "actors/shard_memory.hpp"
#include "actors/worker.hpp"
#include "linalg/data/partition.hpp"
#include "messages/errc.hpp"
#include "tests/actors/actor_support.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;

namespace {

// Guards against a hang only; every reply comes at once.
constexpr auto reply_timeout = std::chrono::seconds(30);

constexpr uint64_t job = 7;

// A worker that takes no part: it only has to exist, so that the
// scheduler can monitor it. (The unused argument keeps CAF 0.17 from
// binding a reference to its null argument tuple, which UBSan reports for
// actors spawned from functions without arguments.)
worker_actor::behavior_type idle_worker(int) {
  return {
    [](start_atom) {},
  };
}

using hold_atom = caf::atom_constant<caf::atom("hold")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using log_atom = caf::atom_constant<caf::atom("log")>;

// A shard stand-in that answers every request at once, except that after
// `hold` it holds the next mode request until `release`, and tells
// `observer` "mode held" when it holds one. It keeps the names of the
// requests it got and of each release, in order, and answers `log` with
// them ("mode,release,stats,pull").
struct stand_in_state {
  std::string log;
  bool hold = false;
  std::optional<caf::response_promise> held;
};

caf::behavior stand_in_shard(
  caf::stateful_actor<stand_in_state>* self, size_t size, caf::actor observer) {
  auto note = [=](const char* what) {
    auto& log = self->state.log;
    log += log.empty() ? "" : ",";
    log += what;
  };
  return {
    [=](push_atom, const gradient_push&) -> uint64_t {
      note("push");
      return 0;
    },
    [=](pull_atom, const parameter_pull&) -> parameter_slice {
      note("pull");
      parameter_slice slice;
      slice.job = job;
      slice.values.assign(size, 0.0f);
      return slice;
    },
    [=](commit_atom, const commit_request&) -> uint64_t {
      note("commit");
      return 0;
    },
    [=](mode_atom, const shard_mode&) -> caf::result<uint64_t> {
      note("mode");
      if (!self->state.hold)
        return uint64_t{0};
      self->state.hold = false;
      self->state.held = self->make_response_promise();
      self->send(observer, std::string{"mode held"});
      return caf::delegated<uint64_t>{};
    },
    [=](stats_atom) -> shard_stats {
      note("stats");
      return shard_stats{};
    },
    [=](hold_atom) {
      self->state.hold = true;
    },
    [=](release_atom) {
      note("release");
      if (self->state.held) {
        self->state.held->deliver(uint64_t{0});
        self->state.held.reset();
      }
    },
    [=](log_atom) {
      return self->state.log;
    },
  };
}

// A scheduler for `k` workers over one shard of an MLP 4-8-3 (bsp,
// `epochs` epochs), and `k` idle stand-ins that the test joins by hand. The
// shard is a real one, or with `stand_in` the stand-in above reporting to
// the scoped actor.
struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{test::configured(cfg)};
  caf::scoped_actor self{sys};
  std::vector<server_shard_actor> shards;
  caf::actor stand_in;
  std::vector<worker_actor> workers;
  scheduler_actor sched;
  /// Plans delivered to the joins the test sent.
  std::vector<epoch_plan> plans;

  explicit fixture(size_t k, bool with_stand_in = false, size_t epochs = 2) {
    auto opts
      = test::small_options("mlp", optimizer_kind::sgd, 0.1f, epochs, 3);
    auto net = make_model(opts.model);
    auto map
      = std::make_shared<const shard_map>(shard_map::make(net->shapes(), 1));
    if (with_stand_in) {
      stand_in = sys.spawn(
        stand_in_shard, map->sizes[0], caf::actor_cast<caf::actor>(self));
      shards.push_back(caf::actor_cast<server_shard_actor>(stand_in));
    } else {
      auto mem = std::make_shared<shard_memory>();
      mem->values.assign(map->sizes[0], 0.0f);
      mem->opt = make_optimizer(opts.optimizer, map->sizes[0]);
      shards.push_back(
        sys.spawn(server_shard, shard_config{job, 0, k, map}, mem));
    }
    scheduler_config sc;
    sc.job = job;
    sc.workers = k;
    sc.opts = opts;
    sc.modes = {mode_switch{}};
    sc.shards = shards;
    sc.map = map;
    sched = sys.spawn(scheduler, std::move(sc));
    for (size_t w = 0; w < k; ++w)
      workers.push_back(sys.spawn(idle_worker, 0));
  }

  ~fixture() {
    for (auto& s : shards)
      self->send_exit(s, caf::exit_reason::user_shutdown);
    for (auto& w : workers)
      self->send_exit(w, caf::exit_reason::user_shutdown);
    self->send_exit(sched, caf::exit_reason::user_shutdown);
  }

  // Receives until a text message (a notice of the stand-in or a log line
  // of the scheduler) that starts with `prefix`, keeping the plans that
  // arrive meanwhile.
  void wait_for(const std::string& prefix) {
    bool seen = false;
    while (!seen)
      self->receive(
        [&](const std::string& line) {
          seen = line.rfind(prefix, 0) == 0;
        },
        [&](epoch_plan& plan) {
          plans.push_back(plan);
        },
        caf::after(reply_timeout) >>
          [&] {
            FAIL("no message starting with \"" << prefix << "\"");
          });
  }

  // Receives until `n` plans arrived in all.
  void wait_for_plans(size_t n) {
    while (plans.size() < n)
      self->receive([&](const std::string&) {},
        [&](epoch_plan& plan) {
          plans.push_back(plan);
        },
        caf::after(reply_timeout) >>
          [&] {
            FAIL("waiting for " << n << " plans, got " << plans.size());
          });
  }

  std::string shard_log() {
    std::string result;
    self->request(stand_in, reply_timeout, log_atom::value)
      .receive(
        [&](std::string& log) {
          result = std::move(log);
        },
        [&](caf::error& err) {
          FAIL(sys.render(err));
        });
    return result;
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

TEST_CASE("a worker killed at any point of the start sequence leaves a run "
          "that finishes with the other") {
  // Points: 0 after both joined, before the run request; 1 while the first
  // epoch's mode request to the shard is out; 2 after the first plans.
  for (int point : {0, 1, 2}) {
    CAPTURE(point);
    fixture f{2, true, 1};
    auto kill = [&] {
      f.self->send_exit(f.workers[1], caf::exit_reason::kill);
    };
    f.self->send(f.stand_in, hold_atom::value);
    f.self->send(f.sched, join_atom::value, uint32_t{0}, f.workers[0]);
    f.self->send(f.sched, join_atom::value, uint32_t{1}, f.workers[1]);
    if (point == 0)
      kill();
    auto run = f.self->request(f.sched, reply_timeout, run_atom::value);
    f.wait_for("mode held");
    if (point == 1) {
      kill();
      f.wait_for("worker 1 died");
    }
    f.self->send(f.stand_in, release_atom::value);
    f.wait_for_plans(point == 2 ? 2 : 1);
    for (auto& plan : f.plans) {
      CHECK_FALSE(plan.stop);
      CHECK(plan.epoch == 0);
    }
    if (point == 2) {
      kill();
      f.wait_for("worker 1 died");
    }
    // Worker 0 trains nothing and reports the end of its epoch: the run
    // ends after the one epoch.
    epoch_report report;
    report.job = job;
    report.worker = 0;
    f.self->request(f.sched, reply_timeout, epoch_atom::value, report)
      .receive(
        [&](epoch_plan& next) {
          CHECK(next.stop);
        },
        [&](caf::error& err) {
          FAIL(f.sys.render(err));
        });
    run.receive(
      [&](run_result& r) {
        CHECK(r.history.size() == 1);
      },
      [&](caf::error& err) {
        FAIL(f.sys.render(err));
      });
    // The epoch ended once: stats and the model were asked for after the
    // first mode request was answered, never before.
    CHECK(f.shard_log() == "mode,release,stats,pull");
  }
}

// Shards, a scheduler and real workers of one job on blobs() data, spawned
// as the local backend spawns them, except that the test chooses which
// workers share the shards' memory (`boards[w]`).
struct job_actors {
  caf::actor_system_config cfg;
  caf::actor_system sys{test::configured(cfg)};
  caf::scoped_actor self{sys};
  std::vector<server_shard_actor> shards;
  scheduler_actor sched;
  std::vector<worker_actor> workers;

  job_actors(const std::string& modes, size_t k, size_t n_shards, size_t epochs,
    std::vector<bool> boards, size_t rows = 120) {
    auto train = std::make_shared<const dataset>(test::blobs(rows, 8));
    auto opts
      = test::small_options("mlp", optimizer_kind::sgd, 0.1f, epochs, 5);
    auto net = make_model(opts.model);
    parameter_set init{net->shapes()};
    net->initialize(init, opts.seed);
    auto map = std::make_shared<const shard_map>(
      shard_map::make(net->shapes(), n_shards));
    auto board = std::make_shared<hogwild_board>();
    for (uint32_t s = 0; s < n_shards; ++s) {
      auto mem = std::make_shared<shard_memory>();
      mem->values.resize(map->sizes[s]);
      map->gather(s, init.flat().data(), mem->values.data());
      mem->opt = make_optimizer(opts.optimizer, map->sizes[s]);
      board->shards.push_back(mem);
      shards.push_back(
        sys.spawn(server_shard, shard_config{job, s, k, map}, mem));
    }
    scheduler_config sc;
    sc.job = job;
    sc.workers = k;
    sc.opts = opts;
    sc.modes = parse_mode_schedule(modes);
    sc.shards = shards;
    sc.map = map;
    sched = sys.spawn(scheduler, std::move(sc));
    auto parts = partition_rows(train->size(), k, opts.scheme, opts.seed);
    for (uint32_t w = 0; w < k; ++w) {
      worker_config wc;
      wc.job = job;
      wc.id = w;
      wc.opts = opts;
      wc.train = train;
      wc.rows = parts[w];
      wc.map = map;
      wc.shards = shards;
      wc.scheduler = sched;
      if (w < boards.size() && boards[w])
        wc.board = board;
      workers.push_back(sys.spawn(worker, std::move(wc)));
    }
    for (auto& w : workers)
      self->send(w, start_atom::value);
  }

  // Receives until the first epoch's metrics reach the run's requester.
  void wait_for_first_epoch() {
    bool done = false;
    while (!done)
      self->receive(
        [&](const epoch_metrics&) {
          done = true;
        },
        [](const std::string&) {},
        caf::after(reply_timeout) >>
          [&] {
            FAIL("no epoch finished");
          });
  }

  ~job_actors() {
    for (auto& s : shards)
      self->send_exit(s, caf::exit_reason::user_shutdown);
    for (auto& w : workers)
      self->send_exit(w, caf::exit_reason::user_shutdown);
    self->send_exit(sched, caf::exit_reason::user_shutdown);
  }
};

TEST_CASE("in a hogwild epoch only workers that share the shards' memory "
          "take part; one that does not refuses and the rest finish") {
  // Worker 1 gets no shared memory: it must neither push into memory the
  // others write in place nor hang the run.
  job_actors j{"hogwild@1", 2, 2, 2, {true, false}};
  run_result result;
  j.self->request(j.sched, reply_timeout, run_atom::value)
    .receive(
      [&](run_result& r) {
        result = std::move(r);
      },
      [&](caf::error& err) {
        FAIL(j.sys.render(err));
      });
  REQUIRE(result.history.size() == 2);
  CHECK(result.rejected == 0); // no push reached a shard
  bool refused = false;
  for (auto& line : result.log)
    refused |= line.find("worker 1 died") != std::string::npos
               && line.find("shares no memory") != std::string::npos;
  CHECK(refused);
  // Worker 0 alone trained both epochs in place: 60 rows, 16 a batch.
  for (auto& m : result.history)
    CHECK(m.pushes == 4);
}

TEST_CASE("a shard killed mid-run ends the run with an error naming it, in "
          "every mode") {
  for (auto mode : {"bsp@1", "asp@1", "ssp:1@1", "hogwild@1", "sbp:1@1"}) {
    CAPTURE(mode);
    // Enough rows that the second epoch is still running when the first
    // epoch's metrics reach the test.
    job_actors j{mode, 3, 2, 50, {true, true, true}, 3000};
    auto run = j.self->request(j.sched, reply_timeout, run_atom::value);
    j.wait_for_first_epoch();
    j.self->send_exit(j.shards[1], caf::exit_reason::kill);
    caf::error failure;
    run.receive(
      [&](run_result&) {
        FAIL("the run finished without shard 1");
      },
      [&](caf::error& err) {
        failure = err;
      });
    INFO(j.sys.render(failure));
    CHECK(failure == make_error(errc::job_failed, ""));
    // The shard's monitor or a request to it noticed, whichever came first.
    CHECK(j.sys.render(failure).find("server shard 1 ") != std::string::npos);
  }
}

TEST_CASE("when the scheduler dies every worker and shard stops") {
  job_actors j{"asp@1", 2, 2, 50, {}, 3000};
  j.self->send(j.sched, run_atom::value);
  for (auto& w : j.workers)
    j.self->monitor(w);
  for (auto& s : j.shards)
    j.self->monitor(s);
  j.wait_for_first_epoch();
  j.self->send_exit(j.sched, caf::exit_reason::kill);
  size_t stopped = 0;
  while (stopped < j.workers.size() + j.shards.size())
    j.self->receive(
      [&](caf::down_msg&) {
        ++stopped;
      },
      [](const epoch_metrics&) {}, [](const std::string&) {},
      [](caf::error&) {},
      caf::after(reply_timeout) >>
        [&] {
          FAIL("only " << stopped << " of the workers and shards stopped");
        });
  CHECK(stopped == 4);
}

TEST_CASE("a worker refuses its internal step message from any other actor") {
  // The worker is spawned as the local backend does, but not started: a
  // step from outside would make it compute and push out of turn.
  caf::actor_system_config cfg;
  caf::actor_system sys{test::configured(cfg)};
  auto train = std::make_shared<const dataset>(test::blobs(40, 2));
  auto opts = test::small_options("softmax", optimizer_kind::sgd, 0.1f, 1, 5);
  auto net = make_model(opts.model);
  auto map
    = std::make_shared<const shard_map>(shard_map::make(net->shapes(), 1));
  auto mem = std::make_shared<shard_memory>();
  mem->values.assign(map->sizes[0], 0.0f);
  mem->opt = make_optimizer(opts.optimizer, map->sizes[0]);
  auto shard = sys.spawn(server_shard, shard_config{job, 0, 1, map}, mem);
  scheduler_config sc;
  sc.job = job;
  sc.workers = 1;
  sc.opts = opts;
  sc.modes = {mode_switch{}};
  sc.shards = {shard};
  sc.map = map;
  auto sched = sys.spawn(scheduler, std::move(sc));
  worker_config wc;
  wc.job = job;
  wc.opts = opts;
  wc.train = train;
  wc.rows = partition_rows(train->size(), 1, opts.scheme, opts.seed)[0];
  wc.map = map;
  wc.shards = {shard};
  wc.scheduler = sched;
  auto w = sys.spawn(worker, std::move(wc));
  caf::scoped_actor self{sys};
  // What a peer that got hold of the whole interface could send.
  auto whole = caf::actor_cast<caf::actor>(w);
  caf::error refused;
  self->request(whole, reply_timeout, step_atom::value)
    .receive([] {},
      [&](caf::error& err) {
        refused = err;
      });
  CHECK(refused == make_error(errc::out_of_order, ""));
  // Nothing reached the shard.
  shard_stats stats;
  self->request(shard, reply_timeout, stats_atom::value)
    .receive(
      [&](shard_stats& s) {
        stats = s;
      },
      [&](caf::error& err) {
        FAIL(sys.render(err));
      });
  CHECK(stats.pushes == 0);
  CHECK(stats.rejected == 0);
  for (auto& a :
    {caf::actor_cast<caf::actor>(w), caf::actor_cast<caf::actor>(sched),
      caf::actor_cast<caf::actor>(shard)})
    self->send_exit(a, caf::exit_reason::user_shutdown);
}
