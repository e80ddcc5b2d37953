// The parameter, control and job messages through CAF 0.17's binary
// serializer, as they cross the network.

#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <future>
#include <thread>
#include <cstring>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "linalg/core/random.hpp"
#include "tests/test_support.hpp"
#include "messages/add_message_types.hpp"
#include "messages/control_messages.hpp"
#include "messages/job_messages.hpp"
#include "messages/parameter_messages.hpp"

using namespace paramserv;
using paramserv::test::same_bits;

namespace {

constexpr size_t n = 100000;

// The 8 bytes at `offset` as a uint64_t in network byte order, the order in
// which CAF 0.17's binary serializer writes integers (lengths included).
uint64_t length_at(const std::vector<char>& buf, size_t offset) {
  uint64_t result = 0;
  for (size_t i = 0; i < 8; ++i)
    result = (result << 8) | static_cast<unsigned char>(buf[offset + i]);
  return result;
}

// Overwrites the 8 bytes at `offset` with `value` in network byte order.
void set_length(std::vector<char>& buf, size_t offset, uint64_t value) {
  for (size_t i = 0; i < 8; ++i)
    buf[offset + i] = static_cast<char>(value >> (8 * (7 - i)));
}

// Counts what an inspect() hands to a serializer: raw byte blocks versus
// floats one by one. Both cost 4 bytes per float in CAF 0.17's binary
// format, so only this tells the raw path from the element-wise one.
class counting_serializer final : public caf::serializer {
public:
  size_t floats = 0;
  size_t raw_calls = 0;
  size_t largest_raw = 0;

  caf::error begin_object(uint16_t&, std::string&) override {
    return {};
  }
  caf::error end_object() override {
    return {};
  }
  caf::error begin_sequence(size_t&) override {
    return {};
  }
  caf::error end_sequence() override {
    return {};
  }
  caf::error apply_raw(size_t num_bytes, void*) override {
    ++raw_calls;
    largest_raw = std::max(largest_raw, num_bytes);
    return {};
  }

protected:
  caf::error apply_impl(int8_t&) override {
    return {};
  }
  caf::error apply_impl(uint8_t&) override {
    return {};
  }
  caf::error apply_impl(int16_t&) override {
    return {};
  }
  caf::error apply_impl(uint16_t&) override {
    return {};
  }
  caf::error apply_impl(int32_t&) override {
    return {};
  }
  caf::error apply_impl(uint32_t&) override {
    return {};
  }
  caf::error apply_impl(int64_t&) override {
    return {};
  }
  caf::error apply_impl(uint64_t&) override {
    return {};
  }
  caf::error apply_impl(float&) override {
    ++floats;
    return {};
  }
  caf::error apply_impl(double&) override {
    return {};
  }
  caf::error apply_impl(long double&) override {
    return {};
  }
  caf::error apply_impl(std::string&) override {
    return {};
  }
  caf::error apply_impl(std::u16string&) override {
    return {};
  }
  caf::error apply_impl(std::u32string&) override {
    return {};
  }
};

// An actor that only has to exist, so that messages can carry its handle.
// (The unused argument keeps CAF 0.17 from binding a reference to its null
// argument tuple, which UBSan reports for actors spawned from functions
// without arguments.)
caf::behavior idle_actor(int) {
  return {
    [](int) {},
  };
}

struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{init(cfg)};
  /// Actors spawned by spawn_idle; shut down with the fixture.
  std::vector<caf::actor> live;

  static caf::actor_system_config& init(caf::actor_system_config& c) {
    add_message_types(c);
    c.set("scheduler.max-threads", 1);
    c.set("logger.verbosity", caf::atom("quiet"));
    return c;
  }

  ~fixture() {
    for (auto& a : live)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }

  /// Spawns `k` idle actors into `live` and returns them.
  const std::vector<caf::actor>& spawn_idle(size_t k) {
    for (size_t i = 0; i < k; ++i)
      live.push_back(sys.spawn(idle_actor, 0));
    return live;
  }

  template <class T>
  std::vector<char> serialize(T& x) {
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    auto err = sink(x);
    REQUIRE_FALSE(err);
    return buf;
  }

