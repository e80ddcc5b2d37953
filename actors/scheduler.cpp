#include "actors/scheduler.hpp"

#include <algorithm>
#include <string>

#include <caf/event_based_actor.hpp>

#include "actors/consistency/modes.hpp"
#include "messages/errc.hpp"

namespace paramserv {

namespace {

constexpr auto shard_timeout = std::chrono::minutes(5);

using clock_type = std::chrono::steady_clock;

bool synchronous(consistency m) {
  return m == consistency::bsp || m == consistency::sbp;
}

void finish(scheduler_pointer self, caf::error err);
void start_epoch(scheduler_pointer self, size_t epoch);
void check_epoch_end(scheduler_pointer self);

// Sends `msg` to every shard; calls `done` once all replied. Each fan of
// requests counts its own replies, so fans that overlap cannot confuse each
// other. Any error ends the job: a shard that does not answer leaves no
// consistent model.
template <class Reply, class... Ts>
void ask_shards(scheduler_pointer self,
  std::function<void(uint32_t, Reply&)> on_reply, std::function<void()> done,
  Ts... xs) {
  auto& st = self->state;
  auto left = std::make_shared<size_t>(st.cfg.shards.size());
  for (uint32_t s = 0; s < st.cfg.shards.size(); ++s) {
    self->request(st.cfg.shards[s], shard_timeout, xs...)
      .then(
        [=](Reply& r) {
          on_reply(s, r);
          if (--*left == 0)
            done();
        },
        [=](caf::error& err) {
          finish(self, make_error(errc::job_failed,
                         "server shard " + std::to_string(s)
                           + " did not answer (" + to_string(err) + ")"));
        });
  }
}

void finish(scheduler_pointer self, caf::error err) {
  auto& st = self->state;
  for (auto& slot : st.slots) {
    if (slot.plan_wait) {
      epoch_plan stop;
      stop.job = st.cfg.job;
      stop.stop = true;
      slot.plan_wait->deliver(stop);
      slot.plan_wait.reset();
    }
    if (slot.clock_wait) {
      slot.clock_wait->deliver(make_error(errc::job_failed, "job ended"));
      slot.clock_wait.reset();
    }
  }
  if (st.run) {
    if (err)
      st.run->deliver(err);
    else
      st.run->deliver(std::move(st.result));
    st.run.reset();
  }
  // A finished job takes no further message: requests still in the mailbox
  // and later ones are refused with sec::request_receiver_down, and the
  // monitors of the scheduler see why it ended.
  self->quit(err ? err : caf::exit_reason::normal);
}

// Validates on the test set, records the epoch's metrics and goes on.
void end_epoch(scheduler_pointer self) {
  auto& st = self->state;
  st.ending = true;
  st.stats = shard_stats{};
  ask_shards<shard_stats>(
    self,
    [=](uint32_t, shard_stats& s) {
      auto& agg = self->state.stats;
      agg.updates += s.updates;
      agg.pushes += s.pushes;
      agg.measured += s.measured;
      agg.staleness_sum += s.staleness_sum;
      agg.max_staleness = std::max(agg.max_staleness, s.max_staleness);
      agg.dropped += s.dropped;
      agg.lost += s.lost;
      agg.rejected += s.rejected;
    },
    [=] {
      ask_shards<parameter_slice>(
        self,
        [=](uint32_t s, parameter_slice& slice) {
          auto& st = self->state;
          st.cfg.map->scatter(
            s, slice.values.data(), st.eval_params.flat().data());
        },
        [=] {
          auto& st = self->state;
          auto now = clock_type::now();
          epoch_metrics m;
          m.epoch = st.epoch + 1;
          m.lr = st.cfg.opts.schedule.at(st.epoch);
          uint64_t rows = 0;
          double loss = 0, staleness = st.stats.staleness_sum;
          uint64_t measured = st.stats.measured;
          m.max_staleness = st.stats.max_staleness;
          for (auto& slot : st.slots) {
            rows += slot.report.rows;
            loss += slot.report.loss_sum;
            m.pushes += slot.report.pushes;
            m.max_read_lag
              = std::max<size_t>(m.max_read_lag, slot.report.max_read_lag);
            m.skipped += slot.report.skipped;
            if (st.mode.mode == consistency::hogwild) {
              staleness += slot.report.staleness_sum;
              measured += slot.report.pushes;
              m.max_staleness
                = std::max<size_t>(m.max_staleness, slot.report.max_staleness);
            }
          }
          double secs
            = std::chrono::duration<double>(now - st.epoch_start).count();
          m.train_loss = rows > 0 ? loss / rows : 0.0;
          m.samples_per_s = secs > 0 ? rows / secs : 0.0;
          m.mean_staleness = measured > 0 ? staleness / measured : 0.0;
          m.max_clock_gap = st.max_gap;
          if (st.cfg.test && st.cfg.test->size() > 0) {
            auto ev = st.net->evaluate(
              st.eval_params, st.cfg.test->x, st.cfg.test->y);
            m.test_loss = ev.loss;
            m.test_accuracy = ev.accuracy;
          }
          m.elapsed_s
            = std::chrono::duration<double>(clock_type::now() - st.start)
                .count();
          st.result.dropped += st.stats.dropped;
          st.result.lost += st.stats.lost;
          for (auto& slot : st.slots)
            st.result.rejected += slot.report.refused;
          st.result.rejected += st.stats.rejected;
          st.result.history.push_back(m);
          if (st.driver)
            caf::anon_send(st.driver, m);
          if (st.epoch + 1 >= st.cfg.opts.epochs) {
            auto flat = st.eval_params.flat();
            st.result.params.assign(flat.begin(), flat.end());
            finish(self, caf::error{});
          } else {
            start_epoch(self, st.epoch + 1);
          }
        },
        pull_atom::value, parameter_pull{self->state.cfg.job, 0, {}});
    },
    stats_atom::value);
}

void check_epoch_end(scheduler_pointer self) {
  auto& st = self->state;
  if (!st.started || st.starting || st.committing || st.ending)
    return;
  bool any_live = false;
  for (auto& slot : st.slots) {
    if (!slot.live)
      continue;
    any_live = true;
    if (slot.active || !slot.plan_wait)
      return;
  }
  if (!any_live) {
    finish(self, make_error(errc::job_failed, "every worker died"));
    return;
  }
  end_epoch(self);
}

void start_epoch(scheduler_pointer self, size_t epoch) {
  auto& st = self->state;
  auto next = mode_at(st.cfg.modes, epoch + 1);
  if (next.mode == consistency::hogwild && !st.cfg.in_process) {
    detail::log(self, "epoch " + std::to_string(epoch + 1)
                        + ": hogwild needs shared memory; workers in other "
                          "processes run asp instead");
    next.mode = consistency::asp;
  }
  if (epoch == 0 || !(next == st.mode)) {
    detail::log(
      self, "epoch " + std::to_string(epoch + 1) + ": mode " + to_string(next)
              + (epoch == 0 ? "" : " (was " + to_string(st.mode) + ")"));
    st.mode = next;
    self->become(behavior_of(self, next));
  }
  st.epoch = epoch;
  // Until every shard switched, the epoch has not begun: a worker that dies
  // meanwhile must not end it.
  st.starting = true;
  float lr = st.cfg.opts.schedule.at(epoch);
  shard_mode sm{st.cfg.job, synchronous(st.mode.mode), lr,
    st.mode.mode == consistency::hogwild};
  ask_shards<uint64_t>(
    self, [](uint32_t, uint64_t&) {},
    [=] {
      auto& st = self->state;
      st.starting = false;
      st.ending = false;
      st.max_gap = 0;
      st.epoch_start = clock_type::now();
      if (std::none_of(
            st.slots.begin(), st.slots.end(), [](const worker_slot& s) {
              return s.live;
            })) {
        finish(self, make_error(errc::job_failed, "every worker died"));
        return;
      }
      std::vector<uint64_t> start_clocks;
      for (auto& slot : st.slots)
        start_clocks.push_back(slot.clock);
      for (auto& slot : st.slots) {
        slot.report = epoch_report{};
        slot.epoch_clock = 0;
        // Late marks never outlive their epoch: every push of the last one
        // was acknowledged before its worker reported.
        slot.late_until = slot.clock;
        if (!slot.live)
          continue;
        slot.active = true;
        if (slot.plan_wait) {
          slot.plan_wait->deliver(epoch_plan{
            st.cfg.job, epoch, st.mode.mode, lr, false, start_clocks});
          slot.plan_wait.reset();
        }
      }
    },
    mode_atom::value, sm);
}

void maybe_start(scheduler_pointer self) {
  auto& st = self->state;
  if (st.started || !st.run || st.joined < st.cfg.workers)
    return;
  st.started = true;
  st.start = clock_type::now();
  start_epoch(self, 0);
}

} // namespace

namespace detail {

void log(scheduler_pointer self, std::string line) {
  auto& st = self->state;
  if (st.driver)
    caf::anon_send(st.driver, line);
  st.result.log.push_back(std::move(line));
}

uint64_t min_active_clock(const scheduler_state& st) {
  uint64_t result = UINT64_MAX;
  for (auto& slot : st.slots)
    if (slot.live && slot.active)
      result = std::min(result, slot.epoch_clock);
  return result == UINT64_MAX ? 0 : result;
}

void grant(scheduler_pointer self, size_t w) {
  auto& st = self->state;
  auto& slot = st.slots[w];
  auto slowest = min_active_clock(st);
  if (slot.epoch_clock > slowest)
    st.max_gap = std::max(st.max_gap, slot.epoch_clock - slowest);
  slot.clock_wait->deliver(slot.clock);
  slot.clock_wait.reset();
}

void commit(scheduler_pointer self, std::vector<uint32_t> included,
  std::vector<uint32_t> late) {
  auto& st = self->state;
  st.committing = true;
  commit_request req;
  req.job = st.cfg.job;
  req.round = ++st.round;
  req.workers = included;
  for (auto w : late) {
    // The push this worker is computing (its next clock) is late.
    auto& slot = st.slots[w];
    slot.late_until = slot.clock + 1;
    req.late.push_back(w);
    req.late.push_back(slot.late_until);
  }
  ask_shards<uint64_t>(
    self, [](uint32_t, uint64_t&) {},
    [=] {
      auto& st = self->state;
      st.committing = false;
      for (auto w : included)
        if (st.slots[w].clock_wait)
          grant(self, w);
      st.release();
      check_epoch_end(self);
    },
    commit_atom::value, req);
}

scheduler_actor::behavior_type scheduler_behavior(
  scheduler_pointer self, std::function<void()> release) {
  self->state.release = std::move(release);
  return {
    [=](clock_atom, uint32_t w, uint64_t c) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (w >= st.slots.size() || !st.slots[w].joined)
        return make_error(
          errc::bad_worker, "clock of unknown worker " + std::to_string(w));
      auto& slot = st.slots[w];
      if (slot.clock_wait || !slot.active)
        return make_error(errc::out_of_order,
          "worker " + std::to_string(w) + " asked for a clock out of turn");
      slot.clock = c;
      ++slot.epoch_clock;
      auto rp = self->make_response_promise<uint64_t>();
      slot.clock_wait = rp;
      st.release();
      return rp;
    },
    [=](join_atom, uint32_t id,
      const worker_actor& handle) -> caf::result<epoch_plan> {
      auto& st = self->state;
      if (id >= st.slots.size() || st.slots[id].joined)
        return make_error(errc::bad_worker,
          "worker id " + std::to_string(id) + " is unknown or taken");
      auto& slot = st.slots[id];
      slot.handle = handle;
      slot.joined = true;
      self->monitor(handle);
      auto rp = self->make_response_promise<epoch_plan>();
      slot.plan_wait = rp;
      ++st.joined;
      maybe_start(self);
      return rp;
    },
    [=](epoch_atom, epoch_report& r) -> caf::result<epoch_plan> {
      auto& st = self->state;
      if (r.worker >= st.slots.size() || !st.slots[r.worker].active)
        return make_error(errc::out_of_order,
          "epoch report of inactive worker " + std::to_string(r.worker));
      auto& slot = st.slots[r.worker];
      slot.active = false;
      slot.clock = r.clock;
      slot.report = r;
      auto rp = self->make_response_promise<epoch_plan>();
      slot.plan_wait = rp;
      st.release(); // the active set shrank
      check_epoch_end(self);
      return rp;
    },
    [=](run_atom) -> caf::result<run_result> {
      auto& st = self->state;
      if (st.run || st.started)
        return make_error(errc::out_of_order, "the job runs already");
      st.driver = caf::actor_cast<caf::actor>(self->current_sender());
      auto rp = self->make_response_promise<run_result>();
      st.run = rp;
      maybe_start(self);
      return rp;
    },
  };
}

} // namespace detail

