// A scheduler spawned on its own with stand-in shards and workers driven
// by a scoped actor, so each step of the protocol happens in a known
// order; then whole jobs spawned as the local backend spawns them, with
// shards and workers killed or slowed on purpose.

#include "actors/scheduler.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>

#include "actors/local_backend.hpp"
#include "actors/runtime_info.hpp"
#include "actors/server_shard.hpp"
#include "actors/worker.hpp"
#include "linalg/data/partition.hpp"
#include "messages/errc.hpp"
#include "tests/actors/actor_support.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;

namespace {

// Guards against a hang only; every reply comes at once.
constexpr auto reply_timeout = std::chrono::seconds(60);

using hold_atom = caf::atom_constant<caf::atom("hold")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using log_atom = caf::atom_constant<caf::atom("log")>;
using report_atom = caf::atom_constant<caf::atom("report")>;

// A shard stand-in that registers with `sched` and answers every request at
// once, except that after `hold` it holds the next mode request, and after
// `(hold, commit)` the next commit request, until `release`; it tells
// `observer` "mode held" or "commit held" when it holds one. It keeps the
// names of what it got and of each release, in order, and answers `log`
// with them ("slice,roster,mode,release,stats,pull").
struct stand_in_state {
  std::string log;
  uint64_t job = 0;
  size_t size = 0;
  bool hold = false;
  std::optional<caf::response_promise> held;
  bool hold_commit = false;
  std::optional<caf::response_promise> held_commit;
};

caf::behavior stand_in_shard(caf::stateful_actor<stand_in_state>* self,
  scheduler_actor sched, caf::actor observer) {
  auto note = [=](const char* what) {
    auto& log = self->state.log;
    log += log.empty() ? "" : ",";
    log += what;
  };
  self->send(sched, register_atom::value,
    registration{node_role::server, "test", false, protocol_version,
      runtime_version(), "", ""});
  return {
    [=](shard_slice& slice) {
      note("slice");
      self->state.job = slice.job;
      self->state.size = slice.values.size();
    },
    [=](roster_atom, const worker_roster&) -> uint64_t {
      note("roster");
      return 0;
    },
    [=](push_atom, const gradient_push&) -> uint64_t {
      note("push");
      return 0;
    },
    [=](pull_atom, const parameter_pull&) -> parameter_slice {
      note("pull");
      parameter_slice slice;
      slice.job = self->state.job;
      slice.values = shared_floats{std::vector<float>(self->state.size)};
      return slice;
    },
    [=](commit_atom, const commit_request&) -> caf::result<uint64_t> {
      note("commit");
      if (!self->state.hold_commit)
        return uint64_t{0};
      self->state.hold_commit = false;
      self->state.held_commit = self->make_response_promise();
      self->send(observer, std::string{"commit held"});
      return caf::delegated<uint64_t>{};
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
    [=](hold_atom, commit_atom) {
      self->state.hold_commit = true;
    },
    [=](release_atom) {
      note("release");
      for (auto* held : {&self->state.held, &self->state.held_commit}) {
        if (*held) {
          (*held)->deliver(uint64_t{0});
          held->reset();
        }
      }
    },
    [=](log_atom) {
      return self->state.log;
    },
  };
}

// A worker stand-in that registers with `sched`, tells `observer` "slice"
// when it gets its slice and forwards every plan to it, and every grant as
// (grant, its id, clock); on (clock, c) it asks `sched` for clock c and,
// once `sched` answered, tells `observer` (clock, its id, c) (or the
// error); on `report` it reports the end of its epoch having trained
// nothing. The scheduler sends a grant it gives at once before it answers
// the request, so the observer gets such a grant before the answer.
struct stand_in_worker_state {
  uint64_t job = 0;
  uint32_t id = 0;
  uint64_t epoch = 0;
};

caf::behavior stand_in_worker(caf::stateful_actor<stand_in_worker_state>* self,
  scheduler_actor sched, caf::actor observer) {
  self->send(sched, register_atom::value,
    registration{node_role::worker, "test", false, protocol_version,
      runtime_version(), "", ""});
  return {
    [=](worker_slice& slice) {
      self->state.job = slice.spec.job;
      self->state.id = slice.id;
      self->send(observer, std::string{"slice"});
    },
    [=](epoch_plan& plan) {
      self->state.epoch = plan.epoch;
      self->send(observer, plan);
    },
    [=](grant_atom, uint64_t, uint64_t clock) {
      self->send(observer, grant_atom::value, self->state.id, clock);
    },
    [=](clock_atom, uint64_t c) {
      self->request(sched, reply_timeout, clock_atom::value, self->state.id, c)
        .then(
          [=] {
            self->send(observer, clock_atom::value, self->state.id, c);
          },
          [=](caf::error& err) {
            self->send(observer, std::move(err));
          });
    },
    [=](report_atom) {
      epoch_report r;
      r.job = self->state.job;
      r.worker = self->state.id;
      r.epoch = self->state.epoch;
      self->send(sched, epoch_atom::value, r);
    },
  };
}

// An MLP 4-8-3 on blobs, sgd, `workers` workers over `shards` shards.
job_spec small_spec(size_t workers, size_t shards, size_t epochs,
  const std::string& modes, size_t rows) {
  auto opts = test::small_options("mlp", "sgd", 0.1f, epochs, 5);
  local_options local;
  local.workers = workers;
  local.shards = shards;
  local.modes = parse_mode_schedule(modes);
  auto train = test::blobs(rows, 8);
  return make_job_spec(opts, local, train);
}

// A scheduler for `k` stand-in workers (`modes`, `epochs` epochs) and one
// shard: a real one, or with `stand_in` the stand-in above reporting to the
// scoped actor. The scoped actor is the driver.
struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{test::configured(cfg)};
  caf::scoped_actor self{sys};
  job_spec spec;
  scheduler_actor sched;
  caf::actor shard;
  std::vector<caf::actor> workers;
  /// Plans the stand-in workers forwarded.
  std::vector<epoch_plan> plans;
  /// Grants the stand-in workers forwarded, as (worker id, clock).
  std::vector<std::pair<uint32_t, uint64_t>> grants;
  /// Clock requests the scheduler answered, as (worker id, clock).
  std::vector<std::pair<uint32_t, uint64_t>> answers;

  explicit fixture(size_t k, bool stand_in = false, size_t epochs = 2,
    const std::string& modes = "bsp@1") {
    spec = small_spec(k, 1, epochs, modes, 60);
    scheduler_config sc;
    sc.spec = spec;
    sched = sys.spawn(scheduler, std::move(sc));
    auto observer = caf::actor_cast<caf::actor>(self);
    if (stand_in)
      shard = sys.spawn(stand_in_shard, sched, observer);
    else
      shard = caf::actor_cast<caf::actor>(
        sys.spawn(server_shard, shard_config{sched, nullptr}));
    for (size_t w = 0; w < k; ++w)
      workers.push_back(sys.spawn(stand_in_worker, sched, observer));
    for (size_t w = 0; w < k; ++w)
      wait_for("slice");
  }

  ~fixture() {
    self->send_exit(shard, caf::exit_reason::user_shutdown);
    for (auto& w : workers)
      self->send_exit(w, caf::exit_reason::user_shutdown);
    self->send_exit(sched, caf::exit_reason::user_shutdown);
  }

  // Receives until a text message (a notice of a stand-in or a log line of
  // the scheduler) that contains `text`, keeping the plans, grants and
  // answers that arrive meanwhile.
  void wait_for(const std::string& text) {
    bool seen = false;
    while (!seen)
      self->receive(
        [&](const std::string& line) {
          seen = line.find(text) != std::string::npos;
        },
        [&](epoch_plan& plan) {
          plans.push_back(plan);
        },
        [&](grant_atom, uint32_t w, uint64_t c) {
          grants.emplace_back(w, c);
        },
        [&](clock_atom, uint32_t w, uint64_t c) {
          answers.emplace_back(w, c);
        },
        [](const progress_report&) {},
        caf::after(reply_timeout) >>
          [&] {
            FAIL("no message containing \"" << text << "\"");
          });
  }

  // Receives until `n_grants` grants and `n_answers` answers arrived in
  // all, keeping the plans that arrive meanwhile.
  void wait_for_clocks(size_t n_grants, size_t n_answers) {
    while (grants.size() < n_grants || answers.size() < n_answers)
      self->receive([&](const std::string&) {},
        [&](epoch_plan& plan) {
          plans.push_back(plan);
        },
        [&](grant_atom, uint32_t w, uint64_t c) {
          grants.emplace_back(w, c);
        },
        [&](clock_atom, uint32_t w, uint64_t c) {
          answers.emplace_back(w, c);
        },
        [](const progress_report&) {},
        [&](caf::error& err) {
          FAIL(sys.render(err));
        },
        caf::after(reply_timeout) >>
          [&] {
            FAIL("waiting for " << n_grants << " grants and " << n_answers
                                << " answers, got " << grants.size() << " and "
                                << answers.size());
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
    self->request(shard, reply_timeout, log_atom::value)
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

// What a run sent its driver at the end.
struct outcome {
  std::optional<run_result> result;
  caf::error failure;
  std::vector<std::string> log;
  uint64_t progress_rows = 0;
};

// Receives what the scheduler sends its driver until the result or an
// error; `on_epoch` runs on each epoch's metrics.
outcome await_end(caf::scoped_actor& self,
  std::function<void(const epoch_metrics&)> on_epoch = {}) {
  outcome out;
  bool done = false;
  while (!done)
    self->receive(
      [&](const epoch_metrics& m) {
        if (on_epoch)
          on_epoch(m);
      },
      [&](const std::string& line) {
        out.log.push_back(line);
      },
      [&](const progress_report& p) {
        out.progress_rows = p.rows;
      },
      [&](epoch_plan&) {},
      [&](run_result& r) {
        out.result = std::move(r);
        done = true;
      },
      [&](caf::error& err) {
        out.failure = std::move(err);
        done = true;
      },
      [](caf::down_msg&) {},
      caf::after(reply_timeout) >>
        [&] {
          FAIL("the run neither finished nor failed");
        });
  return out;
}

} // namespace

TEST_CASE("a scheduler that finished with an error quits instead of "
          "answering on") {
  fixture f{1};
  f.self->send(f.sched, run_atom::value);
  f.wait_for_plans(1);
  // Its only worker dies: the job ends with an error.
  f.self->send_exit(f.workers[0], caf::exit_reason::kill);
  auto out = await_end(f.self);
  CHECK_FALSE(out.result);
  CHECK(out.failure == make_error(errc::job_failed, "every worker died"));
  // A finished scheduler takes no further request.
  caf::error after;
  f.self->request(f.sched, reply_timeout, run_atom::value)
    .receive(
      [] {
        FAIL("a finished scheduler started another run");
      },
      [&](caf::error& err) {
        after = err;
      });
  CHECK(after == caf::sec::request_receiver_down);
}

TEST_CASE("a worker killed at any point of the start sequence leaves a run "
          "that finishes with the other") {
  // Points: 0 after both got their slices, before the run request; 1 while
  // the first epoch's mode request to the shard is out; 2 after the first
  // plans.
  for (int point : {0, 1, 2}) {
    CAPTURE(point);
    fixture f{2, true, 1};
    auto kill = [&] {
      f.self->send_exit(f.workers[1], caf::exit_reason::kill);
    };
    f.self->send(f.shard, hold_atom::value);
    if (point == 0)
      kill();
    f.self->send(f.sched, run_atom::value);
    f.wait_for("mode held");
    if (point == 1) {
      kill();
      f.wait_for("died");
    }
    f.self->send(f.shard, release_atom::value);
    f.wait_for_plans(point == 2 ? 2 : 1);
    for (auto& plan : f.plans) {
      CHECK_FALSE(plan.stop);
      CHECK(plan.epoch == 0);
    }
    if (point == 2) {
      kill();
      f.wait_for("died");
    }
    // Worker 0 trains nothing and reports the end of its epoch: the run
    // ends after the one epoch and worker 0 is told to stop.
    f.self->send(f.workers[0], report_atom::value);
    auto out = await_end(f.self);
    REQUIRE(out.result);
    CHECK(out.result->history.size() == 1);
    f.wait_for_plans(f.plans.size() + 1);
    CHECK(f.plans.back().stop);
    // The epoch ended once: stats and the model were asked for after the
    // first mode request was answered, never before.
    CHECK(f.shard_log() == "slice,roster,mode,release,stats,pull");
  }
}

TEST_CASE("sbp grants a late worker's clock request only once the commit in "
          "flight is done") {
  // sbp:1 with three workers: two clock requests for clock 1 start a commit
  // without the third, and the shard holds that commit. The third worker's
  // request for clock 1 comes in late; granted now, it would pull while the
  // shards commit and could read a mix of versions (in a cluster they
  // commit at different times). It must wait for the commit like the
  // others.
  fixture f{3, true, 1, "sbp:1@1"};
  f.self->send(f.shard, hold_atom::value, commit_atom::value);
  f.self->send(f.sched, run_atom::value);
  f.wait_for_plans(3);
  f.self->send(f.workers[0], clock_atom::value, uint64_t{1});
  f.wait_for_clocks(0, 1);
  f.self->send(f.workers[1], clock_atom::value, uint64_t{1});
  f.wait_for("commit held");
  f.wait_for_clocks(0, 2);
  f.self->send(f.workers[2], clock_atom::value, uint64_t{1});
  f.wait_for_clocks(0, 3);
  auto late = f.answers[2].first;
  // The scheduler sends a grant it gives on a request before its answer to
  // it, and the stand-in forwards both in order: any grant given so far
  // has arrived.
  CHECK_MESSAGE(f.grants.empty(),
    "granted while the commit was in flight: " << f.grants.size());
  f.self->send(f.shard, release_atom::value);
  f.wait_for_clocks(3, 3);
  std::vector<uint32_t> granted;
  for (auto& [w, c] : f.grants) {
    CHECK(c == 1);
    granted.push_back(w);
  }
  std::sort(granted.begin(), granted.end());
  CHECK(granted == std::vector<uint32_t>{0, 1, 2});
  // Among them the late worker's, after the commit.
  CHECK(std::count(granted.begin(), granted.end(), late) == 1);
  CHECK(f.shard_log() == "slice,roster,mode,commit,release");
}

TEST_CASE("messages naming a worker are refused unless they come from the "
          "worker registered under that id") {
  fixture f{1};
  caf::scoped_actor other{f.sys};
  // A clock request, an epoch report and progress naming worker 0, from an
  // actor that never registered.
  epoch_report r;
  r.job = f.spec.job;
  r.worker = 0;
  for (int i = 0; i < 3; ++i) {
    auto req = i == 0 ? other->request(f.sched, reply_timeout,
                 clock_atom::value, uint32_t{0}, uint64_t{1})
               : i == 1
                 ? other->request(f.sched, reply_timeout, epoch_atom::value, r)
                 : other->request(f.sched, reply_timeout, progress_atom::value,
                   progress_report{f.spec.job, 0, 100, 1.0});
    caf::error refused;
    req.receive(
      [] {
        FAIL("accepted from a stranger");
      },
      [&](caf::error& err) {
        refused = err;
      });
    CHECK(refused == make_error(errc::bad_sender, ""));
  }
  // The job goes on untouched: the real worker ends the epoch, which the
  // stranger's report did not.
  f.self->send(f.sched, run_atom::value);
  f.wait_for_plans(1);
  for (size_t e = 0; e < 2; ++e) {
    f.self->send(f.workers[0], report_atom::value);
    if (e == 0)
      f.wait_for_plans(2);
  }
  auto out = await_end(f.self);
  REQUIRE(out.result);
  CHECK(out.result->history.size() == 2);
  CHECK(out.result->rejected == 3);
}

TEST_CASE("a registration of another protocol version or release, or one too "
          "many, is refused") {
  fixture f{1};
  caf::scoped_actor other{f.sys};
  auto ask = [&](registration reg) {
    caf::error result;
    other->request(f.sched, reply_timeout, register_atom::value, reg)
      .receive([] {},
        [&](caf::error& err) {
          result = err;
        });
    return result;
  };
  CHECK(ask(registration{node_role::worker, "x", false, protocol_version + 1,
          runtime_version(), "", ""})
        == make_error(errc::bad_version, ""));
  CHECK(ask(registration{node_role::worker, "x", false, protocol_version,
          "paramserv 0.0.1 (CAF 0.17.6)", "", ""})
        == make_error(errc::bad_version, ""));
  CHECK(ask(registration{node_role::worker, "x", false, protocol_version,
          runtime_version(), "", ""})
        == make_error(errc::out_of_order, ""));
  CHECK(ask(registration{node_role::server, "x", false, protocol_version,
          runtime_version(), "", ""})
        == make_error(errc::out_of_order, ""));
}

TEST_CASE("a scheduler given a job it cannot run stops at once, saying why") {
  caf::actor_system_config cfg;
  caf::actor_system sys{test::configured(cfg)};
  caf::scoped_actor self{sys};
  auto check = [&](job_spec spec, const std::string& why) {
    scheduler_config sc;
    sc.spec = std::move(spec);
    auto sched = sys.spawn(scheduler, std::move(sc));
    self->monitor(sched);
    caf::error reason;
    self->receive(
      [&](caf::down_msg& down) {
        reason = down.reason;
      },
      caf::after(reply_timeout) >>
        [&] {
          FAIL("the scheduler did not stop");
        });
    CHECK(reason == make_error(errc::bad_shape, ""));
    CHECK_MESSAGE(test::contains(sys.render(reason), why), sys.render(reason));
  };
  auto no_shards = small_spec(2, 1, 1, "bsp@1", 60);
  no_shards.shards = 0;
  check(no_shards, "--shards");
  auto no_progress = small_spec(2, 1, 1, "bsp@1", 60);
  no_progress.progress_ms = 0;
  check(no_progress, "progress interval");
  auto too_few_rows = small_spec(2, 1, 1, "bsp@1", 60);
  too_few_rows.data.rows = 1;
  check(too_few_rows, "1 training rows for 2 workers");
  // The same job with its fields intact runs (the checks can pass).
  auto fine = small_spec(2, 1, 1, "bsp@1", 60);
  scheduler_config sc;
  sc.spec = fine;
  auto sched = sys.spawn(scheduler, std::move(sc));
  self->monitor(sched);
  self->send_exit(sched, caf::exit_reason::user_shutdown);
  self->receive([&](caf::down_msg& down) {
    CHECK(down.reason == caf::exit_reason::user_shutdown);
  });
}

TEST_CASE("the scheduler refuses its internal tick from any other actor") {
  fixture f{1};
  auto whole = caf::actor_cast<caf::actor>(f.sched);
  caf::error refused;
  f.self->request(whole, reply_timeout, tick_atom::value)
    .receive([] {},
      [&](caf::error& err) {
        refused = err;
      });
  CHECK(refused == make_error(errc::bad_sender, ""));
}

// A whole job on blobs() data, spawned as the local backend spawns it; the
// scoped actor is the driver.
struct job_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{test::configured(cfg)};
  caf::scoped_actor self{sys};
  job_spec spec;
  job_actors actors;

  job_fixture(const std::string& modes, size_t k, size_t n_shards,
    size_t epochs, size_t rows = 120, job_placement placement = {},
    std::shared_ptr<const dataset> train = nullptr) {
    spec = small_spec(k, n_shards, epochs, modes, rows);
    if (!train)
      train = std::make_shared<const dataset>(test::blobs(rows, 8));
    actors = spawn_job(sys, spec, train, nullptr, placement);
  }

  // Receives until a log line containing `text` reaches the driver.
  void wait_for_log(const std::string& text) {
    bool done = false;
    while (!done)
      self->receive([](const epoch_metrics&) {},
        [&](const std::string& line) {
          done = line.find(text) != std::string::npos;
        },
        [](const progress_report&) {},
        caf::after(reply_timeout) >>
          [&] {
            FAIL("no log line containing \"" << text << "\"");
          });
  }

  // Receives until the first epoch's metrics reach the driver.
  void wait_for_first_epoch() {
    bool done = false;
    while (!done)
      self->receive(
        [&](const epoch_metrics&) {
          done = true;
        },
        [](const std::string&) {}, [](const progress_report&) {},
        caf::after(reply_timeout) >>
          [&] {
            FAIL("no epoch finished");
          });
  }

  ~job_fixture() {
    for (auto& s : actors.shards)
      self->send_exit(s, caf::exit_reason::user_shutdown);
    for (auto& w : actors.workers)
      self->send_exit(w, caf::exit_reason::user_shutdown);
    self->send_exit(actors.scheduler, caf::exit_reason::user_shutdown);
  }
};

TEST_CASE("hogwild needs every shard and worker in one process: with one "
          "worker elsewhere the scheduler plans asp and nothing is refused") {
  // Worker 1 has no node (as if in another process): it must neither be
  // planned in place nor push into memory the others write in place.
  job_fixture j{"hogwild@1", 2, 2, 2, 120, {{false, true}, {}, {}}};
  j.self->send(j.actors.scheduler, run_atom::value);
  auto out = await_end(j.self);
  REQUIRE(out.result);
  REQUIRE(out.result->history.size() == 2);
  CHECK(out.result->rejected == 0);
  bool fell_back = false;
  for (auto& line : out.result->log)
    fell_back |= line.find("running asp instead") != std::string::npos;
  CHECK(fell_back);
  // Both workers trained both epochs through the shards: 60 rows each, 16
  // a batch.
  for (auto& m : out.result->history)
    CHECK(m.pushes == 8);
}

TEST_CASE("a shard killed mid-run ends the run with an error naming it, in "
          "every mode") {
  for (auto mode : {"bsp@1", "asp@1", "ssp:1@1", "hogwild@1", "sbp:1@1"}) {
    CAPTURE(mode);
    // Enough rows that the second epoch is still running when the first
    // epoch's metrics reach the test.
    job_fixture j{mode, 3, 2, 50, 3000};
    j.self->send(j.actors.scheduler, run_atom::value);
    j.wait_for_first_epoch();
    j.self->send_exit(j.actors.shards[1], caf::exit_reason::kill);
    auto out = await_end(j.self);
    CHECK_FALSE(out.result);
    INFO(j.sys.render(out.failure));
    CHECK(out.failure == make_error(errc::job_failed, ""));
    // The shard's monitor or a request to it noticed, whichever came first.
    CHECK(j.sys.render(out.failure).find("server shard ") != std::string::npos);
  }
}

TEST_CASE("a worker killed mid-run lets the run finish without it, in every "
          "mode") {
  for (std::string mode :
    {"bsp@1", "asp@1", "ssp:1@1", "hogwild@1", "sbp:1@1"}) {
    CAPTURE(mode);
    // The third worker waits an hour before each unit: the run cannot end
    // before it is killed, whenever that happens.
    job_placement placement;
    placement.delays = {{}, {}, std::chrono::hours(1)};
    job_fixture j{mode, 3, 2, 3, 3000, placement};
    j.self->send(j.actors.scheduler, run_atom::value);
    j.wait_for_log("epoch 1: mode");
    j.self->send_exit(j.actors.workers[2], caf::exit_reason::kill);
    auto out = await_end(j.self);
    INFO(j.sys.render(out.failure));
    REQUIRE(out.result);
    CHECK(out.result->history.size() == 3);
    bool noted = false;
    for (auto& line : out.result->log)
      noted |= line.find("died") != std::string::npos;
    CHECK(noted);
    // Every epoch was trained by the two others: 2 of 3 partitions of 1000
    // rows, 16 a batch.
    for (auto& m : out.result->history)
      CHECK(m.pushes == 2 * ((1000 + 15) / 16));
  }
}

TEST_CASE("after a worker died the read lag of the others stays within the "
          "mode's bound in every later epoch") {
  // A worker dead when an epoch begins is no clock to lag behind: its
  // frozen pushes must not count, or every unit's measured read lag grows
  // with its clock. bsp reads the last commit (lag 0), ssp:1 lags at most
  // one clock (README, consistency modes).
  struct variant {
    std::string mode;
    uint64_t bound;
  };
  for (auto v : {variant{"bsp@1", 0}, variant{"ssp:1@1", 1}}) {
    CAPTURE(v.mode);
    // The third worker waits an hour before each unit, so it dies in the
    // first epoch, having pushed nothing; 100 rows each, 16 a batch: 7
    // units a worker and epoch.
    job_placement placement;
    placement.delays = {{}, {}, std::chrono::hours(1)};
    job_fixture j{v.mode, 3, 2, 3, 300, placement};
    j.self->send(j.actors.scheduler, run_atom::value);
    j.wait_for_log("epoch 1: mode");
    j.self->send_exit(j.actors.workers[2], caf::exit_reason::kill);
    auto out = await_end(j.self);
    INFO(j.sys.render(out.failure));
    REQUIRE(out.result);
    REQUIRE(out.result->history.size() == 3);
    // The first epoch began with the worker alive (or not): only the later
    // ones are pinned down.
    for (size_t e = 1; e < 3; ++e) {
      auto& m = out.result->history[e];
      CAPTURE(m.epoch);
      CHECK(m.workers == 2);
      CHECK(m.pushes == 2 * 7);
      CHECK(m.max_read_lag <= v.bound);
    }
  }
}

TEST_CASE("when the scheduler dies every worker and shard stops") {
  job_fixture j{"asp@1", 2, 2, 50, 3000};
  j.self->send(j.actors.scheduler, run_atom::value);
  for (auto& w : j.actors.workers)
    j.self->monitor(w);
  for (auto& s : j.actors.shards)
    j.self->monitor(s);
  j.wait_for_first_epoch();
  j.self->send_exit(j.actors.scheduler, caf::exit_reason::kill);
  size_t stopped = 0;
  while (stopped < j.actors.workers.size() + j.actors.shards.size())
    j.self->receive(
      [&](caf::down_msg&) {
        ++stopped;
      },
      [](const epoch_metrics&) {}, [](const std::string&) {},
      [](const progress_report&) {}, [](caf::error&) {},
      caf::after(reply_timeout) >>
        [&] {
          FAIL("only " << stopped << " of the workers and shards stopped");
        });
  CHECK(stopped == 4);
}

TEST_CASE("a worker slowed far beyond every request timeout still lets a "
          "bsp run finish") {
  // Every request times out after 100 ms; worker 1 waits 400 ms before
  // each of its units. Clock grants and plans are not requests: the fast
  // worker waits for the slow one as long as it lives.
  job_placement placement;
  placement.delays
    = {std::chrono::microseconds{0}, std::chrono::microseconds{400000}};
  auto opts = test::small_options("mlp", "sgd", 0.1f, 1, 5);
  local_options local;
  local.workers = 2;
  local.modes = parse_mode_schedule("bsp@1");
  local.timeouts = request_timeouts{100, 100, 100};
  auto train = std::make_shared<const dataset>(test::blobs(96, 8));
  caf::actor_system_config cfg;
  caf::actor_system sys{test::configured(cfg)};
  caf::scoped_actor self{sys};
  auto spec = make_job_spec(opts, local, *train);
  auto job = spawn_job(sys, spec, train, nullptr, placement);
  self->send(job.scheduler, run_atom::value);
  auto out = await_end(self);
  INFO(sys.render(out.failure));
  REQUIRE(out.result);
  // 48 rows each, 16 a batch: 3 clocks, each waited for the slow worker
  // (400 ms, four times the timeout) and committed both pushes.
  REQUIRE(out.result->history.size() == 1);
  CHECK(out.result->history[0].pushes == 6);
  CHECK(out.result->lost == 0);
}

TEST_CASE("workers without this process's copy read the data source "
          "themselves and train the same model") {
  // The training set written to a CSV file (labels first): workers with no
  // node read it; bsp gives the same model bit for bit as from memory.
  auto dir = std::filesystem::temp_directory_path()
             / ("paramserv-source-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = dir / "train.csv";
  auto data = test::blobs(90, 4);
  {
    std::ofstream out(path);
    for (size_t i = 0; i < data.size(); ++i) {
      out << data.y[i];
      for (size_t j = 0; j < data.features(); ++j) {
        char buf[32];
        std::snprintf(buf, sizeof buf, ",%.9g", double{data.x(j, i)});
        out << buf;
      }
      out << '\n';
    }
  }
  auto train = std::make_shared<const dataset>(data);
  auto run = [&](bool detached, const std::string& source) {
    auto opts = test::small_options("mlp", "sgd", 0.1f, 2, 5);
    local_options local;
    local.workers = 2;
    local.shards = 2;
    local.data.path = source;
    local.data.format = "csv";
    local.data.classes = data.classes;
    auto spec = make_job_spec(opts, local, *train);
    caf::actor_system_config cfg;
    caf::actor_system sys{test::configured(cfg)};
    caf::scoped_actor self{sys};
    job_placement placement;
    placement.no_node = {detached, detached};
    auto job = spawn_job(sys, spec, train, nullptr, placement);
    self->send(job.scheduler, run_atom::value);
    auto out = await_end(self);
    INFO(sys.render(out.failure));
    REQUIRE(out.result);
    return out;
  };
  auto from_memory = run(false, "");
  auto from_file = run(true, path.string());
  CHECK(from_file.result->params == from_memory.result->params);
  CHECK(from_file.result->history.size() == 2);
  CHECK(from_file.progress_rows > 0);
  // A one-worker job whose worker reads `source` itself; returns how it
  // ended.
  auto run_from = [&](const std::filesystem::path& source) {
    auto opts = test::small_options("mlp", "sgd", 0.1f, 2, 5);
    local_options local;
    local.workers = 1;
    local.data.path = source.string();
    auto spec = make_job_spec(opts, local, *train);
    caf::actor_system_config cfg;
    caf::actor_system sys{test::configured(cfg)};
    caf::scoped_actor self{sys};
    auto job = spawn_job(sys, spec, train, nullptr, {{}, {true}, {}});
    self->send(job.scheduler, run_atom::value);
    return await_end(self);
  };
  SUBCASE("a worker whose data source is missing stops with a clear error") {
    auto out = run_from(dir / "missing.csv");
    CHECK(out.failure == make_error(errc::job_failed, ""));
    // The error names the worker's reason: the file it could not read.
    auto text = to_string(out.failure);
    CHECK(text.find("every worker died") != std::string::npos);
    CHECK(text.find("missing.csv") != std::string::npos);
  }
  SUBCASE("a worker whose data source has more classes than the model "
          "refuses it") {
    // The same rows, one labelled past the model's classes: training on it
    // would write past the model's outputs.
    auto wide = dir / "wide.csv";
    {
      std::ifstream in(path);
      std::ofstream out(wide);
      std::string line;
      bool first = true;
      while (std::getline(in, line)) {
        if (first)
          line = std::to_string(data.classes + 4) + line.substr(line.find(','));
        first = false;
        out << line << '\n';
      }
    }
    auto out = run_from(wide);
    CHECK(out.failure == make_error(errc::job_failed, ""));
    auto text = to_string(out.failure);
    CHECK(text.find("classes") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("an error message from a stranger stops no actor of a job") {
  // CAF's default is to stop an actor that receives an error message it
  // did not ask for; a peer could end a job that way.
  job_fixture j{"bsp@1", 1, 1, 1, 40};
  caf::scoped_actor other{j.sys};
  auto forged = make_error(errc::job_failed, "forged");
  other->send(caf::actor_cast<caf::actor>(j.actors.scheduler), forged);
  other->send(caf::actor_cast<caf::actor>(j.actors.shards[0]), forged);
  other->send(caf::actor_cast<caf::actor>(j.actors.workers[0]), forged);
  j.self->send(j.actors.scheduler, run_atom::value);
  auto out = await_end(j.self);
  INFO(j.sys.render(out.failure));
  REQUIRE(out.result);
  CHECK(out.result->history.size() == 1);
  CHECK(out.result->rejected == 3);
}

TEST_CASE("a worker refuses its internal step message from any other actor") {
  // A job that never runs: a step from outside would make the worker
  // compute and push out of turn.
  job_fixture j{"bsp@1", 1, 1, 1, 40};
  auto whole = caf::actor_cast<caf::actor>(j.actors.workers[0]);
  caf::error refused;
  j.self->request(whole, reply_timeout, step_atom::value)
    .receive([] {},
      [&](caf::error& err) {
        refused = err;
      });
  CHECK(refused == make_error(errc::bad_sender, ""));
}

namespace {

// How a picky_worker deviates from stand_in_worker.
enum class picky { none, hold_slice, refuse_slice, refuse_plan };

struct picky_state {
  uint64_t job = 0;
  uint32_t id = 0;
  uint64_t epoch = 0;
  std::optional<caf::response_promise> slice_reply;
};

// A worker stand-in like stand_in_worker (it tells `observer` "slice",
// forwards plans to it and reports an empty epoch on `report`), but as
// `how` says it holds the answer to its slice until `release` (telling
// `observer` "slice held" instead), or refuses its slice, or refuses every
// plan. It answers `log`: a round trip that shows it handled everything
// sent to it before.
caf::behavior picky_worker(caf::stateful_actor<picky_state>* self,
  scheduler_actor sched, caf::actor observer, picky how) {
  self->send(sched, register_atom::value,
    registration{node_role::worker, "test", false, protocol_version,
      runtime_version(), "", ""});
  return {
    [=](worker_slice& slice) -> caf::result<void> {
      self->state.job = slice.spec.job;
      self->state.id = slice.id;
      if (how == picky::refuse_slice)
        return make_error(errc::bad_shape, "the test's worker refuses slices");
      if (how == picky::hold_slice) {
        self->state.slice_reply = self->make_response_promise();
        self->send(observer, std::string{"slice held"});
        return caf::delegated<void>{};
      }
      self->send(observer, std::string{"slice"});
      return caf::unit;
    },
    [=](epoch_plan& plan) -> caf::result<void> {
      if (how == picky::refuse_plan)
        return make_error(errc::bad_shape, "the test's worker refuses plans");
      self->state.epoch = plan.epoch;
      self->send(observer, plan);
      return caf::unit;
    },
    [=](grant_atom, uint64_t, uint64_t) {},
    [=](release_atom) {
      if (self->state.slice_reply) {
        self->state.slice_reply->deliver(caf::unit);
        self->state.slice_reply.reset();
      }
    },
    [=](report_atom) {
      epoch_report r;
      r.job = self->state.job;
      r.worker = self->state.id;
      r.epoch = self->state.epoch;
      self->send(sched, epoch_atom::value, r);
    },
    [=](log_atom) {
      return std::string{"picky"};
    },
  };
}

// One epoch of bsp with a real shard, a well-behaved worker and one that
// deviates as `how` says. The scoped actor is the driver and the observer.
struct picky_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{test::configured(cfg)};
  caf::scoped_actor self{sys};
  scheduler_actor sched;
  server_shard_actor shard;
  caf::actor good;
  caf::actor odd;
  std::vector<epoch_plan> plans;
  std::vector<std::string> log;

  explicit picky_fixture(picky how) {
    scheduler_config sc;
    sc.spec = small_spec(2, 1, 1, "bsp@1", 60);
    sched = sys.spawn(scheduler, std::move(sc));
    shard = sys.spawn(server_shard, shard_config{sched, nullptr});
    auto observer = caf::actor_cast<caf::actor>(self);
    good = sys.spawn(picky_worker, sched, observer, picky::none);
    odd = sys.spawn(picky_worker, sched, observer, how);
    self->send(sched, run_atom::value);
  }

  ~picky_fixture() {
    self->send_exit(shard, caf::exit_reason::user_shutdown);
    self->send_exit(good, caf::exit_reason::user_shutdown);
    self->send_exit(odd, caf::exit_reason::user_shutdown);
    self->send_exit(sched, caf::exit_reason::user_shutdown);
  }

  // Takes one message (lines and plans are kept); false if none came
  // within `bound`.
  bool take(std::chrono::seconds bound) {
    bool got = true;
    self->receive(
      [&](const std::string& line) {
        log.push_back(line);
      },
      [&](epoch_plan& plan) {
        plans.push_back(plan);
      },
      [](const progress_report&) {},
      caf::after(bound) >>
        [&] {
          got = false;
        });
    return got;
  }

  // Receives until a new line containing `text`.
  void wait_for(const std::string& text) {
    size_t checked = log.size();
    auto seen = [&] {
      for (; checked < log.size(); ++checked)
        if (log[checked].find(text) != std::string::npos)
          return true;
      return false;
    };
    while (!seen())
      if (!take(reply_timeout))
        FAIL("no message containing \"" << text << "\"");
  }

  // Receives until `n` plans arrived in all.
  void wait_for_plans(size_t n) {
    while (plans.size() < n)
      if (!take(reply_timeout))
        FAIL("waiting for " << n << " plans, got " << plans.size());
  }

  // A request to `whom` whose reply (an answer of type Reply or a refusal)
  // shows that it handled everything enqueued to it before.
  template <class Reply, class Handle, class... Ts>
  void round_trip(const Handle& whom, Ts... xs) {
    self->request(whom, reply_timeout, xs...)
      .receive([](Reply&) {}, [](caf::error&) {});
  }

  // Waits, by round trips, until everything the scheduler could do before
  // a held slice answer is done: hand_out's roster request reached the
  // shard, the shard answered it and the scheduler took that answer.
  void settle() {
    round_trip<std::string>(sched, hello_atom::value);
    round_trip<shard_stats>(shard, stats_atom::value);
    round_trip<std::string>(sched, hello_atom::value);
  }

  // Takes the messages already in the mailbox, without waiting.
  void drain() {
    while (take(std::chrono::seconds(0))) {
    }
  }
};

} // namespace

TEST_CASE("the scheduler starts the job only once every worker has answered "
          "its slice") {
  // A worker answers its slice once it read its data and reached its
  // shards; in a cluster that takes a while, and the clock must not run
  // meanwhile.
  picky_fixture f{picky::hold_slice};
  f.wait_for("slice held");
  // Everything the scheduler could do before the held answer is done, and
  // anything it sent the workers then reached them and, forwarded, this
  // mailbox.
  f.settle();
  f.round_trip<std::string>(f.good, log_atom::value);
  f.round_trip<std::string>(f.odd, log_atom::value);
  f.drain();
  CHECK_MESSAGE(f.plans.empty(), f.plans.size() << " plans before it");
  f.self->send(f.odd, release_atom::value);
  f.wait_for_plans(2);
}

TEST_CASE("a worker that refuses its slice or a plan is dropped and the run "
          "finishes with the others") {
  for (auto how : {picky::refuse_slice, picky::refuse_plan}) {
    CAPTURE(static_cast<int>(how));
    picky_fixture f{how};
    f.wait_for("going on with 1 of 2 workers");
    // The well-behaved worker trains its epoch (nothing, as a stand-in) and
    // the run ends without the other.
    f.wait_for_plans(1);
    f.self->send(f.good, report_atom::value);
    auto out = await_end(f.self);
    REQUIRE_MESSAGE(out.result, f.sys.render(out.failure));
    REQUIRE(out.result->history.size() == 1);
    CHECK(out.result->history[0].workers == 1);
    CHECK(out.result->history[0].workers_lost == 1);
  }
}

TEST_CASE("a worker that dies before answering its slice does not hold the "
          "job back") {
  // The well-behaved worker answered first; the job waits for the other,
  // which dies instead of answering: its death must start the job.
  picky_fixture f{picky::hold_slice};
  f.wait_for("slice held");
  f.settle();
  f.self->send_exit(f.odd, caf::exit_reason::kill);
  f.wait_for("going on with 1 of 2 workers");
  f.wait_for_plans(1);
  f.self->send(f.good, report_atom::value);
  auto out = await_end(f.self);
  REQUIRE_MESSAGE(out.result, f.sys.render(out.failure));
  CHECK(out.result->history.size() == 1);
}
