// paramserv inside another application, in its two forms.
//
// 1. One call, like SystemDS's paramserv builtin: paramserv::train(model,
//    data, options) with the application's own model (its gradient is
//    SystemDS's `upd`) and its own server-side update rule (`agg`) as C++
//    objects in the options. It returns the trained parameters and leaves
//    nothing behind.
// 2. Actors: the application already has a CAF actor system and actors of
//    its own. Its `app` actor starts a job of paramserv's shards, workers
//    and scheduler in that system and gets the result as a message, while
//    the application keeps asking it questions (`ping`) and it keeps
//    answering. A job names its model and update rule (code never travels
//    in a message), so the application registers them first.
//
// The model: binary logistic regression, P(y = 1 | x) = sigmoid(w.x + b),
// written against paramserv's model interface. The update rule: SGD with
// each gradient element clipped to [-c, c]. The data: 40,000 samples drawn
// from known weights w = (2, -1, 0.5), b = 0.3. Each form prints the weights
// it recovered; the program exits 0 when every weight of both is within
// 0.15 of the truth.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <span>
#include <stdexcept>
#include <random>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/local_backend.hpp"
#include "actors/train.hpp"
#include "linalg/models/model.hpp"
#include "linalg/optim/optimizer.hpp"

using ping_atom = caf::atom_constant<caf::atom("ping")>;

namespace {

constexpr float true_w[3] = {2.0f, -1.0f, 0.5f};
constexpr float true_b = 0.3f;

float sigmoid(float z) {
  return 1.0f / (1.0f + std::exp(-z));
}

// Binary logistic regression: parameters w (1 x inputs) and b (1 x 1);
// classes 0 and 1.
class logistic final : public paramserv::model {
public:
  explicit logistic(const paramserv::model_spec& spec) : spec_(spec) {}

  const paramserv::model_spec& spec() const override {
    return spec_;
  }

  std::vector<paramserv::tensor_shape> shapes() const override {
    return {{"w", 1, spec_.inputs}, {"b", 1, 1}};
  }

  // Every weight and the bias start at zero.
  void initialize(params_type& params, uint64_t) const override {
    std::fill(params.flat().begin(), params.flat().end(), 0.0f);
  }

  float gradient(const params_type& params, const arma::fmat& x,
    std::span<const uint32_t> labels, params_type& grad) override {
    arma::frowvec z = params[0] * x + params[1](0, 0);
    arma::frowvec p = 1.0f / (1.0f + arma::exp(-z));
    arma::frowvec y(labels.size());
    for (size_t j = 0; j < labels.size(); ++j)
      y[j] = static_cast<float>(labels[j]);
    auto n = static_cast<float>(labels.size());
    arma::frowvec err = p - y;
    grad[0] = err * x.t() / n;
    grad[1](0, 0) = arma::accu(err) / n;
    return cross_entropy(p, y);
  }

  float loss(const params_type& params, const arma::fmat& x,
    std::span<const uint32_t> labels) override {
    arma::frowvec z = params[0] * x + params[1](0, 0);
    arma::frowvec p = 1.0f / (1.0f + arma::exp(-z));
    arma::frowvec y(labels.size());
    for (size_t j = 0; j < labels.size(); ++j)
      y[j] = static_cast<float>(labels[j]);
    return cross_entropy(p, y);
  }

  void predict(const params_type& params, const arma::fmat& x,
    std::span<uint32_t> out) override {
    arma::frowvec z = params[0] * x + params[1](0, 0);
    for (size_t j = 0; j < out.size(); ++j)
      out[j] = z[j] > 0 ? 1 : 0;
  }

  std::unique_ptr<paramserv::model> clone() const override {
    return std::make_unique<logistic>(spec_);
  }

private:
  static float cross_entropy(const arma::frowvec& p, const arma::frowvec& y) {
    const float eps = 1e-7f;
    arma::frowvec q = arma::clamp(p, eps, 1.0f - eps);
    return -arma::mean(y % arma::log(q) + (1.0f - y) % arma::log(1.0f - q));
  }

  paramserv::model_spec spec_;
};

// The server-side update rule, in update_rules.hpp's shape: no state
// arrays, w <- w - lr clip(g, -c, c).
struct clipped_sgd {
  static constexpr size_t state_arrays = 0;

  float c = 5.0f;

