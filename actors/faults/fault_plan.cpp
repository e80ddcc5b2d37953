#include "actors/faults/fault_plan.hpp"

#include <charconv>
#include <stdexcept>

namespace paramserv {

namespace {

// SplitMix64: spreads (seed, role, id) over the generator's whole state.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> result;
  size_t begin = 0;
  for (;;) {
    auto end = text.find(sep, begin);
    result.push_back(text.substr(begin, end - begin));
    if (end == std::string::npos)
      return result;
    begin = end + 1;
  }
}

template <class T>
T number(const std::string& item, const std::string& text) {
  T x{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty())
    throw std::invalid_argument(
      "--inject-faults: \"" + item + "\": \"" + text + "\" is not a number");
  return x;
}

} // namespace

fault_dice::fault_dice(
  std::shared_ptr<const fault_plan> plan, bool shard, uint32_t id)
  : plan_(std::move(plan)), shard_(shard), id_(id),
    rng_(mix(mix(plan_ ? plan_->seed : 0) ^ (uint64_t{shard} << 32 | id))) {}

std::optional<fault_rule> fault_dice::roll(fault_message m, uint32_t worker) {
  if (!plan_)
    return std::nullopt;
  std::optional<fault_rule> hit;
  for (auto& rule : plan_->rules) {
    if (rule.message != m
        || (rule.worker != fault_rule::any_worker && rule.worker != worker))
      continue;
    // 53 random bits: a double uniform in [0, 1).
    double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    if (!hit && u < rule.probability)
      hit = rule;
  }
  return hit;
}

bool fault_dice::kill_at(uint64_t clock) const {
  if (!plan_)
    return false;
  for (auto& k : plan_->kills)
    if ((k.who == kill_rule::target::shard) == shard_ && k.id == id_
        && clock >= k.clock)
      return true;
  return false;
}

double fault_dice::slowdown() const {
  return plan_ && shard_ && plan_->slow_shard == id_ ? plan_->slowdown : 1.0;
}

fault_plan parse_fault_plan(const std::string& text) {
  fault_plan plan;
  if (text.empty())
    return plan;
  for (auto& item : split(text, ',')) {
    auto parts = split(item, ':');
    auto bad = [&](const std::string& why) {
      return std::invalid_argument("--inject-faults: \"" + item + "\": " + why);
    };
    if (parts.size() == 1 && item.rfind("seed=", 0) == 0) {
      plan.seed = number<uint64_t>(item, item.substr(5));
      continue;
    }
    auto& kind = parts[0];
    if (kind == "drop" || kind == "duplicate" || kind == "delay") {
      bool delay = kind == "delay";
      if (parts.size() != (delay ? 4u : 3u))
        throw bad(delay ? "expected delay:push|pull:PROBABILITY:MS"
                        : "expected " + kind + ":push|pull:PROBABILITY");
      fault_rule rule;
      rule.action = kind == "drop"        ? fault_action::drop
                    : kind == "duplicate" ? fault_action::duplicate
                                          : fault_action::delay;
      if (parts[1] == "push")
        rule.message = fault_message::push;
      else if (parts[1] == "pull")
        rule.message = fault_message::pull;
      else
        throw bad("the message is push or pull, not \"" + parts[1] + "\"");
      rule.probability = number<double>(item, parts[2]);
      if (!(rule.probability >= 0 && rule.probability <= 1))
        throw bad("the probability is not in [0, 1]");
      if (delay)
        rule.delay
          = std::chrono::milliseconds(number<uint32_t>(item, parts[3]));
      plan.rules.push_back(rule);
    } else if (kind == "kill") {
      if (parts.size() != 4 || (parts[1] != "worker" && parts[1] != "shard"))
        throw bad("expected kill:worker|shard:ID:CLOCK");
      kill_rule k;
      k.who = parts[1] == "shard" ? kill_rule::target::shard
                                  : kill_rule::target::worker;
      k.id = number<uint32_t>(item, parts[2]);
      k.clock = number<uint64_t>(item, parts[3]);
      if (k.clock == 0)
        throw bad("clocks start at 1");
      plan.kills.push_back(k);
    } else if (kind == "slow") {
      if (parts.size() != 4 || parts[1] != "shard")
        throw bad("expected slow:shard:ID:FACTOR");
      plan.slow_shard = number<uint32_t>(item, parts[2]);
      plan.slowdown = number<double>(item, parts[3]);
      if (!(plan.slowdown >= 1 && plan.slowdown <= 1000))
        throw bad("the factor is not in [1, 1000]");
    } else {
      throw bad("unknown fault (drop, delay, duplicate, kill, slow, seed=N)");
    }
  }
  return plan;
}

} // namespace paramserv
