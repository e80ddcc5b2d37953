#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

// Faults injected on purpose, for tests: messages of a chosen kind dropped,
// delayed or duplicated, and actors killed at a chosen clock. Every choice
// is deterministic by seed: each actor rolls its own dice, seeded by the
// plan's seed and its role and id, so what happens to an actor's n-th
// message does not depend on thread timing.

namespace paramserv {

/// The messages a fault can hit: a worker's requests to a shard.
enum class fault_message : uint8_t { push, pull };

/// What happens to a message hit by a fault.
enum class fault_action : uint8_t {
  /// Lost: the shard never sees it; the worker notices by its timeout and
  /// sends it again.
  drop,
  /// Sent `delay` late.
  delay,
  /// Sent twice; the shard applies a push once (it knows the clock).
  duplicate,
};

/// One kind of fault: `action` on each `message` with `probability`.
struct fault_rule {
  fault_action action = fault_action::drop;
  fault_message message = fault_message::push;
  /// Chance that a message of the kind is hit, in [0, 1].
  double probability = 0;
  /// How late a delayed message leaves.
  std::chrono::milliseconds delay{0};
  /// Only messages of this worker; any_worker: every worker's.
  uint32_t worker = any_worker;

  static constexpr uint32_t any_worker = std::numeric_limits<uint32_t>::max();
};

/// An actor stopped on purpose (with an error, as a crash would stop it).
struct kill_rule {
  enum class target : uint8_t { worker, shard };
  target who = target::worker;
  /// The worker's or shard's id (as the scheduler assigned it).
  uint32_t id = 0;
  /// A worker dies as it reaches this clock (its clock-th push), a shard as
  /// it receives the first push of this clock or later.
  uint64_t clock = 1;
};

/// Faults of a run. Plain struct; empty: none.
struct fault_plan {
  uint64_t seed = 0;
  std::vector<fault_rule> rules;
  std::vector<kill_rule> kills;
  /// A shard slowed down this many times (1: not at all): each push it
  /// applies is answered after (slowdown - 1) times what applying it took,
  /// and pushes are answered one at a time, as a machine that slow would.
  uint32_t slow_shard = 0;
  double slowdown = 1;

  bool empty() const {
    return rules.empty() && kills.empty() && slowdown == 1;
  }
};

/// One actor's dice for a fault plan (or for none: then nothing ever
/// happens).
class fault_dice {
public:
  fault_dice() = default;

  /// The dice of the worker (`shard` false) or shard with id `id`.
  fault_dice(std::shared_ptr<const fault_plan> plan, bool shard, uint32_t id);

  /// What happens to worker `worker`'s next message of kind `m`: nothing
  /// (nullopt) or one rule's action. Every rule of the kind rolls once.
  std::optional<fault_rule> roll(fault_message m, uint32_t worker);

  /// Whether this actor dies as it reaches `clock`.
  bool kill_at(uint64_t clock) const;

  /// The factor this shard is slowed down by (1: not at all).
  double slowdown() const;

  const fault_plan* plan() const {
    return plan_.get();
  }

private:
  std::shared_ptr<const fault_plan> plan_;
  bool shard_ = false;
  uint32_t id_ = 0;
  std::mt19937_64 rng_;
};

/// Parses a fault plan from its text form (the --inject-faults flag):
/// comma-separated items, each one of
///   seed=N
///   drop:push:P  drop:pull:P  duplicate:push:P  duplicate:pull:P
///   delay:push:P:MS  delay:pull:P:MS       (P a probability, MS milliseconds)
///   kill:worker:ID:CLOCK  kill:shard:ID:CLOCK
///   slow:shard:ID:FACTOR
/// @throws std::invalid_argument naming the item that is wrong.
fault_plan parse_fault_plan(const std::string& text);

} // namespace paramserv
