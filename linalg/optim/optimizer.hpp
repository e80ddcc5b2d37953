#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "linalg/core/access.hpp"

namespace paramserv {

/// Hyper-parameters of an update rule. Plain struct, defaults in-class.
struct optimizer_options {
  /// The update rule: "sgd", "momentum", "nesterov", "adagrad", "adam",
  /// or a name given to register_update_rule. Default: sgd.
  std::string kind = "sgd";
  /// Momentum coefficient mu of momentum and nesterov. Default: 0.9.
  float momentum = 0.9f;
  /// Adam's decay rates. Default: 0.9 and 0.999.
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  /// Added to denominators of adagrad and adam. Default: 1e-8.
  float epsilon = 1e-8f;
  /// L2 weight decay lambda: the rule sees g + lambda * w. Default: 0.
  float weight_decay = 0.0f;

  friend bool operator==(const optimizer_options&, const optimizer_options&)
    = default;

  /// Throws std::invalid_argument("optimizer: ...") for a rule this process
  /// does not know (naming it and the ones it knows) or a value out of range
  /// (momentum and betas in [0, 1), epsilon > 0, weight decay >= 0).
  void validate() const;
};

/// An update rule's state, for checkpoints: the steps applied and its
/// per-parameter arrays, concatenated (each size() long).
struct optimizer_state {
  uint64_t steps = 0;
  std::vector<float> arrays;

  friend bool operator==(const optimizer_state&, const optimizer_state&)
    = default;
};

/// An update rule together with its state for exactly size() parameters:
/// the parameters of one shard (or of a whole model). Sharding the model
/// shards the state with it: a shard owns the optimizer of its elements.
/// Not thread-safe.
class optimizer {
public:
  virtual ~optimizer() = default;

  /// Number of parameters whose state this instance holds.
  virtual size_t size() const = 0;

  /// Applies one update step with learning rate `lr` to `w` given its
  /// gradient `g`. Both spans must have size() elements.
  virtual void update(std::span<float> w, std::span<const float> g, float lr)
    = 0;

  /// Like update(), but safe to call from several threads at once on the
  /// same parameters (Hogwild!): every parameter and state element is
  /// accessed through relaxed atomics. Concurrent steps may lose each
  /// other's writes, never tear a value.
  virtual void update_relaxed(
    std::span<float> w, std::span<const float> g, float lr)
    = 0;

  /// Number of update steps applied so far.
  virtual size_t steps() const = 0;

  /// The state, to checkpoint. A rule that keeps state outside arrays of
  /// size() elements cannot be checkpointed: the default throws
  /// std::invalid_argument saying so.
  virtual optimizer_state state() const;

  /// Restores what state() returned (of a rule of the same kind and size).
  /// @throws std::invalid_argument for state of the wrong size.
  virtual void restore(const optimizer_state& s);
};

/// Creates the update rule `opts` names (built in or registered), with
/// zeroed state for `n` parameters.
/// @throws std::invalid_argument for invalid options or an unknown rule.
std::unique_ptr<optimizer> make_optimizer(
  const optimizer_options& opts, size_t n);

/// Makes a custom update rule's instance for `n` parameters (one shard's,
/// or a whole model's), given the job's hyper-parameters, which are the
/// rule's to interpret. This is the server side of training: SystemDS
/// paramserv's `agg`, applied to the gradient the shard aggregated (one
/// push, or under bsp and sbp the row-weighted mean of the workers').
using update_rule_factory = std::function<std::unique_ptr<optimizer>(
  const optimizer_options& opts, size_t n)>;

/// Registers a custom update rule under `kind`, so that a job naming it
/// (optimizer_options::kind; a message carries the name, never code)
/// updates its shards with it. Every process that runs a shard of such a
/// job (and the sequential trainer) must register it first. Registering a
/// kind again replaces it. Thread-safe.
/// @throws std::invalid_argument for an empty or built-in name or an empty
///         factory.
void register_update_rule(const std::string& kind, update_rule_factory make);

/// Removes the custom update rule `kind`; returns whether it was there.
/// Thread-safe.
bool unregister_update_rule(const std::string& kind);

/// Whether `kind` is a built-in or a registered update rule.
bool update_rule_known(const std::string& kind);

/// The update rules this process knows, for messages: "sgd, momentum, ...".
std::string known_update_rules();

/// Adapts an update-rule policy (see update_rules.hpp for the shape) to the
/// optimizer interface and owns its state arrays. Custom update rules plug
/// in the same way.
template <class Rule>
class basic_optimizer final : public optimizer {
public:
  static constexpr size_t arrays = Rule::state_arrays;