  void update(
    float* w, const float* g, float* const*, size_t n, float lr, size_t) const {
    for (size_t i = 0; i < n; ++i)
      w[i] -= lr * std::clamp(g[i], -c, c);
  }
};

// `n` samples with x ~ N(0, I) in 3 dimensions and y ~ Bernoulli of the
// true model.
paramserv::dataset samples(size_t n, unsigned seed) {
  std::mt19937 gen{seed};
  std::normal_distribution<float> normal{0.0f, 1.0f};
  std::uniform_real_distribution<float> uniform{0.0f, 1.0f};
  paramserv::dataset d;
  d.classes = 2;
  d.x.set_size(3, n);
  d.y.resize(n);
  for (size_t j = 0; j < n; ++j) {
    float z = true_b;
    for (size_t i = 0; i < 3; ++i) {
      d.x(i, j) = normal(gen);
      z += true_w[i] * d.x(i, j);
    }
    d.y[j] = uniform(gen) < sigmoid(z) ? 1 : 0;
  }
  return d;
}

struct app_state {
  size_t pings = 0;
};

// The application's own actor: starts the job with itself as the driver,
// answers pings throughout, and on the result hands it to `done`.
caf::behavior app(caf::stateful_actor<app_state>* self,
  paramserv::job_spec spec, std::shared_ptr<const paramserv::dataset> train,
  caf::actor done) {
  paramserv::start_job(
    self->system(), spec, train, nullptr, caf::actor_cast<caf::actor>(self));
  return {
    [=](ping_atom) {
      return ++self->state.pings;
    },
    [=](const paramserv::epoch_metrics&) {},
    [=](const paramserv::progress_report&) {},
    [=](const std::string&) {},
    [=](paramserv::run_result& result) {
      self->send(done, std::move(result), self->state.pings);
      self->quit();
    },
    [=](caf::error& err) {
      self->send(done, std::move(err));
      self->quit();
    },
  };
}

// Whether flat parameters (w, then b) are the truth to 0.15; prints them.
bool report(const char* form, const std::vector<float>& p, size_t epochs) {
  bool close = p.size() == 4;
  for (size_t i = 0; close && i < 3; ++i)
    close = std::abs(p[i] - true_w[i]) <= 0.15f;
  close = close && std::abs(p[3] - true_b) <= 0.15f;
  std::printf("embed: %s: w=(%.3f, %.3f, %.3f) b=%.3f (true w=(2, -1, 0.5) "
              "b=0.3) epochs=%zu %s\n",
    form, p.size() > 0 ? p[0] : 0.0f, p.size() > 1 ? p[1] : 0.0f,
    p.size() > 2 ? p[2] : 0.0f, p.size() > 3 ? p[3] : 0.0f, epochs,
    close ? "recovered" : "NOT recovered");
  return close;
}

// Form 1: one call.
bool one_call(std::shared_ptr<const paramserv::dataset> data) {
  paramserv::model_spec spec;
  spec.kind = "logistic";
  spec.inputs = 3;
  spec.classes = 2;
  logistic net{spec};
  paramserv::train_call_options options;
  options.train.schedule.base = 0.5f;
  options.train.batch_size = 100;
  options.train.epochs = 20;
  options.run.workers = 2;
  options.run.modes = paramserv::parse_mode_schedule("bsp@1");
  options.aggregate = paramserv::rule_factory(clipped_sgd{5.0f});
  auto result = paramserv::train(net, data, options);
  auto p = result.params.flat();
  return report("train()", {p.begin(), p.end()}, result.history.size());
}

// Form 2: actors in the application's own actor system.
bool actors(std::shared_ptr<const paramserv::dataset> data) {
  // The model and the update rule by name, known to this process before
  // any job names them.
  paramserv::register_model("logistic", [](const paramserv::model_spec& spec) {
    return std::make_unique<logistic>(spec);
  });
  paramserv::register_update_rule(
    "clipped-sgd", paramserv::rule_factory(clipped_sgd{5.0f}));

  caf::actor_system_config cfg;
  // The message types and scheduler settings paramserv's actors need.
  paramserv::configure_system(cfg, 2);
  caf::actor_system sys{cfg};

  paramserv::train_options opts;
  opts.model.kind = "logistic";
  opts.model.inputs = 3;
  opts.model.classes = 2;
  opts.optimizer.kind = "clipped-sgd";
  opts.schedule.base = 0.5f;
  opts.batch_size = 100;
  opts.epochs = 20;
  paramserv::local_options local;
  local.workers = 2;
  local.shards = 1;
  auto spec = paramserv::make_job_spec(opts, local, *data);

  caf::scoped_actor self{sys};
  auto a = sys.spawn(app, spec, data, caf::actor_cast<caf::actor>(self));
  // Ask the application's actor while it trains: it keeps answering.
  bool over = false;
  paramserv::run_result result;
  size_t pings = 0;
  while (!over) {
    self->request(a, std::chrono::seconds(10), ping_atom::value)
      .receive([](size_t) {}, [](caf::error&) {});
    self->receive(
      [&](paramserv::run_result& r, size_t p) {
        result = std::move(r);
        pings = p;
        over = true;
      },
      [&](caf::error& err) {
        std::fprintf(
          stderr, "embed: training failed: %s\n", sys.render(err).c_str());
        std::exit(1);
      },
      // Only what is in the mailbox already: no wait.
      caf::after(std::chrono::seconds(0)) >> [] {});
  }
  std::printf("embed: the application's actor answered %zu pings while "
              "training\n",
    pings);
  return report("actors", result.params, result.history.size());
}

} // namespace

int main() {
  auto data = std::make_shared<const paramserv::dataset>(samples(40000, 1));
  try {
    bool first = one_call(data);
    bool second = actors(data);
    return first && second ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "embed: %s\n", e.what());
    return 1;
  }
}