  template <class T>
  caf::error deserialize(const std::vector<char>& buf, T& x) {
    caf::binary_deserializer source{sys, buf};
    return source(x);
  }
};

} // namespace

TEST_CASE("a gradient push survives a binary round trip as raw bytes") {
  fixture f;
  gradient_push x;
  x.job = 0x0123456789abcdefULL;
  x.worker = 7;
  x.clock = 12345;
  x.version = 678;
  x.rows = 64;
  auto values = test::random_floats(n, 1, -100.0, 100.0);
  values[5] = -0.0f;
  values[6] = std::numeric_limits<float>::quiet_NaN();
  x.values = values;
  auto buf = f.serialize(x);
  // job, worker, clock, version, rows, then the values' length and bytes.
  CHECK(buf.size() == 8 + 4 + 8 + 8 + 8 + 8 + 4 * n);
  gradient_push y;
  REQUIRE_FALSE(f.deserialize(buf, y));
  CHECK(y.job == x.job);
  CHECK(y.worker == x.worker);
  CHECK(y.clock == x.clock);
  CHECK(y.version == x.version);
  CHECK(y.rows == x.rows);
  CHECK(same_bits(y.values.get(), x.values.get()));
  SUBCASE("a truncated buffer is refused, not read past its end") {
    buf.resize(buf.size() - 1);
    gradient_push z;
    CHECK(f.deserialize(buf, z));
  }
}

TEST_CASE("the float buffers of parameter messages go to the serializer as "
          "one raw block") {
  gradient_push push;
  push.values = test::random_floats(n, 3, -100.0, 100.0);
  counting_serializer a;
  REQUIRE_FALSE(a(push));
  CHECK(a.floats == 0);
  CHECK(a.raw_calls == 1);
  CHECK(a.largest_raw == n * sizeof(float));
  parameter_slice slice;
  slice.values = shared_floats{push.values};
  slice.applied = {1, 2};
  counting_serializer b;
  REQUIRE_FALSE(b(slice));
  CHECK(b.floats == 0);
  CHECK(b.largest_raw == n * sizeof(float));
  shard_slice job_slice;
  job_slice.values = push.values.get();
  counting_serializer c;
  REQUIRE_FALSE(c(job_slice));
  CHECK(c.floats < 10); // the optimizer's scalars, not the n values
  CHECK(c.largest_raw == n * sizeof(float));
}

TEST_CASE("a parameter slice survives a binary round trip as raw bytes") {
  fixture f;
  parameter_slice x;
  x.job = 99;
  x.version = 1u << 20;
  x.values = shared_floats{test::random_floats(n, 2, -100.0, 100.0)};
  x.applied = {17, 0, uint64_t{1} << 40};
  auto buf = f.serialize(x);
  // job, version, the values' length and bytes, the applied clocks' length
  // and bytes.
  CHECK(buf.size() == 8 + 8 + 8 + 4 * n + 8 + 3 * 8);
  parameter_slice y;
  REQUIRE_FALSE(f.deserialize(buf, y));
  CHECK(y.job == x.job);
  CHECK(y.version == x.version);
  CHECK(same_bits(y.values.get(), x.values.get()));
  CHECK(y.values.data() != x.values.data());
  CHECK(y.applied == x.applied);
  SUBCASE("an empty slice round-trips too") {
    parameter_slice e;
    e.job = 5;
    auto small = f.serialize(e);
    CHECK(small.size() == 8 + 8 + 8 + 8);
    parameter_slice back;
    back.values = shared_floats{std::vector<float>{1.0f}};
    back.applied = {3};
    REQUIRE_FALSE(f.deserialize(small, back));
    CHECK(back.job == 5);
    CHECK(back.values.size() == 0);
    CHECK(back.applied.empty());
  }
}