scheduler_actor::behavior_type scheduler(
  scheduler_pointer self, scheduler_config cfg) {
  auto& st = self->state;
  st.slots.resize(cfg.workers);
  st.net = make_model(cfg.opts.model);
  st.eval_params = parameter_set{st.net->shapes()};
  st.mode = mode_at(cfg.modes, 1);
  st.cfg = std::move(cfg);
  // A lost shard leaves no consistent model: the run ends, naming it.
  for (auto& shard : st.cfg.shards)
    self->monitor(shard);
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    for (uint32_t s = 0; s < st.cfg.shards.size(); ++s) {
      if (msg.source == caf::actor_cast<caf::actor_addr>(st.cfg.shards[s])) {
        finish(self, make_error(errc::job_failed,
                       "server shard " + std::to_string(s) + " stopped ("
                         + to_string(msg.reason) + ")"));
        return;
      }
    }
    for (uint32_t w = 0; w < st.slots.size(); ++w) {
      auto& slot = st.slots[w];
      if (!slot.live || !slot.joined
          || msg.source != caf::actor_cast<caf::actor_addr>(slot.handle))
        continue;
      slot.live = false;
      slot.active = false;
      slot.clock_wait.reset();
      slot.plan_wait.reset();
      if (msg.reason && st.run)
        detail::log(self, "worker " + std::to_string(w) + " died ("
                            + to_string(msg.reason) + "); going on without it");
      st.release();
      check_epoch_end(self);
    }
  });
  return behavior_of(self, st.mode);
}

} // namespace paramserv
