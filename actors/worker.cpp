#include "actors/worker.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include <caf/event_based_actor.hpp>

#include "actors/join.hpp"
#include "actors/net/endpoint.hpp"
#include "actors/sender.hpp"
#include "linalg/core/finite.hpp"
#include "linalg/data/feature_transform.hpp"
#include "linalg/data/load.hpp"
#include "linalg/data/partition.hpp"
#include "messages/errc.hpp"

namespace paramserv {

namespace {

using continuation = std::function<void()>;

std::string who(const worker_state& st) {
  return "worker " + std::to_string(st.id);
}

void fail(worker_pointer self, const caf::error& err) {
  self->quit(err);
}

// How a worker the fault plan kills stops.
caf::error killed(const worker_state& st) {
  return make_error(errc::job_failed,
    who(st) + " killed by the fault plan at clock " + std::to_string(st.clock));
}

std::chrono::milliseconds ms(uint32_t x) {
  return std::chrono::milliseconds(x);
}

// Batches the next unit of work covers: one, n, or the rest of the epoch.
size_t unit_batches(const worker_state& st) {
  switch (st.spec.freq) {
    case update_frequency::batch:
      return 1;
    case update_frequency::nbatches:
      return st.spec.nbatches;
    case update_frequency::epoch:
      return static_cast<size_t>(-1);
  }
  return 1;
}

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
    if (starts[w] == UINT64_MAX)
      continue; // dead when the epoch began
    uint64_t seen = UINT64_MAX;
    for (auto& applied : st.applied)
      seen = std::min(seen, w < applied.size() ? applied[w] : 0);
    oldest = std::min(oldest, seen > starts[w] ? seen - starts[w] : 0);
  }
  if (oldest < c - 1)
    st.report.max_read_lag = std::max(st.report.max_read_lag, c - 1 - oldest);
}

