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
  x.applied = {17, 0, 1u << 40};
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
