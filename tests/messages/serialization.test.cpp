// The parameter messages through CAF 0.17's binary serializer, as they
// cross the network.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <limits>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "linalg/core/random.hpp"
#include "tests/test_support.hpp"
#include "messages/add_message_types.hpp"
#include "messages/control_messages.hpp"
#include "messages/parameter_messages.hpp"

using namespace paramserv;

namespace {

constexpr size_t n = 100000;

// Bitwise equality: -0.0f and NaN payloads must survive too.
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size()
         && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Raw bytes: 4 per float, plus the headers and the small fields.
size_t raw_bound(size_t floats) {
  return static_cast<size_t>(4.1 * static_cast<double>(floats)) + 200;
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

struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{init(cfg)};

  static caf::actor_system_config& init(caf::actor_system_config& c) {
    add_message_types(c);
    c.set("scheduler.max-threads", 1);
    c.set("logger.verbosity", caf::atom("quiet"));
    return c;
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
  x.keys = {0, 3, 9};
  x.lengths = {40000, 40000, 20000};
  x.values = test::random_floats(n, 1, -100.0, 100.0);
  x.values[5] = -0.0f;
  x.values[6] = std::numeric_limits<float>::quiet_NaN();
  auto buf = f.serialize(x);
  CHECK(buf.size() >= 4 * n);
  CHECK(buf.size() < raw_bound(n));
  gradient_push y;
  REQUIRE_FALSE(f.deserialize(buf, y));
  CHECK(y.job == x.job);
  CHECK(y.worker == x.worker);
  CHECK(y.clock == x.clock);
  CHECK(y.version == x.version);
  CHECK(y.rows == x.rows);
  CHECK(y.keys == x.keys);
  CHECK(y.lengths == x.lengths);
  CHECK(same_bits(y.values, x.values));
  SUBCASE("a truncated buffer is refused, not read past its end") {
    buf.resize(buf.size() - 1);
    gradient_push z;
    CHECK(f.deserialize(buf, z));
  }
}

TEST_CASE("the float buffers of parameter messages go to the serializer as "
          "one raw block") {
  gradient_push push;
  push.keys = {0};
  push.lengths = {static_cast<uint32_t>(n)};
  push.values = test::random_floats(n, 3, -100.0, 100.0);
  counting_serializer a;
  REQUIRE_FALSE(a(push));
  CHECK(a.floats == 0);
  CHECK(a.largest_raw == n * sizeof(float));
  parameter_slice slice;
  slice.values = push.values;
  counting_serializer b;
  REQUIRE_FALSE(b(slice));
  CHECK(b.floats == 0);
  CHECK(b.largest_raw == n * sizeof(float));
}

TEST_CASE("a parameter slice survives a binary round trip as raw bytes") {
  fixture f;
  parameter_slice x;
  x.job = 99;
  x.version = 1u << 20;
  x.keys = {1, 2};
  x.lengths = {60000, 40000};
  x.values = test::random_floats(n, 2, -100.0, 100.0);
  x.applied = {17, 0, uint64_t{1} << 40};
  auto buf = f.serialize(x);
  CHECK(buf.size() >= 4 * n);
  CHECK(buf.size() < raw_bound(n));
  parameter_slice y;
  REQUIRE_FALSE(f.deserialize(buf, y));
  CHECK(y.job == x.job);
  CHECK(y.version == x.version);
  CHECK(y.keys == x.keys);
  CHECK(y.lengths == x.lengths);
  CHECK(same_bits(y.values, x.values));
  CHECK(y.applied == x.applied);
  SUBCASE("an empty slice round-trips too") {
    parameter_slice e;
    e.job = 5;
    auto small = f.serialize(e);
    CHECK(small.size() < 200);
    parameter_slice back;
    back.values = {1.0f};
    REQUIRE_FALSE(f.deserialize(small, back));
    CHECK(back.job == 5);
    CHECK(back.values.empty());
  }
}

namespace {

// A message of each type with every field set to something other than its
// default.
template <class T>
T sample();

template <>
gradient_push sample() {
  return {11, 2, 33, 44, 64, {1, 5}, {3, 2}, {1.5f, -2.0f, 3.0f, 0.25f, 9.0f}};
}

template <>
parameter_pull sample() {
  return {11, 3, {0, 4, 7}};
}

template <>
parameter_slice sample() {
  return {11, 99, {2}, {3}, {0.5f, 1.5f, -7.0f}, {4, 0, 12}};
}

template <>
epoch_plan sample() {
  return {11, 3, consistency::ssp, 0.125f, true, {10, 12, 9}};
}

template <>
epoch_report sample() {
  return {11, 1, 2, 640, 12.5, 10, 3.5, 4, 30, 2, 1, 6};
}

template <>
shard_mode sample() {
  return {11, false, 0.5f, true};
}

template <>
commit_request sample() {
  return {11, 17, {0, 2}, {1, 5}};
}

template <>
shard_stats sample() {
  return {1, 2, 3, 4.5, 5, 6, 7, 8};
}

template <>
run_result sample() {
  epoch_metrics m;
  m.epoch = 2;
  m.elapsed_s = 1.25;
  m.train_loss = 0.5;
  m.test_accuracy = 0.875;
  m.pushes = 40;
  m.max_read_lag = 3;
  m.skipped = 1;
  return {{m, m}, {1.0f, 2.0f}, 3, 4, 5, {"epoch 1: mode bsp", ""}};
}

} // namespace

TEST_CASE_TEMPLATE("every message type survives a binary round trip field "
                   "for field",
  T, gradient_push, parameter_pull, parameter_slice, epoch_plan, epoch_report,
  shard_mode, commit_request, shard_stats, run_result) {
  fixture f;
  auto x = sample<T>();
  auto buf = f.serialize(x);
  T y;
  REQUIRE_FALSE(f.deserialize(buf, y));
  CHECK(x.fields() == y.fields());
  CHECK_FALSE(T{}.fields() == x.fields()); // the sample is not the default
}

TEST_CASE("a message claiming a huge vector or string is refused before "
          "anything is allocated") {
  fixture f;
  // parameter_pull: job (8 bytes), worker (4), then the keys' length (8).
  parameter_pull pull{11, 3, {0, 4}};
  auto buf = f.serialize(pull);
  REQUIRE(buf.size() == 8 + 4 + 8 + 2 * 4);
  // All bits set: 2^64 - 1 keys in any byte order (CAF 0.17 writes
  // integers in network order).
  std::memset(buf.data() + 12, 0xff, 8);
  parameter_pull back;
  auto err = f.deserialize(buf, back);
  CHECK(err == caf::sec::invalid_argument);
  CHECK(back.keys.size() <= 2);
  // The same for a string inside a vector (run_result's log lines).
  run_result r;
  r.log = {"x"};
  auto rbuf = f.serialize(r);
  // The last 9 bytes are the line's length (8) and its one character.
  REQUIRE(rbuf.size() >= 9);
  std::memset(rbuf.data() + rbuf.size() - 9, 0xff, 8);
  run_result rback;
  CHECK(f.deserialize(rbuf, rback) == caf::sec::invalid_argument);
}
