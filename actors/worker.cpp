#include "actors/worker.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include <caf/event_based_actor.hpp>

#include "linalg/core/finite.hpp"
#include "linalg/data/partition.hpp"
#include "messages/errc.hpp"

namespace paramserv {

namespace {

// Remote shards may be slow, but never this slow.
constexpr auto shard_timeout = std::chrono::minutes(5);

using continuation = std::function<void()>;

void fail(worker_pointer self, const caf::error& err) {
  self->quit(err);
}

// The scheduler's plan alone decides whether a worker writes the shards'
// memory in place: it plans hogwild only for workers that share memory
// with the shards (and asp otherwise); a worker told to run hogwild without
// that memory refuses (see begin_epoch), and the shards refuse pushes
// during such an epoch, so in-place and message updates never mix.
bool uses_hogwild(const worker_state& st) {
  return st.plan.mode == consistency::hogwild;
}

// Whether the worker may compute its next unit before the last one's
// replies arrived: asp never gates.
bool pipelined(const worker_state& st) {
  return st.plan.mode == consistency::asp;
}

// Batches the next unit of work covers: one, n, or the rest of the epoch.
size_t unit_batches(const worker_state& st) {
  switch (st.cfg.freq) {
    case update_frequency::batch:
      return 1;
    case update_frequency::nbatches:
      return st.cfg.nbatches;
    case update_frequency::epoch:
      return static_cast<size_t>(-1);
  }
  return 1;
}

// Computes the update of the next unit into st.grad (a gradient, or the sum
// of the gradients of local SGD steps taken on st.acc) and returns the rows
// it covered.
// The read lag of the unit about to be computed: it is this worker's
// clock c of the epoch (1-based), and it reads parameters that hold, from
// every worker w, the pushes up to the clock all shards reported applied
// (counted from w's clock at the epoch's start). Its lag is how many clocks
// the oldest of those is behind c - 1; SSP with bound s promises at most s
// (Ho et al. 2013), BSP 0. Recorded as the epoch's maximum.
void record_read_lag(worker_state& st) {
  auto& starts = st.plan.start_clocks;
  uint64_t c = st.clock - st.epoch_start_clock + 1;
  uint64_t oldest = UINT64_MAX;
  for (size_t w = 0; w < starts.size(); ++w) {
    uint64_t seen = UINT64_MAX;
    for (auto& applied : st.applied)
      seen = std::min(seen, w < applied.size() ? applied[w] : 0);
    oldest = std::min(oldest, seen > starts[w] ? seen - starts[w] : 0);
  }
  if (oldest < c - 1)
    st.report.max_read_lag = std::max(st.report.max_read_lag, c - 1 - oldest);
}

size_t compute_unit(worker_state& st) {
  auto& rows = st.cfg.rows;
  size_t b = st.cfg.opts.batch_size;
  size_t batches = unit_batches(st);
  size_t covered = 0;
  if (batches == 1) {
    size_t m = std::min(b, rows.size() - st.next);
    gather_batch(*st.cfg.train, rows.data() + st.next, m, st.batch, st.labels);
    float loss = st.net->gradient(st.params, st.batch, st.labels, st.grad);
    st.report.loss_sum += static_cast<double>(loss) * m;
    st.next += m;
    return m;
  }
  // Local steps on a copy: acc starts at the pulled parameters; grad
  // collects the sum of the step gradients, which is what is pushed.
  st.acc.assign(st.params.flat());
  std::vector<float>& sum = st.scratch;
  sum.assign(st.params.size(), 0.0f);
  for (size_t k = 0; k < batches && st.next < rows.size(); ++k) {
    size_t m = std::min(b, rows.size() - st.next);
    gather_batch(*st.cfg.train, rows.data() + st.next, m, st.batch, st.labels);
    float loss = st.net->gradient(st.acc, st.batch, st.labels, st.grad);
    st.report.loss_sum += static_cast<double>(loss) * m;
    auto g = st.grad.flat();
    auto w = st.acc.flat();
    for (size_t i = 0; i < g.size(); ++i) {
      sum[i] += g[i];
      w[i] -= st.plan.lr * g[i];
    }
    st.next += m;
    covered += m;
  }
  st.grad.assign(sum);
  return covered;
}

// Accounts a finished unit of `rows` rows whose losses sum to `loss`.
void count_rows(worker_state& st, size_t rows, double loss) {
  st.report.rows += rows;
  if (st.cfg.progress) {
    st.cfg.progress->rows.fetch_add(rows, std::memory_order_relaxed);
    st.cfg.progress->loss_sum.fetch_add(loss, std::memory_order_relaxed);
  }
}

void begin_epoch(worker_pointer self, epoch_plan plan);
void run_unit(worker_pointer self);

void finish_epoch(worker_pointer self) {
  auto& st = self->state;
  st.report.clock = st.clock;
  st.report.refused = std::exchange(st.refused, 0);
  self->request(st.cfg.scheduler, caf::infinite, epoch_atom::value, st.report)
    .then(
      [=](epoch_plan& plan) {
        begin_epoch(self, std::move(plan));
      },
      [=](caf::error& err) {
        fail(self, err);
      });
}

// Counts one awaited reply; the last one runs the continuation.
void arrived(worker_pointer self) {
  auto& st = self->state;
  if (--st.outstanding == 0) {
    auto next = std::move(st.then);
    next();
  }
}

// Requests every shard's keys into st.params; each slice counts as one
// awaited reply.
void request_pulls(worker_pointer self) {
  auto& st = self->state;
  for (uint32_t s = 0; s < st.cfg.shards.size(); ++s) {
    self
      ->request(st.cfg.shards[s], shard_timeout, pull_atom::value,
        parameter_pull{st.cfg.job, st.cfg.id, {}})
      .then(
        [=](const parameter_slice& slice) {
          auto& st = self->state;
          if (slice.values.size() != st.cfg.map->sizes[s]) {
            fail(self, make_error(errc::bad_shape,
                         "pull from shard " + std::to_string(s)));
            return;
          }
          st.cfg.map->scatter(s, slice.values.data(), st.params.flat().data());
          st.versions[s] = slice.version;
          st.applied[s] = slice.applied;
          arrived(self);
        },
        [=](caf::error& err) {
          fail(self, err);
        });
  }
}

// Pulls every shard's keys into st.params, then continues.
void pull_all(worker_pointer self, continuation next) {
  auto& st = self->state;
  st.outstanding = st.cfg.shards.size();
  st.then = std::move(next);
  request_pulls(self);
}

// Pushes st.grad to every shard (each push one awaited reply) and returns
// how many pushes went out: all shards, or none when the update holds a NaN
// or infinity. A push is all or nothing across shards, so the whole update
// is checked before any of it leaves; a bad one is skipped and counted.
size_t request_pushes(worker_pointer self, size_t rows) {
  auto& st = self->state;
  if (!all_finite(st.grad.flat())) {
    ++st.report.skipped;
    return 0;
  }
  ++st.report.pushes;
  for (uint32_t s = 0; s < st.cfg.shards.size(); ++s) {
    gradient_push p;
    p.job = st.cfg.job;
    p.worker = st.cfg.id;
    p.clock = st.clock;
    p.version = st.computed_from[s];
    p.rows = rows;
    p.keys = st.cfg.map->keys_of[s];
    p.lengths = st.lengths[s];
    p.values.resize(st.cfg.map->sizes[s]);
    st.cfg.map->gather(s, st.grad.flat().data(), p.values.data());
    self
      ->request(st.cfg.shards[s], shard_timeout, push_atom::value, std::move(p))
      .then(
        [=](uint64_t) {
          arrived(self);
        },
        [=](caf::error& err) {
          fail(self, err);
        });
  }
  return st.cfg.shards.size();
}

// Asks the scheduler for the next clock (one awaited reply).
void request_clock(worker_pointer self) {
  auto& st = self->state;
  self
    ->request(
      st.cfg.scheduler, caf::infinite, clock_atom::value, st.cfg.id, st.clock)
    .then(
      [=](uint64_t) {
        arrived(self);
      },
      [=](caf::error& err) {
        fail(self, err);
      });
}

// Pushes st.grad, asks for the next clock, pulls, then runs the next unit.
// bsp and sbp need the order push -> clock (the commit needs every push) ->
// pull (after the commit). So does ssp, for its read bound: the clock
// request follows the push acknowledgements, so a granted clock means the
// slowest worker's pushes are applied on every shard, and the pull follows
// the grant, so it reads them. asp sends all three at once: a shard handles
// one worker's messages in order, so the pull sees the push applied.
void push_all(worker_pointer self, size_t rows) {
  auto& st = self->state;
  if (st.in_flight) {
    // Pipelined asp: the previous unit's replies are still out.
    st.after_flight = [=] {
      push_all(self, rows);
    };
    return;
  }
  ++st.clock;
  size_t shards = st.cfg.shards.size();
  if (pipelined(st)) {
    // asp lets the worker compute its next unit while the shards apply this
    // one: at most one unit is in flight, so the worker's own staleness
    // grows by at most one push (the shards record it: see computed_from).
    st.outstanding = 2 * shards + 1;
    st.in_flight = true;
    st.then = [=] {
      auto& st = self->state;
      st.in_flight = false;
      if (auto next = std::move(st.after_flight)) {
        st.after_flight = nullptr;
        next();
      }
    };
    st.outstanding -= shards - request_pushes(self, rows);
    request_clock(self);
    request_pulls(self);
    self->send(self, step_atom::value);
    return;
  }
  bool ordered = st.plan.mode == consistency::bsp
                 || st.plan.mode == consistency::sbp
                 || st.plan.mode == consistency::ssp;
  if (!ordered) {
    st.outstanding = 2 * shards + 1;
    st.then = [=] {
      run_unit(self);
    };
    st.outstanding -= shards - request_pushes(self, rows);
    request_clock(self);
    request_pulls(self);
    return;
  }
  st.outstanding = shards;
  st.then = [=] {
    auto& st = self->state;
    st.outstanding = 1;
    st.then = [=] {
      pull_all(self, [=] {
        run_unit(self);
      });
    };
    request_clock(self);
  };
  if (request_pushes(self, rows) == 0) {
    st.outstanding = 0;
    auto next = std::move(st.then);
    next();
  }
}

// One unit of work with messages: compute, push, wait for the clock grant,
// pull (see push_all).
void run_unit(worker_pointer self) {
  auto& st = self->state;
  if (st.next >= st.cfg.rows.size()) {
    if (st.in_flight)
      st.after_flight = [=] {
        finish_epoch(self);
      };
    else
      finish_epoch(self);
    return;
  }
  if (st.cfg.delay.count() > 0 && !st.delayed) {
    // The test hook: wait, then come back through `step`.
    st.delayed = true;
    self->delayed_send(self, st.cfg.delay, step_atom::value);
    return;
  }
  st.delayed = false;
  record_read_lag(st);
  // Under pipelined asp a pull may land between this compute and its push:
  // the push must name the versions the gradient was computed from.
  st.computed_from = st.versions;
  double before = st.report.loss_sum;
  size_t rows = compute_unit(st);
  count_rows(st, rows, st.report.loss_sum - before);
  push_all(self, rows);
}

// Hogwild!: units update the shard memories in place, with relaxed atomics
// and no message per update. A step message between chunks of units keeps
// the worker responsive.
void run_hogwild(worker_pointer self) {
  auto& st = self->state;
  auto& map = *st.cfg.map;
  auto& board = *st.cfg.board;
  constexpr size_t units_per_step = 16;
  for (size_t u = 0; u < units_per_step; ++u) {
    if (st.next >= st.cfg.rows.size()) {
      finish_epoch(self);
      return;
    }
    uint64_t seen = 0;
    for (uint32_t s = 0; s < map.shards(); ++s) {
      auto& mem = *board.shards[s];
      seen += mem.version.load(std::memory_order_relaxed);
      map.scatter<relaxed_access>(
        s, mem.values.data(), st.params.flat().data());
    }
    double before = st.report.loss_sum;
    size_t rows = compute_unit(st);
    if (!all_finite(st.grad.flat())) {
      // As with pushes: a bad update touches no shard.
      ++st.report.skipped;
      ++st.clock;
      count_rows(st, rows, st.report.loss_sum - before);
      continue;
    }
    uint64_t now = 0;
    for (uint32_t s = 0; s < map.shards(); ++s) {
      auto& mem = *board.shards[s];
      st.scratch.resize(map.sizes[s]);
      map.gather(s, st.grad.flat().data(), st.scratch.data());
      mem.opt->update_relaxed(mem.values, st.scratch, st.plan.lr);
      now += mem.version.fetch_add(1, std::memory_order_relaxed);
    }
    uint64_t staleness = (now - seen) / map.shards();
    st.report.staleness_sum += static_cast<double>(staleness);
    st.report.max_staleness = std::max(st.report.max_staleness, staleness);
    ++st.report.pushes;
    ++st.clock;
    count_rows(st, rows, st.report.loss_sum - before);
  }
  self->send(self, step_atom::value);
}

void begin_epoch(worker_pointer self, epoch_plan plan) {
  auto& st = self->state;
  if (plan.stop) {
    self->quit();
    return;
  }
  if (plan.mode == consistency::hogwild && !st.cfg.board) {
    fail(self, make_error(errc::unsupported,
                 "worker " + std::to_string(st.cfg.id)
                   + " was planned to run hogwild but shares no memory with "
                     "the shards"));
    return;
  }
  st.plan = plan;
  st.next = 0;
  st.report = epoch_report{};
  st.report.job = st.cfg.job;
  st.report.worker = st.cfg.id;
  st.report.epoch = plan.epoch;
  st.epoch_start_clock = st.clock;
  shuffle_epoch(st.cfg.rows, st.cfg.opts.seed, st.cfg.id, plan.epoch);
  if (uses_hogwild(st))
    run_hogwild(self);
  else
    pull_all(self, [=] {
      run_unit(self);
    });
}

} // namespace

worker_internal::behavior_type worker(worker_pointer self, worker_config cfg) {
  auto& st = self->state;
  st.net = make_model(cfg.opts.model);
  st.params = parameter_set{st.net->shapes()};
  st.grad = parameter_set{st.net->shapes()};
  st.acc = parameter_set{st.net->shapes()};
  st.versions.assign(cfg.shards.size(), 0);
  st.applied.resize(cfg.shards.size());
  st.computed_from = st.versions;
  for (uint32_t s = 0; s < cfg.shards.size(); ++s)
    st.lengths.push_back(cfg.map->lengths_of(s));
  st.cfg = std::move(cfg);
  self->monitor(st.cfg.scheduler);
  self->set_down_handler([=](caf::down_msg& msg) {
    if (msg.source == self->state.cfg.scheduler)
      self->quit(msg.reason);
  });
  return {
    [=](start_atom) {
      auto& st = self->state;
      self
        ->request(st.cfg.scheduler, caf::infinite, join_atom::value, st.cfg.id,
          caf::actor_cast<worker_actor>(self))
        .then(
          [=](epoch_plan& plan) {
            begin_epoch(self, std::move(plan));
          },
          [=](caf::error& err) {
            fail(self, err);
          });
    },
    [=](step_atom) -> caf::result<void> {
      auto& st = self->state;
      if (self->current_sender() != self->ctrl()) {
        ++st.refused;
        return make_error(errc::out_of_order,
          "step is internal to worker " + std::to_string(st.cfg.id));
      }
      if (uses_hogwild(st))
        run_hogwild(self);
      else
        run_unit(self);
      return caf::unit;
    },
  };
}

} // namespace paramserv