TEST_CASE("shared_floats: copies share the buffer; the serializer writes it "
          "as one raw block and a round trip gives an independent equal "
          "buffer") {
  fixture f;
  auto values = test::random_floats(n, 4, -100.0, 100.0);
  values[1] = -0.0f;
  values[2] = std::numeric_limits<float>::quiet_NaN();
  shared_floats x{values};
  shared_floats copy = x;
  CHECK(copy.data() == x.data());
  CHECK(copy.size() == n);
  CHECK(same_bits(x.get(), values));
  // A message copied holds the same buffer too.
  parameter_slice slice;
  slice.values = x;
  parameter_slice slice_copy = slice;
  CHECK(slice_copy.values.data() == x.data());
  counting_serializer c;
  REQUIRE_FALSE(c(x));
  CHECK(c.floats == 0);
  CHECK(c.raw_calls == 1);
  CHECK(c.largest_raw == n * sizeof(float));
  auto buf = f.serialize(x);
  // The length, then the bytes.
  REQUIRE(buf.size() == 8 + 4 * n);
  CHECK(length_at(buf, 0) == n);
  CHECK(x.data() == copy.data()); // serialising left the buffer shared
  shared_floats y;
  REQUIRE_FALSE(f.deserialize(buf, y));
  CHECK(y == x);
  CHECK(same_bits(y.get(), values));
  CHECK(y.data() != x.data());
  SUBCASE("deserialising into a copy replaces its buffer, not the shared "
          "one's contents") {
    shared_floats other{std::vector<float>{1.0f, 2.0f}};
    auto other_buf = f.serialize(other);
    shared_floats z = copy;
    REQUIRE_FALSE(f.deserialize(other_buf, z));
    CHECK(z == other);
    CHECK(z.data() != x.data());
    CHECK(same_bits(x.get(), values));
    CHECK(same_bits(copy.get(), values));
  }
  SUBCASE("the default is an empty buffer, written as its length alone") {
    shared_floats e;
    CHECK(e.size() == 0);
    CHECK(e == shared_floats{});
    auto small = f.serialize(e);
    CHECK(small.size() == 8);
    shared_floats back = x;
    REQUIRE_FALSE(f.deserialize(small, back));
    CHECK(back.size() == 0);
    CHECK(x.size() == n);
  }
}