  basic_optimizer(Rule rule, size_t n) : rule_(rule), size_(n) {
    for (size_t a = 0; a < arrays; ++a)
      state_[a].assign(n, 0.0f);
  }

  size_t size() const override {
    return size_;
  }

  void update(std::span<float> w, std::span<const float> g, float lr) override {
    auto t = steps_.fetch_add(1, std::memory_order_relaxed) + 1;
    float* s[arrays + 1];
    for (size_t a = 0; a < arrays; ++a)
      s[a] = state_[a].data();
    rule_.update(w.data(), g.data(), s, size_, lr, t);
  }

  /// Stages blocks of parameters and state through relaxed atomic loads
  /// into local buffers, runs the (vectorised) rule on them, and writes
  /// them back with relaxed atomic stores.
  void update_relaxed(
    std::span<float> w, std::span<const float> g, float lr) override {
    constexpr size_t block = 512;
    auto t = steps_.fetch_add(1, std::memory_order_relaxed) + 1;
    float wbuf[block];
    float sbuf[arrays + 1][block];
    float* s[arrays + 1];
    for (size_t a = 0; a < arrays; ++a)
      s[a] = sbuf[a];
    for (size_t first = 0; first < size_; first += block) {
      size_t m = std::min(block, size_ - first);
      float* wp = w.data() + first;
      for (size_t i = 0; i < m; ++i)
        wbuf[i] = relaxed_access::load(wp + i);
      for (size_t a = 0; a < arrays; ++a)
        for (size_t i = 0; i < m; ++i)
          sbuf[a][i] = relaxed_access::load(state_[a].data() + first + i);
      rule_.update(wbuf, g.data() + first, s, m, lr, t);
      for (size_t i = 0; i < m; ++i)
        relaxed_access::store(wp + i, wbuf[i]);
      for (size_t a = 0; a < arrays; ++a)
        for (size_t i = 0; i < m; ++i)
          relaxed_access::store(state_[a].data() + first + i, sbuf[a][i]);
    }
  }

  size_t steps() const override {
    return steps_.load(std::memory_order_relaxed);
  }

  optimizer_state state() const override {
    optimizer_state result;
    result.steps = steps();
    for (size_t a = 0; a < arrays; ++a)
      result.arrays.insert(
        result.arrays.end(), state_[a].begin(), state_[a].end());
    return result;
  }

  void restore(const optimizer_state& s) override {
    if (s.arrays.size() != arrays * size_)
      throw std::invalid_argument(
        "optimizer: the checkpoint holds " + std::to_string(s.arrays.size())
        + " state values, the rule needs " + std::to_string(arrays * size_));
    for (size_t a = 0; a < arrays; ++a)
      std::copy_n(s.arrays.begin() + a * size_, size_, state_[a].begin());
    steps_.store(s.steps, std::memory_order_relaxed);
  }

private:
  Rule rule_;
  std::vector<float> state_[arrays + 1];
  size_t size_;
  std::atomic<size_t> steps_{0};
};

/// The factory of basic_optimizer<Rule>, each instance with its own copy of
/// `rule` (whose members are its hyper-parameters): how a custom rule of
/// update_rules.hpp's shape is registered or handed to paramserv::train.
template <class Rule>
update_rule_factory rule_factory(Rule rule) {
  return [rule](const optimizer_options&, size_t n) {
    return std::make_unique<basic_optimizer<Rule>>(rule, n);
  };
}

} // namespace paramserv
