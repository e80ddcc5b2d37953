// Two CAF nodes in one process, A and B, connected over 127.0.0.1 on ports
// the operating system picks: the run-time checks of the shard, the
// scheduler and the worker hold when the peer is on another node, where
// every handle the checked actor compares against is a proxy and every
// message arrived through serialisation.

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/local_backend.hpp"
#include "actors/net/cluster.hpp"
#include "actors/net/endpoint.hpp"
#include "actors/net/secret.hpp"
#include "actors/runtime_info.hpp"
#include "actors/scheduler.hpp"
#include "actors/server_shard.hpp"
#include "actors/worker.hpp"
#include "messages/errc.hpp"
#include "messages/job_messages.hpp"
#include "messages/parameter_messages.hpp"
#include "messages/scheduler_actor.hpp"
#include "messages/server_shard_actor.hpp"
#include "messages/worker_actor.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;
using paramserv::test::same_bits;

namespace {

// Guards against a hang only; every reply comes at once.
constexpr auto reply_timeout = std::chrono::seconds(30);

constexpr uint64_t job = 42;

// Floats the shard of the first case owns.
constexpr size_t params = 9;

caf::actor_system_config& node_config(caf::actor_system_config& cfg) {
  configure_node(cfg, network_options{}, 2);
  return cfg;
}

// Two nodes, each an actor system set up as configure_node sets up a
// cluster node. The actors of A listed in `on_a` (published ones too: the
// middleman keeps them alive) are stopped before the systems go, else
// ~actor_system waits for them forever.
struct two_nodes {
  caf::actor_system_config cfg_a;
  caf::actor_system a{node_config(cfg_a)};
  caf::actor_system_config cfg_b;
  caf::actor_system b{node_config(cfg_b)};
  std::vector<caf::actor> on_a;

  ~two_nodes() {
    for (auto& x : on_a)
      caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
  }

  // Publishes `whom` on A at 127.0.0.1 as a node does (publish_at) and
  // returns the port the operating system picked.
  uint16_t publish(const scheduler_actor& whom) {
    on_a.push_back(caf::actor_cast<caf::actor>(whom));
    return publish_at(a, whom, endpoint{"127.0.0.1", 0});
  }

  uint16_t publish(const caf::actor& whom) {
    on_a.push_back(whom);
    return publish_at(a, whom, endpoint{"127.0.0.1", 0});
  }

  // publish_at takes only what nodes publish (a scheduler, an untyped
  // door): a shard is published as CAF does it, with its typed interface.
  uint16_t publish(const server_shard_actor& whom) {
    on_a.push_back(caf::actor_cast<caf::actor>(whom));
    auto port = a.middleman().publish(whom, 0, "127.0.0.1");
    if (!port)
      FAIL("A cannot publish the shard: " << a.render(port.error()));
    return *port;
  }