namespace {

// A message of each type with every field (and every field of a nested
// struct) set to something other than its default; `live` holds actors for
// the handles some messages carry.
template <class T>
T sample(const std::vector<caf::actor>& live);

template <>
gradient_push sample(const std::vector<caf::actor>&) {
  return {
    11, 2, 33, 44, 64, std::vector<float>{1.5f, -2.0f, 3.0f, 0.25f, 9.0f}};
}

template <>
row_handover sample(const std::vector<caf::actor>&) {
  return {11, {4, 8, 15}, {16, 23, 42}};
}

template <>
shard_moved sample(const std::vector<caf::actor>& live) {
  return {
    11, 2, caf::actor_cast<server_shard_actor>(live.at(0)), "10.0.0.2:4711"};
}

template <>
parameter_pull sample(const std::vector<caf::actor>&) {
  return {11, 3};
}

template <>
parameter_slice sample(const std::vector<caf::actor>&) {
  return {
    11, 99, shared_floats{std::vector<float>{0.5f, 1.5f, -7.0f}}, {4, 0, 12}};
}

template <>
epoch_report sample(const std::vector<caf::actor>&) {
  return {11, 1, 2, 640, 12.5, 10, 3.5, 4, 30, 2, 1, 6, 9};
}

template <>
worker_position sample(const std::vector<caf::actor>& live) {
  return {11, 1, 2, 320, 5, 30, 29, sample<epoch_report>(live)};
}

template <>
epoch_plan sample(const std::vector<caf::actor>& live) {
  return {11, 3, consistency::ssp, 0.125f, true, {10, 12, 9}, true,
    sample<worker_position>(live)};
}

template <>
checkpoint_request sample(const std::vector<caf::actor>&) {
  return {11, {30, 0, 29}};
}

template <>
shard_mode sample(const std::vector<caf::actor>&) {
  return {11, consistency::sbp, 0.5f, staleness_remedy::dc, 0.25f};
}

template <>
progress_report sample(const std::vector<caf::actor>&) {
  return {11, 2, 640, 12.5};
}

template <>
commit_request sample(const std::vector<caf::actor>&) {
  return {11, 17, {0, 2}, {1, 5}, 0.125f};
}

template <>
shard_stats sample(const std::vector<caf::actor>&) {
  return {1, 2, 3, 4.5, 5, 6, 7, 8, 9};
}

template <>
run_result sample(const std::vector<caf::actor>&) {
  epoch_metrics m;
  m.epoch = 2;
  m.elapsed_s = 1.25;
  m.train_loss = 0.5;
  m.test_accuracy = 0.875;
  m.pushes = 40;
  m.max_read_lag = 3;
  m.skipped = 1;
  m.workers = 3;
  m.workers_lost = 1;
  m.validation_accuracy = 0.75;
  evaluation_record e{2, 300, 1.5, 0.25, 0.875};
  return {{m, m}, {1.0f, 2.0f}, 3, 4, 5, {"epoch 1: mode bsp", ""}, 0xfeed, 6,
    7, {e}, stop_verdict::target, 1.5};
}

template <>
data_source sample(const std::vector<caf::actor>&) {
  return {
    .path = "/data/train.csv",
    .format = "csv",
    .classes = 10,
    .features = 784,
    .label_column = 3,
    .csv_header = 2,
    .shift = {0.5f, -1.0f, 0.0f},
    .scale = {2.0f, 0.25f, -0.0f},
    .rows = 60000,
  };
}

template <>
request_timeouts sample(const std::vector<caf::actor>&) {
  return {.push_ms = 1000, .pull_ms = 2000, .control_ms = 3000};
}

template <>
job_spec sample(const std::vector<caf::actor>& live) {
  // Not a valid model (softmax takes no hidden layers), but every field
  // differs from its default, so that an inspect that forgot one shows.
  model_spec model{
    .kind = "softmax",
    .inputs = 784,
    .hidden = {256, 64},
    .classes = 10,
    .act = activation::tanh,
  };
  optimizer_options optimizer{
    .kind = "adam",
    .momentum = 0.5f,
    .beta1 = 0.8f,
    .beta2 = 0.99f,
    .epsilon = 1e-6f,
    .weight_decay = 1e-4f,
  };
  lr_schedule schedule{
    .kind = lr_schedule_kind::cosine,
    .base = 0.05f,
    .step_epochs = 3,
    .gamma = 0.5f,
    .epochs = 20,
  };
  return {
    .job = 0x0123456789abcdefULL,
    .opts =
      {
        .model = model,
        .optimizer = optimizer,
        .schedule = schedule,
        .batch_size = 32,
        .epochs = 7,
        .seed = 42,
        .scheme = partition_scheme::disjoint_random,
      },
    .modes = {mode_switch{{consistency::bsp, 0}, 1},
      mode_switch{{consistency::ssp, 3}, 4}},
    .freq = update_frequency::nbatches,
    .nbatches = 4,
    .shards = 3,
    .workers = 5,
    .data = sample<data_source>(live),
    .timeouts = sample<request_timeouts>(live),
    .progress_ms = 250,
  };
}

template <>
registration sample(const std::vector<caf::actor>&) {
  return {node_role::server, "host-a:4242", true, protocol_version + 1,
    "paramserv 9.9.9", "10.0.0.2:7401", "00ff"};
}

template <>
shard_slice sample(const std::vector<caf::actor>&) {
  return {
    .job = 11,
    .id = 2,
    .workers = 5,
    .values = {1.5f, -2.0f, 0.0f, 7.25f},
    .optimizer =
      {
        .kind = "momentum",
        .momentum = 0.5f,
        .beta1 = 0.8f,
        .beta2 = 0.99f,
        .epsilon = 1e-6f,
        .weight_decay = 1e-4f,
      },
    .version = 9,
    .steps = 31,
    .state = {0.25f, -1.0f, 3.0f, 0.5f},
    .fences = {4, 0, 7, 1, 2},
  };
}

template <>
shard_state sample(const std::vector<caf::actor>&) {
  return {11, 2, 9, {1.5f, -2.0f}, 31, {0.25f, -1.0f}};
}

template <>
worker_slice sample(const std::vector<caf::actor>& live) {
  REQUIRE(live.size() >= 2);
  return {
    .spec = sample<job_spec>(live),
    .id = 1,
    .rows = {0, 5, 9},
    .keys = {{0, 0, 100}, {1, 100, 50}},
    .owner = {0, 1},
    .shards = {caf::actor_cast<server_shard_actor>(live[0]),
      caf::actor_cast<server_shard_actor>(live[1])},
    .endpoints = {"", "10.0.0.3:7402"},
  };
}

template <>
worker_roster sample(const std::vector<caf::actor>& live) {
  REQUIRE(live.size() >= 2);
  return {11, {live[0], live[1]}};
}

// How many fields of one message equal the same field of another.
template <class... Ts>
size_t equal_fields(const std::tuple<Ts&...>& x, const std::tuple<Ts&...>& y) {
  return [&]<size_t... I>(std::index_sequence<I...>) {
    return (
      size_t{0} + ... + static_cast<size_t>(std::get<I>(x) == std::get<I>(y)));
  }
  (std::index_sequence_for<Ts...>{});
}

} // namespace

