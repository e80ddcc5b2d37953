// Decoding every message type from arbitrary bytes, as CAF's binary
// deserializer does for a message that arrives over the network. The first
// byte picks the type (or a type-erased caf::message, whose bytes name
// their types themselves); the rest are its bytes. What decodes is encoded
// again.

#include <cstdio>
#include <cstdlib>
#include <tuple>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/message.hpp>

#include "messages/add_message_types.hpp"
#include "messages/control_messages.hpp"
#include "messages/job_messages.hpp"
#include "messages/parameter_messages.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace paramserv;

namespace {

using types
  = std::tuple<caf::message, gradient_push, parameter_pull, parameter_slice,
    epoch_plan, epoch_report, shard_mode, commit_request, shard_stats,
    progress_report, data_source, request_timeouts, job_spec, registration,
    shard_slice, worker_slice, worker_roster, epoch_metrics, run_result,
    shard_state, row_handover, shard_moved, worker_position,
    checkpoint_request>;

// One actor system for every input, never destroyed: CAF 0.17's
// actor_system destructor run from exit() touches CAF's own statics after
// they are gone (a use after free that valgrind shows), so it is left to
// the end of the process.
caf::actor_system& system() {
  static caf::actor_system* sys = [] {
    auto* cfg = new caf::actor_system_config;
    add_message_types(*cfg);
    cfg->set("scheduler.max-threads", 1);
    cfg->set("logger.verbosity", caf::atom("quiet"));
    return new caf::actor_system{*cfg};
  }();
  return *sys;
}

template <class T>
void decode(const char* data, size_t size) {
  T x;
  caf::binary_deserializer source{system(), data, size};
  if (source(x))
    return; // refused: fine
  std::vector<char> again;
  caf::binary_serializer sink{system(), again};
  if (auto err = sink(x)) {
    std::fprintf(stderr,
      "paramserv fuzz: a decoded value does not encode: "
      "%s\n",
      system().render(err).c_str());
    std::abort();
  }
}

template <size_t... Is>
void decode_nth(
  size_t n, const char* data, size_t size, std::index_sequence<Is...>) {
  ((n == Is ? decode<std::tuple_element_t<Is, types>>(data, size) : void()),
    ...);
}

template <class T>
std::string seed(uint8_t selector, T x) {
  std::vector<char> buf;
  caf::binary_serializer sink{system(), buf};
  if (sink(x))
    std::abort();
  return std::string(1, static_cast<char>(selector))
         + std::string(buf.begin(), buf.end());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  constexpr size_t n = std::tuple_size_v<types>;
  decode_nth(data[0] % n, reinterpret_cast<const char*>(data) + 1, size - 1,
    std::make_index_sequence<n>{});
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  gradient_push push;
  push.job = 7;
  push.worker = 1;
  push.clock = 3;
  push.rows = 64;
  push.values = std::vector<float>{1.0f, -2.0f, 0.5f};
  job_spec spec;
  spec.job = 7;
  spec.opts.model.kind = "mlp";
  spec.opts.model.inputs = 4;
  spec.opts.model.hidden = {8};
  spec.opts.model.classes = 3;
  spec.modes = {mode_switch{}};
  spec.data.path = "blobs.csv";
  spec.data.shift = {0.5f, 1.0f};
  spec.data.scale = {2.0f, 1.0f};
  shard_slice slice;
  slice.job = 7;
  slice.values = {0.25f, 0.5f};
  slice.optimizer.kind = "adam";
  worker_slice ws;
  ws.spec = spec;
  ws.rows = {0, 1, 2};
  ws.keys = {key_range{0, 0, 4}};
  ws.owner = {0};
  ws.endpoints = {"127.0.0.1:4242"};
  run_result result;
  result.params = {1.0f, 2.0f};
  result.history.resize(2);
  std::vector<std::string> seeds{
    seed(1, push),
    seed(2, parameter_pull{}),
    seed(3, parameter_slice{}),
    seed(4, epoch_plan{}),
    seed(5, epoch_report{}),
    seed(6, shard_mode{}),
    seed(7, commit_request{}),
    seed(8, shard_stats{}),
    seed(9, progress_report{}),
    seed(10, spec.data),
    seed(11, request_timeouts{}),
    seed(12, spec),
    seed(13, registration{}),
    seed(14, slice),
    seed(15, ws),
    seed(16, worker_roster{}),
    seed(17, epoch_metrics{}),
    seed(18, result),
    seed(19, shard_state{7, 1, 3, {0.5f, 1.0f}, 12, {0.25f, 0.75f}}),
    seed(20, row_handover{7, {1, 2}, {3}}),
    seed(21, shard_moved{7, 1, {}, "127.0.0.1:4242"}),
    seed(22, worker_position{7, 1, 2, 64, 1, 9, 9, {}}),
    seed(23, checkpoint_request{7, {9, 4}}),
    seed(0, caf::make_message(push)),
    seed(0, caf::make_message(spec, slice)),
  };
  return seeds;
}