// Computes the update of the next unit into st.grad (a gradient, or the sum
// of the gradients of local SGD steps taken on st.acc) and returns the rows
// it covered.
size_t compute_unit(worker_state& st) {
  auto& rows = st.rows;
  size_t b = st.spec.opts.batch_size;
  size_t batches = unit_batches(st);
  size_t covered = 0;
  if (batches == 1) {
    size_t m = std::min(b, rows.size() - st.next);
    gather_batch(*st.train, rows.data() + st.next, m, st.batch, st.labels);
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
    gather_batch(*st.train, rows.data() + st.next, m, st.batch, st.labels);
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

// The progress not yet reported, which counts as reported from now on.
progress_report take_progress(worker_state& st) {
  auto taken = st.progress;
  st.progress.rows = 0;
  st.progress.loss_sum = 0;
  st.progress_sent = std::chrono::steady_clock::now();
  return taken;
}

// Sends the progress not yet reported to the scheduler.
void report_progress(worker_pointer self) {
  auto& st = self->state;
  if (st.progress.rows == 0)
    return;
  self->send(st.cfg.scheduler, progress_atom::value, take_progress(st));
}

void report_and_await_evaluation(worker_pointer self);

// Accounts a finished unit of `rows` rows whose losses sum to `loss`, and
// reports progress at most every progress_ms.
void count_rows(worker_pointer self, size_t rows, double loss) {
  auto& st = self->state;
  st.report.rows += rows;
  st.progress.rows += rows;
  st.progress.loss_sum += loss;
  // Under hogwild the scheduler counts batches (for --eval-every) from
  // progress: it comes every eval-every batches of all workers, and waits
  // for the evaluation it makes due.
  auto every = st.spec.opts.validation.every;
  if (every > 0 && st.rules.in_place) {
    st.eval_rows += rows;
    if (st.eval_rows * st.spec.workers >= every * st.spec.opts.batch_size) {
      st.eval_rows = 0;
      report_and_await_evaluation(self);
      return;
    }
  }
  if (std::chrono::steady_clock::now() - st.progress_sent
      >= ms(st.spec.progress_ms))
    report_progress(self);
}

void begin_epoch(worker_pointer self, epoch_plan plan);
void run_unit(worker_pointer self);

// Sends this worker its `step` (after `delay`), counted so that a halt can
// tell the stale ones.
void send_step(worker_pointer self,
  std::chrono::microseconds delay = std::chrono::microseconds{0}) {
  ++self->state.steps_out;
  if (delay.count() > 0)
    self->delayed_send(self, delay, step_atom::value);
  else
    self->send(self, step_atom::value);
}

// Whether a reply to a request made in generation `gen` comes after a halt.
bool stale(worker_pointer self, uint64_t gen) {
  return self->state.generation != gen;
}

// Hogwild!: reports the progress that makes an evaluation due and waits
// until the scheduler evaluated, so that the evaluation reads the model of
// the batch it names (other workers go on until their own report). The
// worker goes on whatever the answer: an evaluation is never worth a hang.
void report_and_await_evaluation(worker_pointer self) {
  auto& st = self->state;
  auto gen = st.generation;
  auto go_on = [=] {
    if (stale(self, gen))
      return; // halted meanwhile: the next plan sends the step
    self->state.awaiting_eval = false;
    send_step(self);
  };
  st.awaiting_eval = true;
  self
    ->request(st.cfg.scheduler, ms(st.spec.timeouts.control_ms),
      progress_atom::value, take_progress(st))
    .then(go_on, [=](caf::error&) {
      go_on();
    });
}

void finish_epoch(worker_pointer self) {
  auto& st = self->state;
  report_progress(self);
  st.report.clock = st.clock;
  st.report.refused = std::exchange(st.refused, 0);
  // The next plan comes as a message (see the epoch_plan handler).
  self->send(st.cfg.scheduler, epoch_atom::value, st.report);
}

// Counts one awaited reply; the last one runs the continuation.
void arrived(worker_pointer self) {
  auto& st = self->state;
  if (--st.outstanding == 0) {
    auto next = std::move(st.then);
    next();
  }
}

// How often a request to a shard is sent in all before its worker gives
// up: a lost one is sent again after its timeout.
constexpr uint32_t max_attempts = 4;

// Puts `f` off for `delay`: it runs when the `later` message comes back.
void put_off(worker_pointer self, std::chrono::milliseconds delay,
  std::function<void()> f) {
  auto& st = self->state;
  auto token = ++st.next_token;
  st.deferred.emplace(token, std::move(f));
  self->delayed_send(self, delay, later_atom::value, token);
}

// Sends one request to a shard as the fault plan says (see
// actors/faults/fault_plan.hpp): issue(true) sends it, its reply awaited;
// issue(false) sends a copy whose reply is ignored. A dropped request never
// leaves: `lost` runs after `timeout`, as for a request that timed out.
void send_faulty(worker_pointer self, fault_message m,
  std::chrono::milliseconds timeout, std::function<void(bool)> issue,
  std::function<void()> lost) {
  auto& st = self->state;
  auto hit = st.dice.roll(m, st.id);
  if (!hit) {
    issue(true);
    return;
  }
  switch (hit->action) {
    case fault_action::drop:
      put_off(self, timeout, std::move(lost));
      break;
    case fault_action::delay:
      put_off(self, hit->delay, [issue] {
        issue(true);
      });
      break;
    case fault_action::duplicate:
      issue(true);
      issue(false);
      break;
  }
}

// A request to shard `s` failed with `err` on attempt `attempt`: a timeout
// is a lost message, sent again (`again`) up to max_attempts times; any
// other error stops the worker.
void request_failed(worker_pointer self, uint32_t s, uint32_t attempt,
  const caf::error& err, const char* what, std::function<void()> again) {
  auto& st = self->state;
  if (err == caf::sec::request_timeout && attempt < max_attempts) {
    ++st.report.retried;
    again();
    return;
  }
  if (err == caf::sec::request_receiver_down) {
    // The shard stopped: the scheduler's monitor saw it too, and either
    // ends the job (and with it this worker) or halts this worker and
    // restores the shard.
    return;
  }
  if (err == caf::sec::request_timeout) {
    fail(self, make_error(errc::job_failed,
                 who(st) + ": " + what + " shard " + std::to_string(s)
                   + " timed out " + std::to_string(attempt) + " times"));
    return;
  }
  fail(self, err);
}

// Requests shard `s`'s keys into st.params (attempt `attempt`); the slice
// counts as one awaited reply.
void request_pull(worker_pointer self, uint32_t s, uint32_t attempt) {
  auto& st = self->state;
  auto timeout = ms(st.spec.timeouts.pull_ms);
  auto retry = [=](const caf::error& err) {
    request_failed(self, s, attempt, err, "pull from", [=] {
      request_pull(self, s, attempt + 1);
    });
  };
  auto gen = st.generation;
  auto issue = [=](bool awaited) {
    auto& st = self->state;
    self
      ->request(st.shards[s], timeout, pull_atom::value,
        parameter_pull{st.spec.job, st.id})
      .then(
        [=](const parameter_slice& slice) {
          if (!awaited || stale(self, gen))
            return;
          auto& st = self->state;
          if (slice.values.size() != st.map.sizes[s]) {
            fail(self, make_error(errc::bad_shape,
                         "pull from shard " + std::to_string(s)));
            return;
          }
          st.map.scatter(s, slice.values.data(), st.params.flat().data());
          st.versions[s] = slice.version;
          st.applied[s] = slice.applied;
          arrived(self);
        },
        [=](caf::error& err) {
          if (awaited && !stale(self, gen))
            retry(err);
        });
  };
  send_faulty(self, fault_message::pull, timeout, issue, [=] {
    retry(caf::sec::request_timeout);
  });
}

// Requests every shard's keys into st.params; each slice counts as one
// awaited reply.
void request_pulls(worker_pointer self) {
  for (uint32_t s = 0; s < self->state.shards.size(); ++s)
    request_pull(self, s, 1);
}

// Pulls every shard's keys into st.params, then continues.
void pull_all(worker_pointer self, continuation next) {
  auto& st = self->state;
  st.outstanding = st.shards.size();
  st.then = std::move(next);
  request_pulls(self);
}

// Sends push `p` to shard `s` (attempt `attempt`); its acknowledgement
// counts as one awaited reply. The values are shared with every copy.
void request_push(
  worker_pointer self, uint32_t s, gradient_push p, uint32_t attempt) {
  auto& st = self->state;
  auto timeout = ms(st.spec.timeouts.push_ms);
  auto retry = [=](const caf::error& err) {
    request_failed(self, s, attempt, err, "push to", [=] {
      request_push(self, s, p, attempt + 1);
    });
  };
  auto gen = st.generation;
  auto issue = [=](bool awaited) {
    self->request(self->state.shards[s], timeout, push_atom::value, p)
      .then(
        [=](uint64_t) {
          if (awaited && !stale(self, gen))
            arrived(self);
        },
        [=](caf::error& err) {
          if (awaited && !stale(self, gen))
            retry(err);
        });
  };
  send_faulty(self, fault_message::push, timeout, issue, [=] {
    retry(caf::sec::request_timeout);
  });
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
  st.pushed = st.clock;
  for (uint32_t s = 0; s < st.shards.size(); ++s) {
    gradient_push p;
    p.job = st.spec.job;
    p.worker = st.id;
    p.clock = st.clock;
    p.version = st.computed_from[s];
    p.rows = rows;
    std::vector<float> values(st.map.sizes[s]);
    st.map.gather(s, st.grad.flat().data(), values.data());
    p.values = shared_floats{std::move(values)};
    request_push(self, s, std::move(p), 1);
  }
  return st.shards.size();
}

// Asks the scheduler for the next clock; the grant (a message, held as long
// as the mode says) counts as one awaited reply.
void request_clock(worker_pointer self) {
  auto& st = self->state;
  st.awaiting_grant = true;
  self->send(st.cfg.scheduler, clock_atom::value, st.id, st.clock);
}

// Pushes st.grad, asks for the next clock, pulls, then runs the next unit.
// With gated reads (bsp, sbp, ssp) the order is push -> acknowledgements ->
// clock -> grant -> pull: the commit needs every push, and ssp's read bound
// needs the slowest worker's pushes applied on every shard before a grant
// and the pull after it. Otherwise all three go at once: a shard handles
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
  st.unpushed_rows = 0;
  st.unpushed_loss = 0;
  ++st.clock;
  if (st.dice.kill_at(st.clock)) {
    fail(self, killed(st));
    return;
  }
  size_t shards = st.shards.size();
  if (st.rules.pipelined) {
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
    send_step(self);
    return;
  }
  if (!st.rules.gated_reads) {
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
  if (st.next >= st.rows.size()) {
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
    send_step(self, st.cfg.delay);
    return;
  }
  st.delayed = false;
  record_read_lag(st);
  // Under pipelined asp a pull may land between this compute and its push:
  // the push must name the versions the gradient was computed from.
  st.computed_from = st.versions;
  double before = st.report.loss_sum;
  size_t rows = compute_unit(st);
  double loss = st.report.loss_sum - before;
  count_rows(self, rows, loss);
  // Pipelined asp: the unit waits (push_all) until the previous one's
  // replies came; a checkpoint cut meanwhile leaves it out.
  st.unpushed_rows = rows;
  st.unpushed_loss = loss;
  push_all(self, rows);
}

// Hogwild!: units update the shard memories in place, with relaxed atomics
// and no message per update. A step message between chunks of units keeps
// the worker responsive; a report that makes an evaluation due ends the
// chunk until the evaluation was read.
void run_hogwild(worker_pointer self) {
  auto& st = self->state;
  auto& map = st.map;
  auto& board = *st.cfg.node->board;
  size_t units = 16;
  if (st.cfg.delay.count() > 0 && st.next < st.rows.size()) {
    // The test hook, as in run_unit: wait before each unit.
    if (!st.delayed) {
      st.delayed = true;
      send_step(self, st.cfg.delay);
      return;
    }
    st.delayed = false;
    units = 1;
  }
  for (size_t u = 0; u < units; ++u) {
    if (st.next >= st.rows.size()) {
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
      count_rows(self, rows, st.report.loss_sum - before);
      if (st.awaiting_eval)
        return;
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
    count_rows(self, rows, st.report.loss_sum - before);
    if (st.dice.kill_at(st.clock)) {
      fail(self, killed(st));
      return;
    }
    if (st.awaiting_eval)
      return; // its answer sends the next step
  }
  send_step(self);
}

// Whether every shard's memory is on this worker's board.
bool sees_every_shard(const worker_state& st) {
  if (!st.cfg.node || !st.cfg.node->board
      || st.cfg.node->board->shards.size() != st.shards.size())
    return false;
  return std::all_of(st.cfg.node->board->shards.begin(),
    st.cfg.node->board->shards.end(), [](auto& mem) {
      return mem != nullptr;
    });
}

void begin_epoch(worker_pointer self, epoch_plan plan) {
  auto& st = self->state;
  if (plan.stop) {
    self->quit();
    return;
  }
  auto rules = rules_of(plan.mode);
  rules.pipelined &= st.spec.opts.asp_pipelining;
  if (rules.in_place && !sees_every_shard(st)) {
    // The scheduler plans in-place epochs only for actors that share
    // memory; a plan that says otherwise is refused, never half-followed.
    fail(self, make_error(errc::unsupported,
                 who(st)
                   + " was planned to run hogwild but shares no memory with "
                     "the shards"));
    return;
  }
  st.plan = std::move(plan);
  st.rules = rules;
  st.next = 0;
  st.report = epoch_report{};
  st.report.job = st.spec.job;
  st.report.worker = st.id;
  st.report.epoch = st.plan.epoch;
  st.epoch_start_clock = st.clock;
  st.rows.insert(st.rows.end(), st.adopted.begin(), st.adopted.end());
  st.adopted.clear();
  shuffle_epoch(st.rows, st.spec.opts.seed, st.id, st.plan.epoch);
  st.unpushed_rows = 0;
  st.unpushed_loss = 0;
  if (st.plan.resumes) {
    // A checkpoint cut inside this epoch: go on where it left off, its
    // metrics so far included. The clock never goes back (after a lost
    // shard the pushes up to it are fenced off on the shards).
    auto& at = st.plan.at;
    st.next = std::min<uint64_t>(at.next, st.rows.size());
    st.report = at.report;
    st.report.job = st.spec.job;
    st.report.worker = st.id;
    st.report.epoch = st.plan.epoch;
    st.clock = std::max(st.clock, at.clock);
    st.pushed = st.clock;
    st.epoch_start_clock = st.clock - std::min(at.units, st.clock);
  }
  if (st.rules.in_place)
    run_hogwild(self);
  else
    pull_all(self, [=] {
      run_unit(self);
    });
}

// Takes the job's slice: the model, the shard map, the data.
caf::error take_slice(worker_state& st, worker_slice& slice) {
  try {
    st.spec = std::move(slice.spec);
    st.id = slice.id;
    st.rows = std::move(slice.rows);
    st.shards = std::move(slice.shards);
    st.endpoints = std::move(slice.endpoints);
    if (!st.endpoints.empty() && st.endpoints.size() != st.shards.size())
      throw std::invalid_argument(
        "the slice names " + std::to_string(st.endpoints.size())
        + " shard addresses for " + std::to_string(st.shards.size())
        + " shards");
    // A worker never applies the update rule (its shards do), so a worker
    // node need not know a custom one: it checks everything else.
    auto checked = st.spec.opts;
    checked.optimizer.kind = "sgd";
    validate(checked);
    st.net = make_model(st.spec.opts.model);
    if (st.shards.size() != st.spec.shards)
      throw std::invalid_argument(
        "the slice names " + std::to_string(st.shards.size())
        + " shards, the job " + std::to_string(st.spec.shards));
    st.map = shard_map::from(std::move(slice.keys), std::move(slice.owner),
      st.spec.shards, st.net->shapes());
    st.train = open_training_data(st.spec.data, st.cfg.node.get());
    for (auto r : st.rows)
      if (r >= st.train->size())
        throw std::invalid_argument(
          "row " + std::to_string(r) + " is not in the training data");
    if (st.train->classes > st.spec.opts.model.classes)
      throw std::invalid_argument(
        "the training data has " + std::to_string(st.train->classes)
        + " classes, the model " + std::to_string(st.spec.opts.model.classes));
    if (st.train->features() != st.spec.opts.model.inputs)
      throw std::invalid_argument(
        "the training data has " + std::to_string(st.train->features())
        + " features, the model " + std::to_string(st.spec.opts.model.inputs)
        + " inputs");
  } catch (const std::exception& e) {
    return make_error(errc::bad_shape, who(st) + ": " + e.what());
  }
  st.params = parameter_set{st.net->shapes()};
  st.grad = parameter_set{st.net->shapes()};
  st.acc = parameter_set{st.net->shapes()};
  st.versions.assign(st.shards.size(), 0);
  st.applied.assign(st.shards.size(), {});
  st.computed_from = st.versions;
  st.dice = fault_dice{st.cfg.faults, false, st.id};
  st.progress.job = st.spec.job;
  st.progress.worker = st.id;
  st.progress_sent = std::chrono::steady_clock::now();
  st.has_slice = true;
  return {};
}

// Connects this worker's node to the shards' node listening at `text`,
// which must be `expected`, then runs `done`; stops the worker if it
// cannot.
void connect_to(worker_pointer self, const std::string& text,
  caf::node_id expected, std::function<void()> done) {
  auto& st = self->state;
  auto* node = st.cfg.node.get();
  if (!node || !node->connector) {
    fail(self, make_error(errc::unsupported,
                 who(st) + " has no network to reach the shards at " + text));
    return;
  }
  endpoint ep;
  try {
    ep = parse_endpoint(text);
  } catch (const std::invalid_argument& e) {
    fail(self,
      make_error(errc::bad_shape, who(st) + ": shard address " + e.what()));
    return;
  }
  self
    ->request(node->connector, ms(st.spec.timeouts.control_ms),
      caf::connect_atom::value, ep.host, ep.port)
    .then(
      [=](
        caf::node_id& reached, caf::strong_actor_ptr&, std::set<std::string>&) {
        if (reached != expected) {
          fail(self, make_error(errc::bad_sender,
                       who(self->state) + ": " + text
                         + " is another node than its shards'"));
          return;
        }
        done();
      },
      [=](caf::error& err) {
        fail(self, make_error(errc::job_failed,
                     who(self->state) + " cannot reach the shards at " + text
                       + " (" + self->system().render(err) + ")"));
      });
}

// Connects this worker's node to the node of every shard that listens on
// an address of its own (a server node of a cluster), so that pushes and
// pulls go there directly: CAF 0.17 would otherwise relay them through the
// scheduler's node, which told this one about the shards. A plan that
// comes meanwhile waits.
void connect_shards(worker_pointer self) {
  auto& st = self->state;
  // Endpoint -> the node the shards there live on.
  std::map<std::string, caf::node_id> targets;
  for (size_t s = 0; s < st.shards.size(); ++s)
    if (!st.endpoints.empty() && !st.endpoints[s].empty()
        && st.shards[s].node() != self->node())
      targets.emplace(st.endpoints[s], st.shards[s].node());
  if (targets.empty())
    return;
  st.connecting = targets.size();
  for (auto& target : targets) {
    connect_to(self, target.first, target.second, [=] {
      auto& st = self->state;
      if (--st.connecting > 0)
        return;
      if (st.slice_reply) {
        st.slice_reply->deliver(caf::unit);
        st.slice_reply.reset();
      }
      if (st.held_plan)
        begin_epoch(self, *std::exchange(st.held_plan, std::nullopt));
    });
  }
}

// Whether the current message comes from the scheduler; counts it if not.
caf::error check_scheduler(worker_pointer self, const char* what) {
  auto& st = self->state;
  if (sent_by(self, st.cfg.scheduler))
    return {};
  ++st.refused;
  return make_error(errc::bad_sender,
    std::string{what} + " from an actor other than the scheduler");
}

} // namespace

std::shared_ptr<const dataset> open_training_data(
  const data_source& src, const local_node* node) {
  std::shared_ptr<const dataset> result;
  if (node && node->train) {
    result = node->train;
  } else {
    if (src.path.empty())
      throw std::runtime_error("the job's training data is only in the "
                               "memory of the process that started it");
    load_options lo;
    lo.classes = src.classes;
    lo.features = src.features;
    lo.label_column = src.label_column;
    if (src.csv_header != 0)
      lo.csv_header = src.csv_header == 2;
    std::optional<data_format> fmt;
    if (!src.format.empty())
      fmt = parse_name<data_format>(src.format);
    auto ds = std::make_shared<dataset>(load_dataset(src.path, fmt, lo));
    if (!src.shift.empty()) {
      if (src.shift.size() != ds->features()
          || src.scale.size() != ds->features())
        throw std::runtime_error(src.path + ": the job's feature transform has "
                                 + std::to_string(src.shift.size())
                                 + " features, the file "
                                 + std::to_string(ds->features()));
      feature_transform t;
      t.shift = arma::fvec(src.shift);
      t.scale = arma::fvec(src.scale);
      t.apply(ds->x);
    }
    result = std::move(ds);
  }
  if (result->size() != src.rows)
    throw std::runtime_error((src.path.empty() ? "the training data" : src.path)
                             + " has " + std::to_string(result->size())
                             + " rows, the job " + std::to_string(src.rows));
  return result;
}

worker_internal::behavior_type worker(worker_pointer self, worker_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  self->monitor(st.cfg.scheduler);
  self->set_down_handler([=](caf::down_msg& msg) {
    if (msg.source == self->state.cfg.scheduler.address())
      self->quit(msg.reason);
  });
  // An error message from the scheduler refuses one of the worker's
  // messages: the worker is out of step with the job and stops. From
  // anyone else it is counted and dropped.
  self->set_error_handler([=](caf::error& err) {
    if (sent_by(self, self->state.cfg.scheduler))
      self->quit(err);
    else
      ++self->state.refused;
  });
  register_with(self, st.cfg.scheduler, node_role::worker, st.cfg.node);
  return {
    [=](worker_slice& slice) -> caf::result<void> {
      if (auto err = check_scheduler(self, "slice"))
        return err;
      auto& st = self->state;
      if (st.has_slice)
        return make_error(errc::out_of_order, who(st) + " has its slice");
      // The reply says the worker is ready: its data read, its shards
      // reached.
      if (auto err = take_slice(st, slice)) {
        fail(self, err);
        return err;
      }
      connect_shards(self);
      if (st.connecting == 0)
        return caf::unit;
      st.slice_reply = self->make_response_promise();
      return caf::delegated<void>{};
    },
    [=](epoch_plan& plan) -> caf::result<void> {
      if (auto err = check_scheduler(self, "plan"))
        return err;
      auto& st = self->state;
      if (!st.has_slice || plan.job != st.spec.job)
        return make_error(errc::out_of_order, "plan before the slice");
      if (st.connecting > 0)
        st.held_plan = std::move(plan);
      else
        begin_epoch(self, std::move(plan));
      return caf::unit;
    },
    [=](grant_atom, uint64_t job, uint64_t clock) -> caf::result<void> {
      if (auto err = check_scheduler(self, "grant"))
        return err;
      auto& st = self->state;
      if (!st.awaiting_grant || job != st.spec.job || clock != st.clock) {
        // After a halt, a grant the scheduler sent before it may come.
        if (st.generation > 0 && job == st.spec.job && clock <= st.clock)
          return caf::unit;
        return make_error(errc::out_of_order, "grant out of turn");
      }
      st.awaiting_grant = false;
      arrived(self);
      return caf::unit;
    },
    [=](step_atom) -> caf::result<void> {
      auto& st = self->state;
      if (!sent_by(self, self)) {
        ++st.refused;
        return make_error(errc::bad_sender, "step is internal to " + who(st));
      }
      --st.steps_out;
      if (st.stale_steps > 0) {
        --st.stale_steps; // sent before a halt
        return caf::unit;
      }
      if (st.rules.in_place)
        run_hogwild(self);
      else
        run_unit(self);
      return caf::unit;
    },
    [=](row_handover& h) -> caf::result<void> {
      if (auto err = check_scheduler(self, "row handover"))
        return err;
      auto& st = self->state;
      if (!st.has_slice || h.job != st.spec.job)
        return make_error(errc::out_of_order, "row handover before the slice");
      for (auto* part : {&h.now, &h.later})
        for (auto r : *part)
          if (r >= st.train->size())
            return make_error(
              errc::bad_shape, who(st) + ": handed row " + std::to_string(r)
                                 + ", which is not in the training data");
      // `now` joins the current epoch's rows (after those left to train),
      // `later` the partition from the next epoch on.
      st.rows.insert(st.rows.end(), h.now.begin(), h.now.end());
      st.adopted.insert(st.adopted.end(), h.later.begin(), h.later.end());
      return caf::unit;
    },
    [=](halt_atom, uint64_t job) -> caf::result<uint64_t> {
      if (auto err = check_scheduler(self, "halt"))
        return err;
      auto& st = self->state;
      if (!st.has_slice || job != st.spec.job)
        return make_error(errc::out_of_order, "halt before the slice");
      // Whatever is in flight belongs to the abandoned work: its replies,
      // put-off requests and steps are dropped when they come.
      ++st.generation;
      st.outstanding = 0;
      st.then = nullptr;
      st.in_flight = false;
      st.after_flight = nullptr;
      st.awaiting_grant = false;
      st.awaiting_eval = false;
      st.delayed = false;
      st.deferred.clear();
      st.stale_steps = st.steps_out;
      st.held_plan.reset();
      return st.clock;
    },
    [=](shard_moved& m) -> caf::result<void> {
      if (auto err = check_scheduler(self, "shard move"))
        return err;
      auto& st = self->state;
      if (!st.has_slice || m.job != st.spec.job || m.shard >= st.shards.size())
        return make_error(errc::out_of_order,
          "move of shard " + std::to_string(m.shard) + " out of turn");
      st.shards[m.shard] = m.handle;
      if (!st.endpoints.empty())
        st.endpoints[m.shard] = m.endpoint;
      if (m.endpoint.empty() || m.handle.node() == self->node())
        return caf::unit;
      auto promise = self->make_response_promise();
      connect_to(self, m.endpoint, m.handle.node(), [=]() mutable {
        promise.deliver(caf::unit);
      });
      return caf::delegated<void>{};
    },
    [=](checkpoint_atom, uint64_t job) -> caf::result<worker_position> {
      if (auto err = check_scheduler(self, "checkpoint"))
        return err;
      auto& st = self->state;
      if (!st.has_slice || job != st.spec.job)
        return make_error(errc::out_of_order, "checkpoint before the slice");
      // Asked while the worker waits at a clock boundary (or for its next
      // plan): what its pushes so far cover. Under pipelined asp the unit
      // computed meanwhile is not pushed yet, so it is not part of the cut.
      worker_position pos;
      pos.job = st.spec.job;
      pos.worker = st.id;
      pos.epoch = st.plan.epoch;
      pos.next = st.next - std::min(st.next, st.unpushed_rows);
      pos.units = st.clock - st.epoch_start_clock;
      pos.clock = st.clock;
      pos.pushed = st.pushed;
      pos.report = st.report;
      pos.report.rows -= std::min<uint64_t>(pos.report.rows, st.unpushed_rows);
      pos.report.loss_sum -= st.unpushed_loss;
      pos.report.clock = st.clock;
      return pos;
    },
    [=](later_atom, uint64_t token) -> caf::result<void> {
      auto& st = self->state;
      if (!sent_by(self, self)) {
        ++st.refused;
        return make_error(errc::bad_sender, "later is internal to " + who(st));
      }
      if (auto it = st.deferred.find(token); it != st.deferred.end()) {
        auto f = std::move(it->second);
        st.deferred.erase(it);
        f();
      }
      return caf::unit;
    },
  };
}

} // namespace paramserv