TEST_CASE_TEMPLATE("every message type survives a binary round trip field "
                   "for field",
  T, gradient_push, parameter_pull, parameter_slice, epoch_plan, epoch_report,
  shard_mode, progress_report, commit_request, shard_stats, run_result,
  data_source, request_timeouts, job_spec, registration, shard_slice,
  shard_state, worker_slice, worker_roster, row_handover, shard_moved,
  worker_position, checkpoint_request) {
  fixture f;
  auto x = sample<T>(f.spawn_idle(2));
  auto buf = f.serialize(x);
  T y;
  REQUIRE_FALSE(f.deserialize(buf, y));
  CHECK(x.fields() == y.fields());
  T defaults;
  CHECK_FALSE(defaults.fields() == x.fields()); // the sample is not the default
  CHECK(equal_fields(defaults.fields(), x.fields()) == 0); // nor any field
}

TEST_CASE("a message claiming a huge vector or string is refused before "
          "anything is allocated") {
  fixture f;
  // commit_request: job (8 bytes), round (8), the workers' length (8) and
  // ids (4 each), the late pairs' length (8) and clocks (8 each), the
  // rate (4).
  commit_request commit{11, 17, {0, 4}, {1, 5}};
  auto buf = f.serialize(commit);
  REQUIRE(buf.size() == 8 + 8 + (8 + 2 * 4) + (8 + 2 * 8) + 4);
  constexpr size_t workers_at = 16;
  constexpr size_t late_at = workers_at + 8 + 2 * 4;
  REQUIRE(length_at(buf, workers_at) == 2);
  REQUIRE(length_at(buf, late_at) == 2);
  SUBCASE("all bits set") {
    // 2^64 - 1 workers in any byte order.
    std::memset(buf.data() + workers_at, 0xff, 8);
    commit_request back;
    CHECK(f.deserialize(buf, back) == caf::sec::invalid_argument);
    CHECK(back.workers.size() <= 2);
  }
  SUBCASE("one element over the limit, in the second vector") {
    set_length(buf, late_at, max_message_elements + 1);
    commit_request back;
    CHECK(f.deserialize(buf, back) == caf::sec::invalid_argument);
    CHECK(back.workers == commit.workers);
    CHECK(back.late.empty());
  }
  SUBCASE("a string inside a vector (run_result's log lines)") {
    run_result r;
    r.log = {"x"};
    r.job = 7;
    auto rbuf = f.serialize(r);
    // The last 50 bytes are the line's length (8), its one character, the
    // job (8), the two counters (8 each), no evaluations (8), the stop
    // verdict (1) and target_s (8).
    constexpr size_t tail = 8 + 1 + 8 + 16 + 8 + 1 + 8;
    REQUIRE(rbuf.size() >= tail);
    REQUIRE(length_at(rbuf, rbuf.size() - tail) == 1);
    REQUIRE(rbuf[rbuf.size() - tail + 8] == 'x');
    REQUIRE(length_at(rbuf, rbuf.size() - tail + 9) == 7);
    std::memset(rbuf.data() + rbuf.size() - tail, 0xff, 8);
    run_result rback;
    CHECK(f.deserialize(rbuf, rback) == caf::sec::invalid_argument);
  }
}