  // B's proxy of the actor A published at `port`.
  template <class Handle = caf::actor>
  Handle from_b(uint16_t port) {
    auto handle = b.middleman().remote_actor<Handle>("127.0.0.1", port);
    if (!handle)
      FAIL("B cannot reach port " << port << ": " << b.render(handle.error()));
    return *handle;
  }
};

// Relays every actor handle it gets to `owner`: how an actor of B makes
// itself known on A (the handle A gets is A's proxy of it).
caf::behavior door(caf::event_based_actor* self, caf::actor owner) {
  return {
    [=](caf::actor& peer) {
      self->send(owner, std::move(peer));
    },
  };
}

// The one-line reason an error of ours carries; empty if none.
std::string reason_of(const caf::error& err) {
  auto& ctx = err.context();
  if (ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  return {};
}

// Matches any error of this code (caf::error's == compares code and
// category only).
caf::error code_of(errc x) {
  return make_error(x, "");
}

// Sends a request from `from` that should be refused (T: the reply type
// had it been taken, void for an empty reply); returns the error it was
// refused with, or an empty error if it was answered.
template <class T = void, class Handle, class... Ts>
caf::error refused(caf::scoped_actor& from, const Handle& to, Ts&&... xs) {
  caf::error result;
  auto req = from->request(to, reply_timeout, std::forward<Ts>(xs)...);
  if constexpr (std::is_void_v<T>)
    std::move(req).receive([] {},
      [&](caf::error& err) {
        result = std::move(err);
      });
  else
    std::move(req).receive([](T&) {},
      [&](caf::error& err) {
        result = std::move(err);
      });
  return result;
}

// Sends a request from `from` that should be answered; an error reply
// fails the test.
template <class T, class Handle, class... Ts>
T answer(caf::scoped_actor& from, const Handle& to, Ts&&... xs) {
  T result{};
  from->request(to, reply_timeout, std::forward<Ts>(xs)...)
    .receive(
      [&](T& x) {
        result = std::move(x);
      },
      [&](caf::error& err) {
        FAIL(from->system().render(err));
      });
  return result;
}

// A registration of `reg` from `from` that should be accepted (the reply
// is empty); an error reply fails the test.
void accepted(caf::scoped_actor& from, const scheduler_actor& sched,
  const registration& reg) {
  from->request(sched, reply_timeout, register_atom::value, reg)
    .receive([] {},
      [&](caf::error& err) {
        FAIL("registration refused: " << from->system().render(err));
      });
}

registration worker_registration(std::string proof = {}) {
  return registration{node_role::worker, "node-b", false, protocol_version,
    runtime_version(), "", std::move(proof)};
}

// An MLP 4-8-3 on blobs, sgd, one epoch of bsp, `workers` workers and one
// shard (as scheduler.test.cpp builds its jobs).
job_spec small_spec(size_t workers) {
  auto opts = test::small_options("mlp", "sgd", 0.1f, 1, 5);
  local_options local;
  local.workers = workers;
  local.shards = 1;
  local.modes = parse_mode_schedule("bsp@1");
  auto train = test::blobs(60, 8);
  return make_job_spec(opts, local, train);
}

} // namespace

TEST_CASE("a push from another node with a wrong length or NaN values is "
          "refused and the model unchanged") {
  two_nodes n;
  // On A: a shard of a one-worker job whose scheduler is the scoped actor
  // `sched`, and a door through which B's worker makes itself known.
  caf::scoped_actor sched{n.a};
  auto w0 = test::random_floats(params, 1);
  server_shard_actor shard = n.a.spawn(server_shard,
    shard_config{caf::actor_cast<scheduler_actor>(sched), nullptr});
  auto shard_port = n.publish(shard);
  auto door_port
    = n.publish(n.a.spawn(door, caf::actor_cast<caf::actor>(sched)));
  sched->receive([](register_atom, const registration&) {},
    caf::after(reply_timeout) >>
      [] {
        FAIL("the shard did not register");
      });
  shard_slice slice;
  slice.job = job;
  slice.id = 0;
  slice.workers = 1;
  slice.values = w0;
  sched->send(shard, std::move(slice));
  // On B: the worker, and an actor of B that never registered.
  caf::scoped_actor b_worker{n.b};
  caf::scoped_actor stranger{n.b};
  auto remote_shard = n.from_b<server_shard_actor>(shard_port);
  b_worker->send(n.from_b(door_port), caf::actor_cast<caf::actor>(b_worker));
  caf::actor worker_on_a;
  sched->receive(
    [&](caf::actor& peer) {
      worker_on_a = std::move(peer);
    },
    caf::after(reply_timeout) >>
      [] {
        FAIL("B's worker did not reach the door");
      });
  REQUIRE(worker_on_a);
  CHECK(worker_on_a.node() == n.b.node());
  CHECK(answer<uint64_t>(
          sched, shard, roster_atom::value, worker_roster{job, {worker_on_a}})
        == 0);
  // asp: a push that was taken would be applied at once.
  CHECK(answer<uint64_t>(sched, shard, mode_atom::value,
          shard_mode{job, consistency::asp, 0.5f})
        == 0);
  auto push = [](std::vector<float> values, uint64_t version = 0) {
    return gradient_push{job, 0, 1, version, 16, std::move(values)};
  };
  auto good = test::random_floats(params, 2);
  auto short_values = good;
  short_values.pop_back();
  auto nan_values = good;
  nan_values[4] = std::numeric_limits<float>::quiet_NaN();
  SUBCASE("refused, each with its reason") {
    auto shape_err = refused<uint64_t>(
      b_worker, remote_shard, push_atom::value, push(short_values));
    CHECK(shape_err == code_of(errc::bad_shape));
    CHECK(test::contains(reason_of(shape_err), "push of 8 values"));
    CHECK(refused<uint64_t>(
            b_worker, remote_shard, push_atom::value, push(nan_values))
          == code_of(errc::not_finite));
    // Version 5 of a shard at version 0: from the future.
    CHECK(
      refused<uint64_t>(b_worker, remote_shard, push_atom::value, push(good, 5))
      == code_of(errc::bad_version));
    // A well-formed push naming worker 0 from an actor of B not registered
    // under it.
    CHECK(
      refused<uint64_t>(stranger, remote_shard, push_atom::value, push(good))
      == code_of(errc::bad_sender));
    CHECK(refused<parameter_slice>(
            stranger, remote_shard, pull_atom::value, parameter_pull{job, 0})
          == code_of(errc::bad_sender));
    auto now = answer<parameter_slice>(
      b_worker, remote_shard, pull_atom::value, parameter_pull{job, 0});
    CHECK(now.version == 0);
    CHECK(same_bits(now.values.get(), w0));
    auto s = answer<shard_stats>(sched, shard, stats_atom::value);
    CHECK(s.rejected == 5);
    CHECK(s.pushes == 0);
    CHECK(s.updates == 0);
  }
  SUBCASE("the same push, well formed, from the registered worker is "
          "applied") {
    CHECK(answer<uint64_t>(b_worker, remote_shard, push_atom::value, push(good))
          == 1);
    auto now = answer<parameter_slice>(
      b_worker, remote_shard, pull_atom::value, parameter_pull{job, 0});
    CHECK(now.version == 1);
    CHECK_FALSE(same_bits(now.values.get(), w0));
  }
}

TEST_CASE("an internal message from another node is refused") {
  two_nodes n;
  // On A: a scheduler of a one-worker job and a worker registered with it;
  // both published.
  scheduler_config sc;
  sc.spec = small_spec(1);
  scheduler_actor sched = n.a.spawn(scheduler, std::move(sc));
  auto sched_port = n.publish(sched);
  worker_actor w = n.a.spawn(worker, worker_config{sched, nullptr});
  auto worker_port = n.publish(caf::actor_cast<caf::actor>(w));
  caf::scoped_actor self{n.b};
  auto remote_sched = n.from_b<scheduler_actor>(sched_port);
  auto whole = caf::actor_cast<scheduler_internal>(remote_sched);
  // A tick would forward progress and reschedule itself; a deadline with
  // true, before the job's shard registered, would end the job.
  auto tick_err = refused(self, whole, tick_atom::value);
  CHECK(tick_err == code_of(errc::bad_sender));
  CHECK(test::contains(reason_of(tick_err), "internal"));
  CHECK(refused(self, whole, deadline_atom::value, true)
        == code_of(errc::bad_sender));
  // The job goes on: the scheduler still answers (a finished one quits).
  CHECK(
    answer<std::string>(self, remote_sched, hello_atom::value).size() == 64);
  // A step would make the worker compute and push out of turn.
  auto remote_worker = caf::actor_cast<worker_internal>(n.from_b(worker_port));
  auto step_err = refused(self, remote_worker, step_atom::value);
  CHECK(step_err == code_of(errc::bad_sender));
  CHECK(test::contains(reason_of(step_err), "internal"));
}

TEST_CASE("a registration from another node with another protocol version "
          "or release is refused") {
  two_nodes n;
  scheduler_config sc;
  sc.spec = small_spec(1);
  scheduler_actor sched = n.a.spawn(scheduler, std::move(sc));
  auto port = n.publish(sched);
  caf::scoped_actor self{n.b};
  auto remote_sched = n.from_b<scheduler_actor>(port);
  const auto ours = std::to_string(protocol_version);
  const auto theirs = std::to_string(protocol_version + 1);
  SUBCASE("another protocol") {
    auto reg = worker_registration();
    reg.protocol = protocol_version + 1;
    auto err = refused(self, remote_sched, register_atom::value, reg);
    CHECK(err == code_of(errc::bad_version));
    auto why = reason_of(err);
    INFO(why);
    CHECK(test::contains(why, "protocol " + theirs));
    CHECK(test::contains(why, "protocol " + ours));
  }
  SUBCASE("another release") {
    auto reg = worker_registration();
    reg.version = "paramserv 0.0.1 (CAF 0.17.6)";
    auto err = refused(self, remote_sched, register_atom::value, reg);
    CHECK(err == code_of(errc::bad_version));
    auto why = reason_of(err);
    INFO(why);
    CHECK(test::contains(why, "protocol"));
    CHECK(test::contains(why, reg.version));
    CHECK(test::contains(why, runtime_version()));
  }
  // Refused ones took no place: the right protocol and release are taken,
  // once.
  accepted(self, remote_sched, worker_registration());
  CHECK(refused(self, remote_sched, register_atom::value, worker_registration())
        == code_of(errc::out_of_order));
}

TEST_CASE("a scheduler with a cluster secret refuses a registration without "
          "the right proof") {
  two_nodes n;
  // Room for two workers: a refusal below is the proof's, never a full job.
  scheduler_config sc;
  sc.spec = small_spec(2);
  sc.secret = "s3cret";
  scheduler_actor sched = n.a.spawn(scheduler, std::move(sc));
  auto port = n.publish(sched);
  caf::scoped_actor joiner{n.b};
  caf::scoped_actor eavesdropper{n.b};
  auto remote_sched = n.from_b<scheduler_actor>(port);
  auto hello = [&](caf::scoped_actor& from) {
    auto nonce = answer<std::string>(from, remote_sched, hello_atom::value);
    CHECK(nonce.size() == 64);
    CHECK(std::all_of(nonce.begin(), nonce.end(), [](char c) {
      return std::isxdigit(static_cast<unsigned char>(c)) != 0;
    }));
    return nonce;
  };
  auto register_from = [&](caf::scoped_actor& from, std::string proof) {
    return refused(from, remote_sched, register_atom::value,
      worker_registration(std::move(proof)));
  };
  // No proof at all, and a proof keyed with the wrong secret.
  CHECK(register_from(joiner, "") == code_of(errc::bad_sender));
  auto first = hello(joiner);
  CHECK(register_from(joiner, prove_secret("wrong", first))
        == code_of(errc::bad_sender));
  // The right secret with a new nonce (the refused attempt used up the
  // first).
  auto second = hello(joiner);
  CHECK(second != first);
  auto proof = prove_secret("s3cret", second);
  accepted(joiner, remote_sched, worker_registration(proof));
  // That proof replayed by another actor of B with a fresh nonce, and with
  // none.
  auto third = hello(eavesdropper);
  CHECK(third != second);
  CHECK(register_from(eavesdropper, proof) == code_of(errc::bad_sender));
  CHECK(register_from(eavesdropper, proof) == code_of(errc::bad_sender));
  // Its own proof of a fresh nonce is taken: the job had room.
  accepted(eavesdropper, remote_sched,
    worker_registration(prove_secret("s3cret", hello(eavesdropper))));
}
