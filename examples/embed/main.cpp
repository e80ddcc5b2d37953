// An application that already has its own CAF actor system and actors, and
// trains a model with paramserv's shards, workers and scheduler spawned
// into that system. Its own `app` actor starts the job and gets the result
// as a message, while it keeps answering requests (`ping`) meanwhile.
//
// The data: three Gaussian clusters in 4 dimensions, generated here. The
// model: softmax regression. It prints `embed: accuracy=A pings=P` and
// exits 0 when the held-out accuracy is at least 0.95.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/local_backend.hpp"
#include "linalg/models/model.hpp"

using ping_atom = caf::atom_constant<caf::atom("ping")>;

namespace {

// `n` samples of three clusters around (±3, 0, 0, 0) and (0, 3, 0, 0).
paramserv::dataset clusters(size_t n, unsigned seed) {
  std::mt19937 gen{seed};
  std::normal_distribution<float> noise{0.0f, 1.0f};
  const float centres[3][4] = {{3, 0, 0, 0}, {-3, 0, 0, 0}, {0, 3, 0, 0}};
  paramserv::dataset d;
  d.classes = 3;
  d.x.set_size(4, n);
  d.y.resize(n);
  for (size_t j = 0; j < n; ++j) {
    auto c = static_cast<uint32_t>(j % 3);
    d.y[j] = c;
    for (size_t i = 0; i < 4; ++i)
      d.x(i, j) = centres[c][i] + noise(gen);
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
  paramserv::start_job(self->system(), spec, train, nullptr,
    caf::actor_cast<caf::actor>(self));
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

} // namespace

int main() {
  caf::actor_system_config cfg;
  // The message types and scheduler settings paramserv's actors need.
  paramserv::configure_system(cfg, 2);
  caf::actor_system sys{cfg};

  auto train = std::make_shared<const paramserv::dataset>(clusters(3000, 1));
  auto test = clusters(600, 2);

  paramserv::train_options opts;
  opts.model.kind = "softmax";
  opts.model.inputs = 4;
  opts.model.classes = 3;
  opts.optimizer.kind = paramserv::optimizer_kind::sgd;
  opts.schedule.base = 0.1f;
  opts.batch_size = 32;
  opts.epochs = 5;
  paramserv::local_options local;
  local.workers = 2;
  local.shards = 1;
  auto spec = paramserv::make_job_spec(opts, local, *train);

  caf::scoped_actor self{sys};
  auto a = sys.spawn(app, spec, train, caf::actor_cast<caf::actor>(self));
  // Ask the application's actor while it trains: it keeps answering.
  size_t answered = 0;
  bool over = false;
  paramserv::run_result result;
  size_t pings = 0;
  while (!over) {
    self->request(a, std::chrono::seconds(10), ping_atom::value)
      .receive([&](size_t) { ++answered; }, [&](caf::error&) {});
    self->receive(
      [&](paramserv::run_result& r, size_t p) {
        result = std::move(r);
        pings = p;
        over = true;
      },
      [&](caf::error& err) {
        std::fprintf(stderr, "embed: training failed: %s\n",
          sys.render(err).c_str());
        std::exit(1);
      },
      caf::after(std::chrono::milliseconds(0)) >> [] {});
  }
  auto net = paramserv::make_model(opts.model);
  paramserv::parameter_set params{net->shapes()};
  std::copy(result.params.begin(), result.params.end(),
    params.flat().begin());
  auto ev = net->evaluate(params, test.x, test.y);
  std::printf("embed: accuracy=%.4f pings=%zu epochs=%zu\n", ev.accuracy,
    pings, result.history.size());
  return ev.accuracy >= 0.95 ? 0 : 1;
}