TEST_CASE("a message claiming a huge float buffer inside a nested job "
          "message is refused") {
  fixture f;
  SUBCASE("shard_slice's initial values") {
    shard_slice x;
    x.job = 11;
    x.values = {1.0f, 2.0f, 3.0f};
    auto buf = f.serialize(x);
    // job (8), id (4), workers (4), the values' length (8) and bytes (4
    // each), the optimizer: its kind ("sgd": 8 + 3) and five floats; the
    // version and steps (8 each), the state's and fences' lengths (8
    // each) and no elements.
    REQUIRE(buf.size()
            == 8 + 4 + 4 + (8 + 3 * 4) + ((8 + 3) + 5 * 4) + 8 + 8 + 8 + 8);
    constexpr size_t values_at = 16;
    REQUIRE(length_at(buf, values_at) == 3);
    // 2^64 - 1 floats in any byte order.
    std::memset(buf.data() + values_at, 0xff, 8);
    shard_slice back;
    CHECK(f.deserialize(buf, back) == caf::sec::invalid_argument);
    CHECK(back.values.empty());
  }
  SUBCASE("the feature shift of the data source of a worker's job spec") {
    worker_slice x;
    x.spec.job = 11;
    x.spec.opts.model.kind = "mlp";
    x.spec.opts.model.hidden = {};
    x.spec.modes = {mode_switch{}};
    x.spec.data.path = "d.csv";
    x.spec.data.format = "";
    x.spec.data.shift = {0.5f, 2.0f};
    x.spec.data.scale = {1.0f, 1.0f};
    x.rows = {0, 1};
    x.keys = {key_range{0, 0, 4}};
    x.owner = {0};
    auto buf = f.serialize(x);
    // job_spec: the job (8), then train_options: the model (kind: 8 + 3,
    // inputs 8, hidden: 8 + 0, classes 8, act: an int enum, 4), the
    // optimizer (kind "sgd": 8 + 3, and five floats), the lr schedule (kind 4,
    // base 4, step_epochs 8, gamma 4, epochs 8), batch_size, epochs and
    // seed (8 each), the scheme (an int enum, 4), the validation options
    // (two doubles, two uint64: 8 each), the lr scaling (1), warm-up (8),
    // the staleness remedy (1), lambda (4) and asp pipelining (1).
    constexpr size_t model = (8 + 3) + 8 + (8 + 0) + 8 + 4;
    constexpr size_t opts = model + ((8 + 3) + 5 * 4) + (4 + 4 + 8 + 4 + 8)
                            + 3 * 8 + 4 + 4 * 8 + 1 + 8 + 1 + 4 + 1;
    // The mode schedule: its length and one switch (a uint8 mode, a uint32
    // param, a uint64 epoch); freq (uint8), nbatches (8), shards and
    // workers (4 each).
    constexpr size_t data_at = 8 + opts + (8 + 1 * (1 + 4 + 8)) + 1 + 8 + 4 + 4;
    // data_source: path (8 + 5), format (8 + 0), classes (4), features
    // and label_column (8 each), csv_header (1), then the shift.
    constexpr size_t shift_at = data_at + (8 + 5) + (8 + 0) + 4 + 8 + 8 + 1;
    // The rest of the data source: shift and scale (8 + 2 * 4 each), rows
    // (8); the timeouts (3 * 4) and progress_ms (4); then worker_slice's
    // id (4), rows (8 + 2 * 4), keys (8 + one key_range of 4 + 8 + 8),
    // owner (8 + 4), shards (8 + 0) and endpoints (8 + 0).
    constexpr size_t spec = shift_at + 2 * (8 + 2 * 4) + 8 + 3 * 4 + 4;
    REQUIRE(buf.size()
            == spec + 4 + (8 + 2 * 4) + (8 + (4 + 8 + 8)) + (8 + 4) + 8 + 8);
    REQUIRE(length_at(buf, shift_at) == 2);
    REQUIRE(length_at(buf, shift_at + 8 + 2 * 4) == 2); // the scale's
    SUBCASE("all bits set") {
      std::memset(buf.data() + shift_at, 0xff, 8);
      worker_slice back;
      CHECK(f.deserialize(buf, back) == caf::sec::invalid_argument);
      CHECK(back.spec.data.shift.empty());
    }
    SUBCASE("one float over the limit") {
      set_length(buf, shift_at, max_message_floats + 1);
      worker_slice back;
      CHECK(f.deserialize(buf, back) == caf::sec::invalid_argument);
      CHECK(back.spec.data.path == "d.csv"); // read up to the shift
      CHECK(back.spec.data.shift.empty());
    }
  }
}

TEST_CASE("a message naming an enum value that does not exist is refused") {
  fixture f;
  // shard_mode: job (8 bytes), then the mode (one byte), the rate (4), the
  // remedy (one byte) and lambda (4).
  shard_mode m{11, consistency::ssp, 0.5f};
  auto buf = f.serialize(m);
  REQUIRE(buf.size() == 8 + 1 + 4 + 1 + 4);
  shard_mode back;
  REQUIRE_FALSE(f.deserialize(buf, back));
  CHECK(back.mode == consistency::ssp);
  buf[8] = static_cast<char>(200);
  shard_mode forged;
  CHECK(f.deserialize(buf, forged) == caf::sec::invalid_argument);
  CHECK(forged.mode == consistency::bsp); // untouched
  // The same inside a nested job message: the optimizer of a shard slice.
  shard_slice slice;
  slice.optimizer.kind = "adam";
  auto sbuf = f.serialize(slice);
  shard_slice sback;
  REQUIRE_FALSE(f.deserialize(sbuf, sback));
  CHECK(sback.optimizer.kind == "adam");
  // job (8), id (4), workers (4), values' length (8): then the kind, an int.
  REQUIRE(sbuf.size() >= 24 + 4);
  std::memset(sbuf.data() + 24, 0x7f, 4);
  CHECK(f.deserialize(sbuf, sback) == caf::sec::invalid_argument);
}

TEST_CASE("a length claiming more elements than the message has bytes is "
          "refused before anything is allocated") {
  fixture f;
  // commit_request: job (8), round (8), the workers' length (8), then
  // 4 bytes per worker. A length of 1000 in a message of 44 bytes.
  commit_request c{11, 2, {1, 2}, {}};
  auto buf = f.serialize(c);
  REQUIRE(buf.size() == 8 + 8 + 8 + 2 * 4 + 8 + 4);
  uint64_t claimed = 1000;
  for (int i = 0; i < 8; ++i) // network byte order
    buf[16 + i] = static_cast<char>((claimed >> (8 * (7 - i))) & 0xff);
  commit_request back;
  CHECK(f.deserialize(buf, back) == caf::sec::invalid_argument);
  CHECK(back.workers.empty());
  // A float buffer the same way: a push claiming a million floats.
  gradient_push p;
  p.values = std::vector<float>{1.0f, 2.0f};
  auto pbuf = f.serialize(p);
  // job 8, worker 4, clock 8, version 8, rows 8: then the floats' length.
  REQUIRE(pbuf.size() == 36 + 8 + 8);
  claimed = 1000000;
  for (int i = 0; i < 8; ++i)
    pbuf[36 + i] = static_cast<char>((claimed >> (8 * (7 - i))) & 0xff);
  gradient_push pback;
  CHECK(f.deserialize(pbuf, pback) == caf::sec::invalid_argument);
  CHECK(pback.values.empty());
}

TEST_CASE("shared_floats refill writes in place only when no other handle "
          "holds the buffer") {
  auto first = test::random_floats(n, 5, -1.0, 1.0);
  auto second = test::random_floats(n, 6, -1.0, 1.0);
  auto third = test::random_floats(n, 7, -1.0, 1.0);
  shared_floats x;
  shared_floats empty;
  x.refill(first); // the default buffer is shared by every empty one
  CHECK(empty.size() == 0);
  CHECK(same_bits(x.get(), first));
  // A reader (a message in flight) holds the buffer: refill leaves its
  // view alone and takes a new buffer.
  shared_floats reader = x;
  x.refill(second);
  CHECK(same_bits(reader.get(), first));
  CHECK(same_bits(x.get(), second));
  CHECK(x.data() != reader.data());
  // Nobody else holds it any more: the same buffer is overwritten.
  auto* before = x.data();
  x.refill(third);
  CHECK(x.data() == before);
  CHECK(same_bits(x.get(), third));
}

namespace {

// Float values CAF 0.17's own encoding (detail::pack754) cannot carry: an
// infinity hangs it, NaN payloads and subnormals change.
const float odd_floats[] = {std::numeric_limits<float>::infinity(),
  -std::numeric_limits<float>::infinity(),
  std::numeric_limits<float>::quiet_NaN(), std::bit_cast<float>(0x7fa00001u),
  std::numeric_limits<float>::denorm_min(), -0.0f};

template <class T>
bool same_bits_of(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

} // namespace

TEST_CASE("float and double fields travel as their bits: infinities, NaN "
          "payloads, subnormals and -0") {
  fixture f;
  for (float v : odd_floats) {
    double d = v;
    CAPTURE(std::bit_cast<uint32_t>(v));
    // Serialised off the test's thread: before floats travelled as bits,
    // an infinity never came back (CAF's encoder loops).
    auto round_trip = [&] {
      epoch_plan plan;
      plan.lr = v;
      epoch_report report;
      report.loss_sum = d;
      report.staleness_sum = -d;
      epoch_metrics m;
      m.train_loss = d;
      m.test_accuracy = d;
      m.lr = d;
      m.mean_staleness = d;
      shard_slice slice;
      slice.optimizer.momentum = v;
      slice.optimizer.beta1 = v;
      slice.optimizer.beta2 = v;
      slice.optimizer.epsilon = v;
      slice.optimizer.weight_decay = v;
      job_spec spec;
      spec.opts.schedule.base = v;
      spec.opts.schedule.gamma = v;
      auto plan_buf = f.serialize(plan);
      auto report_buf = f.serialize(report);
      auto m_buf = f.serialize(m);
      auto slice_buf = f.serialize(slice);
      auto spec_buf = f.serialize(spec);
      epoch_plan plan2;
      epoch_report report2;
      epoch_metrics m2;
      shard_slice slice2;
      job_spec spec2;
      bool ok
        = !f.deserialize(plan_buf, plan2) && !f.deserialize(report_buf, report2)
          && !f.deserialize(m_buf, m2) && !f.deserialize(slice_buf, slice2)
          && !f.deserialize(spec_buf, spec2);
      auto& o = slice2.optimizer;
      auto& s = spec2.opts.schedule;
      return ok && same_bits_of(plan2.lr, v)
             && same_bits_of(report2.loss_sum, d)
             && same_bits_of(report2.staleness_sum, -d)
             && same_bits_of(m2.train_loss, d)
             && same_bits_of(m2.test_accuracy, d) && same_bits_of(m2.lr, d)
             && same_bits_of(m2.mean_staleness, d)
             && same_bits_of(o.momentum, v) && same_bits_of(o.beta1, v)
             && same_bits_of(o.beta2, v) && same_bits_of(o.epsilon, v)
             && same_bits_of(o.weight_decay, v) && same_bits_of(s.base, v)
             && same_bits_of(s.gamma, v);
    };
    // On a thread of its own, left behind if it never returns; the bound
    // only keeps such a hang from stopping the suite.
    std::promise<bool> result;
    auto done = result.get_future();
    std::thread{[round_trip, result = std::move(result)]() mutable {
      result.set_value(round_trip());
    }}.detach();
    REQUIRE_MESSAGE(
      done.wait_for(std::chrono::seconds(60)) == std::future_status::ready,
      "serialising the value never returned");
    CHECK(done.get());
  }
}
