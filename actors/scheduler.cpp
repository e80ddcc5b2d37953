#include "actors/scheduler.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>

#include <caf/event_based_actor.hpp>

#include "actors/consistency/modes.hpp"
#include "actors/local_backend.hpp"
#include "actors/net/secret.hpp"
#include "actors/runtime_info.hpp"
#include "actors/sender.hpp"
#include "linalg/data/partition.hpp"
#include "messages/errc.hpp"

namespace paramserv {

namespace {

using clock_type = std::chrono::steady_clock;

std::chrono::milliseconds ms(uint32_t x) {
  return std::chrono::milliseconds(x);
}

void finish(scheduler_pointer self, caf::error err);
void start_epoch(scheduler_pointer self, size_t epoch);
void check_epoch_end(scheduler_pointer self);
void maybe_cut(scheduler_pointer self);
void maybe_evaluate(scheduler_pointer self);
void restore_evaluations(scheduler_pointer self, const job_checkpoint& from);

// Sends `msg` to every shard with the timeout `timeout`; calls `done` once
// all replied. Each fan of requests counts its own replies, so fans that
// overlap cannot confuse each other. Any error ends the job: a shard that
// does not answer leaves no consistent model.
template <class Reply, class... Ts>
void ask_shards(scheduler_pointer self, std::chrono::milliseconds timeout,
  std::function<void(uint32_t, Reply&)> on_reply, std::function<void()> done,
  Ts... xs) {
  auto& st = self->state;
  auto left = std::make_shared<size_t>(st.shards.size());
  auto gen = st.generation;
  for (uint32_t s = 0; s < st.shards.size(); ++s) {
    self->request(st.shards[s].handle, timeout, xs...)
      .then(
        [=](Reply& r) {
          // A shard was lost since: the fan belongs to abandoned work.
          if (self->state.over || self->state.generation != gen)
            return;
          on_reply(s, r);
          // on_reply may have ended the job.
          if (--*left == 0 && !self->state.over)
            done();
        },
        [=](caf::error& err) {
          // A shard that stopped: the down message of its monitor says
          // why (a refused slice, say) and ends the job.
          if (self->state.over || self->state.generation != gen
              || err == caf::sec::request_receiver_down)
            return;
          finish(self, make_error(errc::job_failed,
                         "server shard " + std::to_string(s)
                           + " did not answer (" + to_string(err) + ")"));
        });
  }
}

void send_plan(scheduler_pointer self, worker_slot& slot, epoch_plan plan) {
  slot.plan_wait = false;
  self->send(slot.handle, std::move(plan));
}

// Shards and workers that have not stopped yet.
size_t still_running(const scheduler_state& st) {
  size_t n = 0;
  for (auto& s : st.shards)
    n += s.live ? 1 : 0;
  for (auto& w : st.slots)
    n += w.live ? 1 : 0;
  return n;
}

void finish(scheduler_pointer self, caf::error err) {
  auto& st = self->state;
  if (st.over)
    return;
  st.over = true;
  for (auto& slot : st.slots) {
    if (!slot.live || (!slot.plan_wait && err))
      continue;
    if (!slot.plan_wait) {
      // A run stopped inside an epoch (a stopping rule): the worker drops
      // its work in flight first.
      self
        ->request(slot.handle, ms(st.spec().timeouts.control_ms),
          halt_atom::value, st.spec().job)
        .then([](uint64_t) {}, [](caf::error&) {});
    }
    epoch_plan stop;
    stop.job = st.spec().job;
    stop.stop = true;
    send_plan(self, slot, stop);
  }
  if (st.driver) {
    if (err)
      caf::anon_send(st.driver, err);
    else
      caf::anon_send(st.driver, std::move(st.result));
  }
  if (err) {
    // A failed job stops at once: the monitors of the scheduler (workers
    // and shards among them) see why it ended.
    self->quit(err);
    return;
  }
  // A job that ended well tells its shards so (its workers got their stop
  // plans), and the scheduler stops once they did, or after the control
  // timeout: stopping first could cut a node off before these messages
  // reached it.
  for (auto& s : st.shards)
    if (s.live)
      self->send(s.handle, done_atom::value, st.spec().job);
  if (still_running(st) == 0)
    self->quit(caf::exit_reason::normal);
  else
    self->delayed_send(
      self, ms(st.spec().timeouts.control_ms), deadline_atom::value, false);
}

// Writes checkpoint `job` (its sequence, batches and evaluations are set
// here) with the shards' `states`; says whether it was written. One that
// cannot be written is logged and the previous one stays; training goes
// on.
bool save_checkpoint(
  scheduler_pointer self, job_checkpoint job, std::vector<shard_state> states) {
  auto& st = self->state;
  auto begun = clock_type::now();
  job.sequence = st.checkpoint_sequence + 1;
  job.batches = st.batches;
  job.evaluations = st.result.evaluations;
  auto name = cut_name(job);
  bool written = false;
  try {
    write_checkpoint(
      self->system(), st.cfg.checkpoint_dir, std::move(job), std::move(states));
    auto ms_taken = std::chrono::duration_cast<std::chrono::milliseconds>(
      clock_type::now() - begun);
    st.checkpointed = true;
    ++st.checkpoint_sequence;
    detail::log(self, "checkpoint " + name + " written to "
                        + st.cfg.checkpoint_dir + " ("
                        + std::to_string(ms_taken.count()) + " ms)");
    written = true;
  } catch (const std::exception& e) {
    detail::log(self, "checkpoint " + name
                        + " not written, the previous one stays: " + e.what());
  }
  st.checkpoint_time = clock_type::now();
  return written;
}

// Between epochs (every worker waits for its plan, no push is in flight):
// asks every shard for its state and writes the checkpoint, then starts
// the next epoch.
void take_checkpoint(scheduler_pointer self) {
  auto& st = self->state;
  auto states = std::make_shared<std::vector<shard_state>>(st.shards.size());
  ask_shards<shard_state>(
    self, ms(st.spec().timeouts.control_ms),
    [=](uint32_t s, shard_state& state) {
      (*states)[s] = std::move(state);
    },
    [=] {
      auto& st = self->state;
      job_checkpoint job;
      job.epochs_done = st.epoch + 1;
      job.spec = st.spec();
      job.history = st.result.history;
      save_checkpoint(self, std::move(job), std::move(*states));
      start_epoch(self, st.epoch + 1);
    },
    checkpoint_atom::value, checkpoint_request{st.spec().job, {}});
}

// Whether a checkpoint is due at the end of the current epoch (at `now`):
// every checkpoint_every-th epoch, or checkpoint_seconds after the last.
bool checkpoint_due(const scheduler_state& st, clock_type::time_point now) {
  if (st.cfg.checkpoint_dir.empty())
    return false;
  auto every = st.cfg.checkpoint_every;
  if (every > 0 && (st.epoch + 1) % every == 0)
    return true;
  auto secs = st.cfg.checkpoint_seconds;
  return secs > 0
         && std::chrono::duration<double>(now - st.checkpoint_time).count()
              >= secs;
}

// Whether a checkpoint cut inside the epoch is due at `now`:
// checkpoint_seconds after the last checkpoint, in an epoch whose workers
// have clocks and whose partitions did not change.
bool cut_due(const scheduler_state& st, clock_type::time_point now) {
  auto secs = st.cfg.checkpoint_seconds;
  // Positions hold only for the partitions the job started with: after
  // rows were handed over, a resumed run could not find them again.
  return !st.cfg.checkpoint_dir.empty() && secs > 0 && !st.cut.holding
         && !st.epoch_disturbed && st.parts_changes == 0 && !st.recovery.active
         && !rules_of(st.mode.mode).in_place
         && std::chrono::duration<double>(now - st.checkpoint_time).count()
              >= secs;
}

// Ends a cut (taken, given up, or left to the epoch's end): the held
// grants go out, and the mode grants what else it may.
void release_cut(scheduler_pointer self) {
  auto& st = self->state;
  auto held = std::exchange(st.cut.held, {});
  st.cut = cut_state{};
  for (auto w : held) {
    auto& slot = st.slots[w];
    if (slot.live && slot.active)
      self->send(slot.handle, grant_atom::value, st.spec().job, slot.clock);
  }
  if (!st.over && !st.recovery.active) {
    st.release();
    check_epoch_end(self);
  }
}

// A cut given up: logged, and the next is due checkpoint_seconds later.
void give_up_cut(scheduler_pointer self, const std::string& why) {
  auto& st = self->state;
  detail::log(self, "checkpoint in epoch " + std::to_string(st.epoch + 1)
                      + " not written, the previous one stays: " + why);
  st.checkpoint_time = clock_type::now();
  release_cut(self);
}

// Every worker stopped at its clock boundary: asks each where it is, then
// every shard for its state once it received every push the workers sent,
// and writes the checkpoint. Whatever goes wrong gives the cut up (the run
// goes on); a shard or worker lost meanwhile is handled by its monitor.
void take_cut(scheduler_pointer self) {
  auto& st = self->state;
  st.cut.taking = true;
  st.cut.serial = ++st.cuts;
  auto serial = st.cut.serial;
  auto changes = st.parts_changes;
  auto gen = st.generation;
  auto job = std::make_shared<job_checkpoint>();
  job->epochs_done = st.epoch;
  job->spec = st.spec();
  job->history = st.result.history;
  job->epoch_elapsed_s
    = std::chrono::duration<double>(clock_type::now() - st.epoch_start).count();
  job->positions.resize(st.slots.size());
  auto current = [=] {
    auto& st = self->state;
    return st.generation == gen && !st.over && st.cut.taking
           && st.cut.serial == serial;
  };
  auto states = std::make_shared<std::vector<shard_state>>(st.shards.size());
  auto shards_left = std::make_shared<size_t>(st.shards.size());
  auto ask_states = [=] {
    auto& st = self->state;
    checkpoint_request req{st.spec().job, {}};
    for (auto& p : job->positions)
      req.received.push_back(p.pushed);
    for (uint32_t s = 0; s < st.shards.size(); ++s)
      self
        ->request(st.shards[s].handle, ms(st.spec().timeouts.control_ms),
          checkpoint_atom::value, req)
        .then(
          [=](shard_state& state) {
            if (!current())
              return;
            (*states)[s] = std::move(state);
            if (--*shards_left > 0)
              return;
            auto& st = self->state;
            if (st.parts_changes != changes || st.epoch_disturbed) {
              give_up_cut(self, "a worker was lost while it was taken");
              return;
            }
            if (save_checkpoint(self, std::move(*job), std::move(*states)))
              st.parts_changes_at_cut = changes;
            release_cut(self);
          },
          [=](caf::error& err) {
            if (current())
              give_up_cut(self, "server shard " + std::to_string(s) + " ("
                                  + self->system().render(err) + ")");
          });
  };
  auto workers_left = std::make_shared<size_t>(0);
  for (uint32_t w = 0; w < st.slots.size(); ++w) {
    auto& slot = st.slots[w];
    auto& pos = job->positions[w];
    if (!slot.live) {
      // Lost: a resumed run has it sit this epoch out. Its last clock may
      // have sent no push (a skipped unit, a push lost with it): the
      // shards wait for none of its pushes.
      pos = worker_position{
        st.spec().job, w, st.epoch, UINT64_MAX, 0, slot.clock, 0, {}};
      continue;
    }
    ++*workers_left;
  }
  for (uint32_t w = 0; w < st.slots.size(); ++w) {
    auto& slot = st.slots[w];
    if (!slot.live)
      continue;
    auto expected = slot.epoch_clock;
    self
      ->request(slot.handle, ms(st.spec().timeouts.control_ms),
        checkpoint_atom::value, st.spec().job)
      .then(
        [=](worker_position& pos) {
          if (!current())
            return;
          auto& st = self->state;
          // What the worker says must be what the scheduler counted.
          if (pos.worker != w || pos.epoch != st.epoch
              || pos.units != expected) {
            give_up_cut(self, "worker " + std::to_string(w) + " is at clock "
                                + std::to_string(pos.units) + " of epoch "
                                + std::to_string(pos.epoch + 1) + ", not "
                                + std::to_string(expected) + " of epoch "
                                + std::to_string(st.epoch + 1));
            return;
          }
          job->positions[w] = std::move(pos);
          if (--*workers_left == 0)
            ask_states();
        },
        [=](caf::error& err) {
          if (current())
            give_up_cut(self, "worker " + std::to_string(w) + " ("
                                + self->system().render(err) + ")");
        });
  }
}

// Starts a held cut once every worker in the epoch stopped at a clock
// boundary (its grant held, or its clock request not grantable yet) and no
// commit is in flight. With no worker left in the epoch, its end takes the
// checkpoint instead.
void maybe_cut(scheduler_pointer self) {
  auto& st = self->state;
  auto& cut = st.cut;
  if (!cut.holding || cut.taking || st.committing || st.starting || st.ending
      || st.recovery.active || st.over)
    return;
  bool any_active = false;
  for (uint32_t w = 0; w < st.slots.size(); ++w) {
    auto& slot = st.slots[w];
    if (!slot.live || !slot.active)
      continue;
    any_active = true;
    bool held
      = std::find(cut.held.begin(), cut.held.end(), w) != cut.held.end();
    if (!held && !slot.clock_wait)
      return; // still computing
  }
  if (!any_active || st.epoch_disturbed) {
    release_cut(self);
    return;
  }
  take_cut(self);
}

// Records an evaluation on the validation set of the parameters as they
// were after `batches` batches, tells the driver, and applies the stopping
// rules: a verdict other than go_on ends the run (the caller's part).
stop_verdict record_evaluation(
  scheduler_pointer self, uint64_t batches, const evaluation& ev) {
  auto& st = self->state;
  evaluation_record rec;
  rec.epoch = st.epoch + 1;
  rec.batches = batches;
  rec.loss = ev.loss;
  rec.accuracy = ev.accuracy;
  rec.elapsed_s
    = std::chrono::duration<double>(clock_type::now() - st.start).count();
  st.result.evaluations.push_back(rec);
  if (st.driver)
    caf::anon_send(st.driver, rec);
  auto verdict = st.rule.record(rec.accuracy);
  if (verdict == stop_verdict::go_on)
    return verdict;
  st.result.stopped = verdict;
  if (verdict == stop_verdict::target)
    st.result.target_s = rec.elapsed_s;
  char acc[32];
  std::snprintf(acc, sizeof acc, "%.4f", rec.accuracy);
  detail::log(self, "stopping in epoch " + std::to_string(rec.epoch) + " after "
                      + std::to_string(batches) + " batches: "
                      + describe(verdict, st.spec().opts.validation)
                      + " (validation accuracy " + acc + ")");
  return verdict;
}

// A stopping rule ended the run inside an epoch: the epoch's metrics so
// far (its rows and loss from the workers' progress), the model as the
// evaluation read it, and the job ends.
void stop_early(scheduler_pointer self) {
  auto& st = self->state;
  epoch_metrics m;
  m.epoch = st.epoch + 1;
  m.lr = st.spec().opts.schedule.at(st.epoch);
  m.rows = st.progress.rows - st.progress_at_epoch.rows;
  double loss = st.progress.loss_sum - st.progress_at_epoch.loss_sum;
  m.train_loss = m.rows > 0 ? loss / m.rows : 0.0;
  double secs
    = std::chrono::duration<double>(clock_type::now() - st.epoch_start).count();
  m.samples_per_s = secs > 0 ? m.rows / secs : 0.0;
  m.workers
    = std::count_if(st.slots.begin(), st.slots.end(), [](const worker_slot& s) {
        return s.live;
      });
  auto& rec = st.result.evaluations.back();
  m.validation_loss = rec.loss;
  m.validation_accuracy = rec.accuracy;
  if (st.cfg.test && st.cfg.test->size() > 0) {
    auto ev = st.net->evaluate(st.val_params, st.cfg.test->x, st.cfg.test->y);
    m.test_loss = ev.loss;
    m.test_accuracy = ev.accuracy;
  }
  m.elapsed_s
    = std::chrono::duration<double>(clock_type::now() - st.start).count();
  st.result.history.push_back(m);
  if (st.driver) {
    if (std::exchange(st.progress_changed, false))
      caf::anon_send(st.driver, st.progress);
    caf::anon_send(st.driver, m);
  }
  auto flat = st.val_params.flat();
  st.result.params.assign(flat.begin(), flat.end());
  finish(self, caf::error{});
}

// Batches worker `w`'s unit of work covers (one clock): one, n, or its
// whole partition.
uint64_t unit_batches(const scheduler_state& st, uint32_t w) {
  auto b = st.spec().opts.batch_size;
  switch (st.spec().freq) {
    case update_frequency::batch:
      return 1;
    case update_frequency::nbatches:
      return st.spec().nbatches;
    case update_frequency::epoch:
      return (st.parts[w].size() + b - 1) / b;
  }
  return 1;
}

// Lets the Hogwild! workers waiting for an evaluation go on (after any halt
// the evaluation's verdict sent them, which they handle first).
void release_eval_waiters(scheduler_pointer self) {
  for (auto& waiter : std::exchange(self->state.eval_waiters, {}))
    waiter.deliver(caf::unit);
}

// Evaluates on the validation set once another --eval-every batches were
// trained: pulls every shard and applies the stopping rules. Under bsp and
// sbp never while a commit is in flight (the commit's end calls it), so
// that it reads the model of a whole clock.
void maybe_evaluate(scheduler_pointer self) {
  auto& st = self->state;
  auto& val = st.cfg.validation;
  auto every = st.spec().opts.validation.every;
  if (!val || val->size() == 0 || every == 0 || st.batches < st.next_eval
      || st.evaluating || st.over || !st.started || st.starting || st.ending
      || st.committing || st.recovery.active || st.cut.taking)
    return;
  st.next_eval = (st.batches / every + 1) * every;
  st.evaluating = true;
  auto at = st.batches;
  ask_shards<parameter_slice>(
    self, ms(st.spec().timeouts.pull_ms),
    [=](uint32_t s, parameter_slice& slice) {
      auto& st = self->state;
      if (slice.values.size() != st.map.sizes[s]) {
        finish(self,
          make_error(errc::bad_shape, "server shard " + std::to_string(s)
                                        + " sent a slice of the wrong size"));
        return;
      }
      st.map.scatter(s, slice.values.data(), st.val_params.flat().data());
    },
    [=] {
      auto& st = self->state;
      st.evaluating = false;
      auto ev = st.net->evaluate(
        st.val_params, st.cfg.validation->x, st.cfg.validation->y);
      if (record_evaluation(self, at, ev) != stop_verdict::go_on) {
        stop_early(self);
        release_eval_waiters(self);
        return;
      }
      release_eval_waiters(self);
      check_epoch_end(self);
    },
    pull_atom::value, parameter_pull{st.spec().job, scheduler_reader});
}

void end_epoch(scheduler_pointer self) {
  auto& st = self->state;
  st.ending = true;
  st.stats = shard_stats{};
  auto& timeouts = st.spec().timeouts;
  ask_shards<shard_stats>(
    self, ms(timeouts.control_ms),
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
      agg.duplicates += s.duplicates;
    },
    [=] {
      auto& st = self->state;
      ask_shards<parameter_slice>(
        self, ms(st.spec().timeouts.pull_ms),
        [=](uint32_t s, parameter_slice& slice) {
          auto& st = self->state;
          if (slice.values.size() != st.map.sizes[s]) {
            finish(self, make_error(errc::bad_shape,
                           "server shard " + std::to_string(s)
                             + " sent a slice of the wrong size"));
            return;
          }
          st.map.scatter(s, slice.values.data(), st.eval_params.flat().data());
        },
        [=] {
          auto& st = self->state;
          auto now = clock_type::now();
          epoch_metrics m;
          m.epoch = st.epoch + 1;
          m.lr = st.spec().opts.schedule.at(st.epoch);
          if (rules_of(st.mode.mode).buffered && st.last_lr > 0)
            m.lr = st.last_lr; // scaled with the workers (lr_factor)
          uint64_t rows = 0;
          double loss = 0, staleness = st.stats.staleness_sum;
          uint64_t measured = st.stats.measured;
          m.max_staleness = st.stats.max_staleness;
          bool in_place = rules_of(st.mode.mode).in_place;
          for (auto& slot : st.slots) {
            rows += slot.report.rows;
            loss += slot.report.loss_sum;
            m.pushes += slot.report.pushes;
            m.max_read_lag = std::max(m.max_read_lag, slot.report.max_read_lag);
            m.skipped += slot.report.skipped;
            if (in_place) {
              // Nothing went through the shards: the workers measured.
              staleness += slot.report.staleness_sum;
              measured += slot.report.pushes;
              m.max_staleness
                = std::max(m.max_staleness, slot.report.max_staleness);
            }
          }
          double secs
            = std::chrono::duration<double>(now - st.epoch_start).count();
          m.train_loss = rows > 0 ? loss / rows : 0.0;
          m.samples_per_s = secs > 0 ? rows / secs : 0.0;
          m.mean_staleness = measured > 0 ? staleness / measured : 0.0;
          m.max_clock_gap = st.max_gap;
          m.workers = std::count_if(
            st.slots.begin(), st.slots.end(), [](const worker_slot& s) {
              return s.live;
            });
          m.workers_lost = std::exchange(st.lost_workers, 0);
          m.rows = rows;
          m.rows_reassigned = std::exchange(st.rows_reassigned, 0);
          m.shards_restored = std::exchange(st.shards_restored, 0);
          m.recovery_s = std::exchange(st.recovery_s, 0.0);
          if (st.cfg.test && st.cfg.test->size() > 0) {
            auto ev = st.net->evaluate(
              st.eval_params, st.cfg.test->x, st.cfg.test->y);
            m.test_loss = ev.loss;
            m.test_accuracy = ev.accuracy;
          }
          auto verdict = stop_verdict::go_on;
          if (auto& val = st.cfg.validation; val && val->size() > 0) {
            auto& evals = st.result.evaluations;
            if (!evals.empty() && evals.back().batches == st.batches) {
              // Evaluated at these very batches already.
              m.validation_loss = evals.back().loss;
              m.validation_accuracy = evals.back().accuracy;
            } else {
              auto ev = st.net->evaluate(st.eval_params, val->x, val->y);
              m.validation_loss = ev.loss;
              m.validation_accuracy = ev.accuracy;
              verdict = record_evaluation(self, st.batches, ev);
            }
          }
          m.elapsed_s
            = std::chrono::duration<double>(clock_type::now() - st.start)
                .count();
          st.result.dropped += st.stats.dropped;
          st.result.lost += st.stats.lost;
          st.result.duplicates += st.stats.duplicates;
          for (auto& slot : st.slots) {
            st.result.rejected += slot.report.refused;
            st.result.retried += slot.report.retried;
          }
          st.result.rejected
            += st.stats.rejected + std::exchange(st.refused, 0);
          st.result.history.push_back(m);
          if (st.driver) {
            // Progress first: the totals of the epoch are complete now.
            if (std::exchange(st.progress_changed, false))
              caf::anon_send(st.driver, st.progress);
            caf::anon_send(st.driver, m);
          }
          if (st.epoch + 1 >= st.spec().opts.epochs
              || verdict != stop_verdict::go_on) {
            auto flat = st.eval_params.flat();
            st.result.params.assign(flat.begin(), flat.end());
            finish(self, caf::error{});
          } else if (checkpoint_due(st, now)) {
            take_checkpoint(self);
          } else {
            start_epoch(self, st.epoch + 1);
          }
        },
        pull_atom::value,
        parameter_pull{self->state.spec().job, scheduler_reader});
    },
    stats_atom::value);
}

// The error of a job that lost its last worker, naming why the last one
// stopped.
caf::error no_workers_left(const scheduler_state& st) {
  return make_error(errc::job_failed,
    "every worker died"
      + (st.last_loss.empty() ? "" : " (the last: " + st.last_loss + ")"));
}

void check_epoch_end(scheduler_pointer self) {
  auto& st = self->state;
  if (!st.started || st.starting || st.committing || st.ending
      || st.recovery.active || st.cut.taking || st.evaluating)
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
    finish(self, no_workers_left(st));
    return;
  }
  end_epoch(self);
}

void start_epoch(scheduler_pointer self, size_t epoch) {
  auto& st = self->state;
  auto next = mode_at(st.spec().modes, epoch + 1);
  if (rules_of(next.mode).in_place && !st.in_process) {
    detail::log(self, "epoch " + std::to_string(epoch + 1)
                        + ": hogwild needs every shard and worker in one "
                          "process; running asp instead");
    next = mode_setting{consistency::asp, 0};
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
  float lr = st.spec().opts.schedule.at(epoch);
  ask_shards<uint64_t>(
    self, ms(st.spec().timeouts.control_ms), [](uint32_t, uint64_t&) {},
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
        finish(self, no_workers_left(st));
        return;
      }
      st.cut = cut_state{};
      st.epoch_disturbed = false;
      st.progress_at_epoch = st.progress;
      // An epoch resumed from a cut inside it goes on from each worker's
      // position: its clocks (never back), and the seconds trained before.
      auto carry = std::exchange(st.carry, {});
      if (carry.size() != st.slots.size())
        carry.clear();
      for (size_t w = 0; w < carry.size(); ++w) {
        auto& slot = st.slots[w];
        slot.clock = std::max(slot.clock, carry[w].clock);
        carry[w].clock = slot.clock;
      }
      if (!carry.empty())
        st.epoch_start -= std::chrono::duration_cast<clock_type::duration>(
          std::chrono::duration<double>(st.carry_elapsed_s));
      std::vector<uint64_t> start_clocks;
      // A dead worker reads as "no clock" (UINT64_MAX): nobody lags
      // behind its frozen pushes.
      for (size_t w = 0; w < st.slots.size(); ++w) {
        auto& slot = st.slots[w];
        uint64_t done = carry.empty() ? 0 : carry[w].units;
        start_clocks.push_back(
          slot.live ? slot.clock - std::min(slot.clock, done) : UINT64_MAX);
      }
      for (size_t w = 0; w < st.slots.size(); ++w) {
        auto& slot = st.slots[w];
        slot.report = epoch_report{};
        slot.epoch_clock = carry.empty() ? 0 : carry[w].units;
        // Late marks never outlive their epoch: every push of the last one
        // was acknowledged before its worker reported.
        slot.late_until = slot.clock;
        // A worker that rejoined and is not ready yet sits this epoch out.
        if (!slot.live || !slot.plan_wait)
          continue;
        slot.active = true;
        epoch_plan plan{
          st.spec().job, epoch, st.mode.mode, lr, false, start_clocks};
        if (!carry.empty()) {
          plan.resumes = true;
          plan.at = carry[w];
        }
        send_plan(self, slot, std::move(plan));
      }
    },
    mode_atom::value,
    shard_mode{st.spec().job, st.mode.mode, lr, st.spec().opts.remedy,
      st.spec().opts.dc_lambda});
}

// Starts the job (and its clock) once it is ready, it has a driver, and
// every worker still alive has read its data and reached its shards.
void maybe_start(scheduler_pointer self) {
  auto& st = self->state;
  if (st.started || st.over || !st.driver || !st.ready)
    return;
  if (std::any_of(st.slots.begin(), st.slots.end(), [](const worker_slot& s) {
        return s.live && !s.ready;
      }))
    return;
  st.started = true;
  st.start = clock_type::now();
  st.checkpoint_time = st.start;
  self->send(self, tick_atom::value);
  size_t first = 0;
  if (auto& r = st.cfg.resume) {
    first = r->job.epochs_done;
    restore_evaluations(self, r->job);
    st.carry = r->job.positions;
    st.carry_elapsed_s = r->job.epoch_elapsed_s;
    for (auto& why : r->refused)
      detail::log(self, "checkpoint refused: " + why);
    detail::log(self, "resumed from " + r->from);
  }
  start_epoch(self, first);
}

// The roster of the job's workers, by id (dead ones included).
worker_roster roster_of(const scheduler_state& st) {
  worker_roster roster{st.spec().job, {}};
  for (auto& slot : st.slots)
    roster.workers.push_back(caf::actor_cast<caf::actor>(slot.handle));
  return roster;
}

// Worker `w`'s slice: the job, its id and partition, the shard map and
// where every shard is.
worker_slice worker_slice_for(const scheduler_state& st, uint32_t w) {
  worker_slice slice{
    st.spec(), w, st.parts[w], st.map.keys, st.map.owner, {}, {}};
  for (auto& s : st.shards) {
    slice.shards.push_back(s.handle);
    slice.endpoints.push_back(s.endpoint);
  }
  return slice;
}

// Every shard and worker registered: workers get their slices, shards the
// roster; once every shard has it, the job is ready to run.
void hand_out(scheduler_pointer self) {
  auto& st = self->state;
  auto& spec = st.spec();
  // Hogwild! in place needs one memory: every actor on one node that
  // shares it.
  auto& node = st.shards.front().node;
  st.in_process = !node.empty();
  for (auto& s : st.shards)
    st.in_process &= s.shares_memory && !s.remote && s.node == node;
  for (auto& w : st.slots)
    st.in_process &= w.shares_memory && !w.remote && w.node == node;
  st.parts = partition_training_rows(spec.opts, spec.data.rows, spec.workers);
  st.epoch_batches = 0;
  for (auto& part : st.parts)
    st.epoch_batches
      += (part.size() + spec.opts.batch_size - 1) / spec.opts.batch_size;
  for (uint32_t w = 0; w < st.slots.size(); ++w) {
    auto& slot = st.slots[w];
    if (!slot.live)
      continue;
    // A worker that cannot take its slice (or does not answer within the
    // control timeout) is stopped with that error: it is dropped as a lost
    // worker.
    auto handle = slot.handle;
    self->request(handle, ms(spec.timeouts.control_ms), worker_slice_for(st, w))
      .then(
        [=] {
          auto& st = self->state;
          st.slots[w].ready = true;
          maybe_start(self);
        },
        [=](caf::error& err) {
          if (!self->state.over)
            self->send_exit(handle, std::move(err));
        });
  }
  ask_shards<uint64_t>(
    self, ms(spec.timeouts.control_ms), [](uint32_t, uint64_t&) {},
    [=] {
      self->state.ready = true;
      maybe_start(self);
    },
    roster_atom::value, roster_of(st));
}

// Shard `id`'s slice: its keys' values and update-rule state as `from`
// holds them (a checkpoint), or the initial model if `from` is null.
shard_slice slice_for(
  const scheduler_state& st, uint32_t id, const resume_point* from) {
  auto& spec = st.spec();
  shard_slice slice;
  slice.job = spec.job;
  slice.id = id;
  slice.workers = spec.workers;
  slice.optimizer = spec.opts.optimizer;
  if (from && id < from->shards.size()) {
    auto& state = from->shards[id];
    slice.values = state.values;
    slice.version = state.version;
    slice.steps = state.steps;
    slice.state = state.arrays;
  } else {
    slice.values.resize(st.map.sizes[id]);
    st.map.gather(id, st.init.data(), slice.values.data());
  }
  if (st.recovery.active) {
    slice.fences = st.recovery.fences;
  } else if (from) {
    // A cut inside an epoch: the workers' pushes up to their clocks are in
    // the state.
    for (auto& p : from->job.positions)
      slice.fences.push_back(p.clock);
  }
  return slice;
}

// Where a lost shard goes back to: the newest checkpoint this job wrote,
// else the one it resumed from, else the initial model.
std::shared_ptr<const resume_point> restore_point(scheduler_pointer self) {
  auto& st = self->state;
  if (st.checkpointed)
    return std::make_shared<const resume_point>(
      read_checkpoint(self->system(), st.cfg.checkpoint_dir, st.spec()));
  if (st.cfg.resume)
    return st.cfg.resume;
  auto initial = std::make_shared<resume_point>();
  initial->job.spec = st.spec();
  initial->from = "the initial model";
  for (uint32_t s = 0; s < st.shards.size(); ++s) {
    shard_state state;
    state.job = st.spec().job;
    state.id = s;
    state.values = slice_for(st, s, nullptr).values;
    initial->shards.push_back(std::move(state));
  }
  return initial;
}

void continue_recovery(scheduler_pointer self);

// The evaluations and the batch count go back to checkpoint `from`, and
// the stopping rules with them (patience counts from its best).
void restore_evaluations(scheduler_pointer self, const job_checkpoint& from) {
  auto& st = self->state;
  auto& evals = st.result.evaluations;
  evals = from.evaluations;
  st.batches = from.batches;
  auto every = st.spec().opts.validation.every;
  st.next_eval = every > 0 ? (st.batches / every + 1) * every : 0;
  st.rule = stop_rule{st.spec().opts.validation};
  for (auto& e : evals)
    st.rule.record(e.accuracy);
}

// Shard `s` stopped for `reason` while the job ran with checkpoints: the
// workers are halted, a replacement is spawned (or awaited: a server node
// joining), and once it registered every shard goes back to the last
// checkpoint and the run goes on from there (continue_recovery).
void begin_recovery(
  scheduler_pointer self, uint32_t s, const caf::error& reason) {
  auto& st = self->state;
  auto& rec = st.recovery;
  auto& shard = st.shards[s];
  shard.lost = true;
  shard.lost_at = clock_type::now();
  if (std::find(rec.shards.begin(), rec.shards.end(), s) == rec.shards.end())
    rec.shards.push_back(s);
  // Restoring or telling the workers, if under way, starts over once this
  // one is replaced too.
  ++rec.step;
  rec.busy = false;
  detail::log(
    self, "server shard " + std::to_string(s)
            + (shard.remote ? " on node " + shard.node : std::string{})
            + " stopped (" + self->system().render(reason)
            + "); restoring it from the last checkpoint");
  if (!rec.active) {
    rec.active = true;
    rec.began = clock_type::now();
    rec.epoch = st.epoch;
    ++st.generation;
    st.starting = st.committing = st.ending = false;
    // A cut or an evaluation under way is given up: every worker halts
    // anyway.
    st.cut = cut_state{};
    st.evaluating = false;
    release_eval_waiters(self);
    try {
      rec.from = restore_point(self);
    } catch (const std::exception& e) {
      finish(self, make_error(errc::job_failed,
                     "server shard " + std::to_string(s)
                       + " stopped and cannot be restored: " + e.what()));
      return;
    }
    // Every worker drops the epoch's work in flight and waits; its answer
    // is its clock, the fence of its abandoned pushes.
    auto gen = st.generation;
    rec.fences.assign(st.slots.size(), 0);
    for (uint32_t w = 0; w < st.slots.size(); ++w) {
      auto& slot = st.slots[w];
      rec.fences[w] = slot.clock;
      slot.active = false;
      slot.clock_wait = false;
      slot.plan_wait = false;
      if (!slot.live)
        continue;
      ++rec.halts;
      auto handle = slot.handle;
      auto answered = [=] {
        auto& st = self->state;
        if (st.generation != gen || st.over)
          return;
        --st.recovery.halts;
        continue_recovery(self);
      };
      self
        ->request(handle, ms(st.spec().timeouts.control_ms), halt_atom::value,
          st.spec().job)
        .then(
          [=](uint64_t clock) {
            auto& fences = self->state.recovery.fences;
            if (w < fences.size())
              fences[w] = std::max(fences[w], clock);
            answered();
          },
          [=](caf::error& err) {
            // A worker that does not answer may still push: it is stopped,
            // and dropped as a lost worker.
            if (err == caf::sec::request_timeout)
              self->send_exit(handle, err);
            answered();
          });
    }
  }
  if (st.cfg.respawn) {
    ++rec.to_spawn;
    continue_recovery(self);
  } else {
    detail::log(self, "waiting for a server node to join and replace shard "
                        + std::to_string(s) + " (at most "
                        + std::to_string(st.spec().timeouts.control_ms)
                        + " ms)");
    self->delayed_send(
      self, ms(st.spec().timeouts.control_ms), deadline_atom::value, true);
  }
}

// A replacement registered for lost shard `id`: it gets the slice the
// checkpoint holds and the roster.
void take_replacement(scheduler_pointer self, uint32_t id,
  server_shard_actor handle, const registration& reg, bool remote) {
  auto& st = self->state;
  auto& slot = st.shards[id];
  slot = shard_slot{handle, reg.node, reg.shares_memory, remote, reg.endpoint};
  slot.lost = false;
  ++st.recovery.rostering;
  self->monitor(handle);
  self->send(handle, slice_for(st, id, st.recovery.from.get()));
  auto gen = st.generation;
  self
    ->request(handle, ms(st.spec().timeouts.control_ms), roster_atom::value,
      roster_of(st))
    .then(
      [=](uint64_t) {
        auto& st = self->state;
        if (st.generation != gen || st.over)
          return;
        --st.recovery.rostering;
        continue_recovery(self);
      },
      [=](caf::error& err) {
        auto& st = self->state;
        if (st.generation != gen || st.over)
          return;
        if (err == caf::sec::request_receiver_down) {
          // It died too: its down message marked it lost again.
          --st.recovery.rostering;
          continue_recovery(self);
          return;
        }
        finish(self, make_error(errc::job_failed,
                       "the replacement of server shard " + std::to_string(id)
                         + " did not take its roster ("
                         + self->system().render(err) + ")"));
      });
}

// Goes on with a recovery once every worker halted and every lost shard
// was replaced: every shard back to the checkpoint, every worker told of
// the replacements, then the epoch after the checkpoint starts again.
void continue_recovery(scheduler_pointer self) {
  auto& st = self->state;
  auto& rec = st.recovery;
  if (rec.active && !st.over && rec.halts == 0 && rec.to_spawn > 0) {
    for (; rec.to_spawn > 0; --rec.to_spawn)
      st.cfg.respawn(caf::actor_cast<scheduler_actor>(self));
    return; // the replacements' registrations go on from here
  }
  if (!rec.active || st.over || rec.busy || rec.halts > 0 || rec.rostering > 0
      || std::any_of(
        st.shards.begin(), st.shards.end(), [](const shard_slot& s) {
          return s.lost;
        }))
    return;
  rec.busy = true;
  auto gen = st.generation;
  auto step = rec.step;
  // Whether this step still counts: no shard was lost since it began.
  auto current = [=] {
    auto& st = self->state;
    return st.generation == gen && !st.over && st.recovery.step == step;
  };
  auto left = std::make_shared<size_t>(st.shards.size());
  auto restored = [=] {
    auto& st = self->state;
    if (!current() || --*left > 0)
      return;
    // Every live worker learns of every replacement.
    auto& rec = st.recovery;
    auto moves = std::make_shared<size_t>(0);
    auto moved = [=] {
      auto& st = self->state;
      if (!current() || --*moves > 0)
        return;
      auto& rec = st.recovery;
      auto& from = rec.from->job;
      size_t back = from.epochs_done;
      double secs
        = std::chrono::duration<double>(clock_type::now() - rec.began).count();
      std::string which;
      for (auto s : rec.shards)
        which += (which.empty() ? "" : ", ") + std::to_string(s);
      char took[32];
      std::snprintf(took, sizeof took, "%.3f", secs);
      bool initial = back == 0 && from.positions.empty();
      detail::log(self,
        "server shard " + which + " restored from "
          + (initial ? std::string{"the initial model"}
                     : "the checkpoint " + cut_name(from))
          + "; epochs " + std::to_string(back + 1) + " to "
          + std::to_string(rec.epoch + 1)
          + " are trained again from there (the updates since were lost); "
            "recovery took "
          + took + " s");
      // The workers go on from their positions at the cut, if their
      // partitions are still those of the cut.
      st.carry.clear();
      if (!from.positions.empty()) {
        if (st.parts_changes == st.parts_changes_at_cut) {
          st.carry = from.positions;
          st.carry_elapsed_s = from.epoch_elapsed_s;
        } else {
          detail::log(self, "partitions changed since the checkpoint: epoch "
                              + std::to_string(back + 1)
                              + " is trained from its start");
        }
      }
      st.shards_restored += rec.shards.size();
      st.recovery_s += secs;
      if (st.result.history.size() > back)
        st.result.history.resize(back);
      restore_evaluations(self, from);
      rec = recovery_state{};
      for (auto& slot : st.slots) {
        slot.epoch_clock = 0;
        slot.late_until = slot.clock;
        slot.plan_wait = slot.live;
      }
      start_epoch(self, back);
    };
    for (auto& slot : st.slots)
      if (slot.live)
        *moves += rec.shards.size();
    if (*moves == 0) {
      ++*moves;
      moved();
      return;
    }
    for (auto& slot : st.slots) {
      if (!slot.live)
        continue;
      for (auto s : rec.shards) {
        auto handle = slot.handle;
        self
          ->request(handle, ms(st.spec().timeouts.control_ms),
            shard_moved{
              st.spec().job, s, st.shards[s].handle, st.shards[s].endpoint})
          .then(moved, [=](caf::error& err) {
            // A worker that cannot reach the replacement is stopped with
            // that error, and dropped as a lost worker.
            if (self->state.generation == gen)
              self->send_exit(handle, err);
            moved();
          });
      }
    }
  };
  for (uint32_t s = 0; s < st.shards.size(); ++s) {
    self
      ->request(st.shards[s].handle, ms(st.spec().timeouts.control_ms),
        restore_atom::value, slice_for(st, s, rec.from.get()))
      .then(
        [=](uint64_t) {
          restored();
        },
        [=](caf::error& err) {
          if (self->state.generation == gen
              && err != caf::sec::request_receiver_down)
            finish(self, make_error(errc::job_failed,
                           "server shard " + std::to_string(s)
                             + " could not go back to the checkpoint ("
                             + self->system().render(err) + ")"));
        });
  }
}

// Hands lost worker `w`'s partition to the live workers (round robin, in
// id order): the rows it had not trained in the current epoch (if it was
// training one) to those still training it, the rest from the next epoch
// on. Which rows it had trained is counted from its finished clocks.
void hand_over(scheduler_pointer self, uint32_t w, bool was_active) {
  auto& st = self->state;
  auto& spec = st.spec();
  auto part = std::exchange(st.parts[w], {});
  std::vector<uint32_t> heirs;
  for (uint32_t i = 0; i < st.slots.size(); ++i)
    if (st.slots[i].live)
      heirs.push_back(i);
  if (part.empty() || heirs.empty())
    return;
  std::vector<bool> left(spec.data.rows, false);
  size_t untrained = 0;
  // In place (hogwild) a worker reports no clocks, so which rows it trained
  // is unknown: its rows go to the others from the next epoch on only.
  if (was_active && !rules_of(st.mode.mode).in_place) {
    auto order = part;
    shuffle_epoch(order, spec.opts.seed, w, st.epoch);
    uint64_t per_unit = spec.freq == update_frequency::batch
                          ? spec.opts.batch_size
                        : spec.freq == update_frequency::nbatches
                          ? spec.opts.batch_size * spec.nbatches
                          : order.size();
    size_t done
      = std::min<uint64_t>(order.size(), st.slots[w].epoch_clock * per_unit);
    for (size_t i = done; i < order.size(); ++i)
      left[order[i]] = true;
    untrained = order.size() - done;
  }
  std::sort(part.begin(), part.end());
  // Partitions may overlap (overlap_reshuffle): a row goes to the next heir
  // that does not hold it yet, and to nobody if every heir does.
  std::vector<std::vector<bool>> holds(heirs.size());
  for (size_t h = 0; h < heirs.size(); ++h) {
    holds[h].assign(spec.data.rows, false);
    for (auto r : st.parts[heirs[h]])
      if (r < spec.data.rows)
        holds[h][r] = true;
  }
  std::vector<row_handover> handovers(heirs.size());
  size_t handed = 0, next = 0;
  for (auto r : part) {
    if (r >= spec.data.rows)
      continue;
    for (size_t k = 0; k < heirs.size(); ++k) {
      auto h = (next + k) % heirs.size();
      if (holds[h][r])
        continue;
      bool now = left[r] && st.slots[heirs[h]].active;
      (now ? handovers[h].now : handovers[h].later).push_back(r);
      st.parts[heirs[h]].push_back(r);
      holds[h][r] = true;
      next = h + 1;
      ++handed;
      break;
    }
  }
  for (size_t h = 0; h < heirs.size(); ++h) {
    handovers[h].job = spec.job;
    self->send(st.slots[heirs[h]].handle, std::move(handovers[h]));
  }
  st.rows_reassigned += handed;
  st.epoch_disturbed = true;
  if (handed > 0)
    ++st.parts_changes;
  detail::log(self,
    "worker " + std::to_string(w) + "'s " + std::to_string(handed) + " rows ("
      + std::to_string(untrained) + " not yet trained this epoch) handed to "
      + std::to_string(heirs.size()) + " workers");
}

// A worker registered while the job runs and worker `w` is dead (its node
// restarted, say): it takes `w`'s place and what is left of its partition.
// The shards learn of it first (they refuse a push from an actor not in
// their roster, and forget the old actor's clocks), then it gets its slice,
// and its first plan at the next epoch.
void take_worker_replacement(scheduler_pointer self, uint32_t w,
  worker_actor handle, const registration& reg, bool remote) {
  auto& st = self->state;
  worker_slot slot;
  slot.handle = handle;
  slot.node = reg.node;
  slot.shares_memory = reg.shares_memory;
  slot.remote = remote;
  st.slots[w] = std::move(slot);
  self->monitor(handle);
  st.epoch_disturbed = true;
  ++st.parts_changes;
  // Hogwild! in place needs every actor on the scheduler's node.
  auto& first = st.shards.front().node;
  st.in_process &= reg.shares_memory && !remote && reg.node == first;
  detail::log(self, "worker " + std::to_string(w) + " rejoined"
                      + (remote ? " from node " + reg.node : std::string{})
                      + " with " + std::to_string(st.parts[w].size())
                      + " rows; it trains from the next epoch on");
  // Not ask_shards: a shard lost meanwhile must not leave the slot waiting
  // for ever (its epoch end waits for it); its replacement gets the new
  // roster anyway.
  auto left = std::make_shared<size_t>(st.shards.size());
  auto rostered = [=] {
    if (--*left > 0)
      return;
    {
      auto& st = self->state;
      auto& spec = st.spec();
      if (st.over || !st.slots[w].live || st.slots[w].handle != handle)
        return;
      self
        ->request(handle, ms(spec.timeouts.control_ms), worker_slice_for(st, w))
        .then(
          [=] {
            auto& st = self->state;
            auto& slot = st.slots[w];
            if (st.over || !slot.live || slot.handle != handle)
              return;
            slot.ready = true;
            slot.plan_wait = true;
            check_epoch_end(self);
          },
          [=](caf::error& err) {
            if (!self->state.over)
              self->send_exit(handle, std::move(err));
          });
    }
  };
  for (auto& shard : st.shards)
    self
      ->request(shard.handle, ms(st.spec().timeouts.control_ms),
        roster_atom::value, roster_of(st))
      .then(
        [=](uint64_t) {
          rostered();
        },
        [=](caf::error&) {
          rostered();
        });
}

// Takes a registration from the current sender.
caf::result<void> take_registration(
  scheduler_pointer self, const registration& reg) {
  auto& st = self->state;
  auto& spec = st.spec();
  auto sender = self->current_sender();
  auto refuse = [&](errc code, std::string why) {
    ++st.refused;
    detail::log(self, "refused a registration: " + why);
    return make_error(code, why);
  };
  if (!sender)
    return refuse(errc::bad_sender, "registration without a sender");
  if (st.over)
    return refuse(errc::out_of_order, "the job is over");
  if (reg.protocol != protocol_version || reg.version != runtime_version())
    return refuse(errc::bad_version,
      "peer on node \"" + reg.node + "\" runs "
        + (reg.version.empty() ? "an unknown release" : reg.version)
        + " with protocol " + std::to_string(reg.protocol)
        + "; this scheduler runs " + runtime_version() + " with protocol "
        + std::to_string(protocol_version));
  if (!st.cfg.secret.empty()) {
    // The proof must answer the nonce this very actor was given.
    auto it
      = std::find_if(st.nonces.begin(), st.nonces.end(), [&](auto& entry) {
          return entry.first == sender;
        });
    bool ok = it != st.nonces.end()
              && check_proof(st.cfg.secret, it->second, reg.proof);
    if (it != st.nonces.end())
      st.nonces.erase(it);
    if (!ok)
      return refuse(errc::bad_sender, "peer on node \"" + reg.node
                                        + "\" did not prove it holds the "
                                          "cluster secret");
  }
  bool remote = sender->node() != self->node();
  auto taken = [&](const auto& handle) {
    return sent_by(self, handle);
  };
  if (std::any_of(st.shards.begin(), st.shards.end(),
        [&](auto& s) {
          return taken(s.handle);
        })
      || std::any_of(st.slots.begin(), st.slots.end(), [&](auto& w) {
           return taken(w.handle);
         }))
    return refuse(errc::out_of_order, "the sender is registered already");
  if (reg.role == node_role::server) {
    if (st.recovery.active) {
      for (uint32_t id = 0; id < st.shards.size(); ++id)
        if (st.shards[id].lost) {
          take_replacement(
            self, id, caf::actor_cast<server_shard_actor>(sender), reg, remote);
          return caf::unit;
        }
    }
    if (st.shards.size() >= spec.shards)
      return refuse(errc::out_of_order,
        "the job has all its " + std::to_string(spec.shards) + " shards");
    auto id = static_cast<uint32_t>(st.shards.size());
    auto handle = caf::actor_cast<server_shard_actor>(sender);
    st.shards.push_back(
      shard_slot{handle, reg.node, reg.shares_memory, remote, reg.endpoint});
    self->monitor(handle);
    self->send(handle, slice_for(st, id, st.cfg.resume.get()));
  } else {
    if (st.started) {
      for (uint32_t w = 0; w < st.slots.size(); ++w)
        if (!st.slots[w].live) {
          take_worker_replacement(
            self, w, caf::actor_cast<worker_actor>(sender), reg, remote);
          return caf::unit;
        }
    }
    if (st.slots.size() >= spec.workers)
      return refuse(errc::out_of_order,
        "the job has all its " + std::to_string(spec.workers) + " workers");
    worker_slot slot;
    slot.handle = caf::actor_cast<worker_actor>(sender);
    slot.node = reg.node;
    slot.shares_memory = reg.shares_memory;
    slot.remote = remote;
    slot.plan_wait = true; // it waits for its first plan
    self->monitor(slot.handle);
    st.slots.push_back(std::move(slot));
  }
  if (st.shards.size() == spec.shards && st.slots.size() == spec.workers)
    hand_out(self);
  return caf::unit;
}

// A lost shard no replacement joined for within the control timeout, if
// any (each loss has its own deadline).
std::optional<uint32_t> overdue_shard(const scheduler_state& st) {
  if (!st.recovery.active)
    return std::nullopt;
  auto now = clock_type::now();
  for (uint32_t s = 0; s < st.shards.size(); ++s)
    if (st.shards[s].lost
        && now - st.shards[s].lost_at >= ms(st.spec().timeouts.control_ms))
      return s;
  return std::nullopt;
}

// Whether the current message comes from the worker registered as `w`;
// counts it if not.
caf::error check_worker(scheduler_pointer self, uint32_t w, const char* what) {
  auto& st = self->state;
  if (w < st.slots.size() && sent_by(self, st.slots[w].handle))
    return st.over ? make_error(errc::out_of_order, std::string{what}
                                                      + " after the job "
                                                        "ended")
                   : caf::error{};
  ++st.refused;
  return make_error(errc::bad_sender, std::string{what} + " naming worker "
                                        + std::to_string(w)
                                        + " from an actor not registered "
                                          "under that id");
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
  slot.clock_wait = false;
  if (st.cut.holding) {
    // A checkpoint cut waits for every worker's clock boundary: this one
    // stays here until it is taken.
    st.cut.held.push_back(static_cast<uint32_t>(w));
    return;
  }
  self->send(slot.handle, grant_atom::value, st.spec().job, slot.clock);
}

void commit(scheduler_pointer self, std::vector<uint32_t> included,
  std::vector<uint32_t> late) {
  auto& st = self->state;
  st.committing = true;
  commit_request req;
  req.job = st.spec().job;
  req.round = ++st.round;
  req.workers = included;
  // The epoch's rate, scaled with the workers this commit averages and
  // warmed up over the first epochs. Progress in epochs comes from the
  // epoch and its clocks (not a count since the start), so that a resumed
  // run gets the same rates.
  auto& opts = st.spec().opts;
  // The clocks finished before this one: the first commit of a run is at
  // 0 epochs.
  uint64_t in_epoch = 0;
  for (uint32_t w = 0; w < st.slots.size(); ++w)
    in_epoch += st.slots[w].epoch_clock * unit_batches(st, w);
  for (auto w : included)
    in_epoch -= std::min(in_epoch, unit_batches(st, w));
  double progress
    = static_cast<double>(st.epoch)
      + (st.epoch_batches > 0 ? static_cast<double>(in_epoch) / st.epoch_batches
                              : 0.0);
  req.lr = static_cast<float>(
    opts.schedule.at(st.epoch)
    * lr_factor(opts.scaling, included.size(), opts.warmup_epochs, progress));
  st.last_lr = req.lr;
  for (auto w : late) {
    // The push this worker is computing (its next clock) is late.
    auto& slot = st.slots[w];
    slot.late_until = slot.clock + 1;
    req.late.push_back(w);
    req.late.push_back(slot.late_until);
  }
  ask_shards<uint64_t>(
    self, ms(st.spec().timeouts.control_ms), [](uint32_t, uint64_t&) {},
    [=] {
      auto& st = self->state;
      st.committing = false;
      for (auto w : included)
        if (st.slots[w].clock_wait)
          grant(self, w);
      st.release();
      check_epoch_end(self);
      maybe_cut(self);
      maybe_evaluate(self);
    },
    commit_atom::value, req);
}

scheduler_internal::behavior_type scheduler_behavior(
  scheduler_pointer self, std::function<void()> release) {
  self->state.release = std::move(release);
  return {
    [=](hello_atom) -> caf::result<std::string> {
      auto& st = self->state;
      auto sender = self->current_sender();
      if (!sender)
        return make_error(errc::bad_sender, "hello without a sender");
      // Strangers may ask as often as they like: the oldest nonces make
      // room, so this never grows past a few per actor of the job.
      size_t cap = 2 * (st.spec().shards + st.spec().workers) + 16;
      std::erase_if(st.nonces, [&](auto& entry) {
        return entry.first == sender;
      });
      if (st.nonces.size() >= cap)
        st.nonces.erase(st.nonces.begin());
      auto nonce = new_nonce();
      st.nonces.emplace_back(sender, nonce);
      return nonce;
    },
    [=](register_atom, const registration& reg) -> caf::result<void> {
      return take_registration(self, reg);
    },
    [=](clock_atom, uint32_t w, uint64_t c) -> caf::result<void> {
      if (auto err = check_worker(self, w, "clock request"))
        return err;
      auto& st = self->state;
      if (st.recovery.active)
        return caf::unit; // sent before the worker was halted
      auto& slot = st.slots[w];
      if (slot.clock_wait || !slot.active)
        return make_error(errc::out_of_order,
          "worker " + std::to_string(w) + " asked for a clock out of turn");
      slot.clock = c;
      ++slot.epoch_clock;
      slot.clock_wait = true;
      st.batches += unit_batches(st, w);
      if (cut_due(st, clock_type::now()))
        st.cut.holding = true;
      st.release();
      maybe_cut(self);
      maybe_evaluate(self);
      return caf::unit;
    },
    [=](epoch_atom, epoch_report& r) -> caf::result<void> {
      if (auto err = check_worker(self, r.worker, "epoch report"))
        return err;
      auto& st = self->state;
      if (st.recovery.active)
        return caf::unit; // sent before the worker was halted
      auto& slot = st.slots[r.worker];
      if (!slot.active || r.job != st.spec().job)
        return make_error(errc::out_of_order,
          "epoch report of inactive worker " + std::to_string(r.worker));
      slot.active = false;
      slot.clock = r.clock;
      slot.report = r;
      slot.plan_wait = true;
      st.release(); // the active set shrank
      maybe_cut(self);
      check_epoch_end(self);
      return caf::unit;
    },
    [=](progress_atom, const progress_report& p) -> caf::result<void> {
      if (auto err = check_worker(self, p.worker, "progress report"))
        return err;
      auto& st = self->state;
      st.progress.rows += p.rows;
      st.progress.loss_sum += p.loss_sum;
      st.progress_changed = true;
      if (rules_of(st.mode.mode).in_place && st.started) {
        // Hogwild! has no clocks: its batches are counted from progress.
        auto b = st.spec().opts.batch_size;
        st.batch_rows += p.rows;
        st.batches += st.batch_rows / b;
        st.batch_rows %= b;
        maybe_evaluate(self);
        if (st.evaluating && self->current_message_id().is_request()) {
          // A worker that asked (its report made an evaluation due) waits
          // for the evaluation. A timed report is a plain send: a promise
          // for it would send the worker an empty message.
          st.eval_waiters.push_back(self->make_response_promise());
          return caf::delegated<void>{};
        }
      }
      return caf::unit;
    },
    [=](run_atom) -> caf::result<void> {
      auto& st = self->state;
      if (st.driver)
        return make_error(errc::out_of_order, "the job runs already");
      st.driver = caf::actor_cast<caf::actor>(self->current_sender());
      if (!st.driver)
        return make_error(errc::bad_sender, "run without a sender");
      maybe_start(self);
      return caf::unit;
    },
    [=](tick_atom) -> caf::result<void> {
      auto& st = self->state;
      if (!sent_by(self, self)) {
        ++st.refused;
        return make_error(errc::bad_sender, "tick is internal to the "
                                            "scheduler");
      }
      if (st.progress_changed) {
        st.progress_changed = false;
        caf::anon_send(st.driver, st.progress);
      }
      self->delayed_send(self, ms(st.spec().progress_ms), tick_atom::value);
      return caf::unit;
    },
    [=](deadline_atom, bool joining) -> caf::result<void> {
      auto& st = self->state;
      if (!sent_by(self, self)) {
        ++st.refused;
        return make_error(errc::bad_sender, "deadline is internal to the "
                                            "scheduler");
      }
      if (!joining) {
        // The job ended well; whoever has not stopped by now is gone.
        self->quit(caf::exit_reason::normal);
      } else if (auto late = overdue_shard(st); !st.over && late) {
        finish(
          self, make_error(errc::job_failed,
                  "no server node joined to replace lost shard "
                    + std::to_string(*late) + " in "
                    + std::to_string(st.spec().timeouts.control_ms) + " ms"));
      } else if (!st.over && !st.started
                 && (st.shards.size() < st.spec().shards
                     || st.slots.size() < st.spec().workers)) {
        finish(self, make_error(errc::job_failed,
                       std::to_string(st.shards.size()) + " of "
                         + std::to_string(st.spec().shards) + " shards and "
                         + std::to_string(st.slots.size()) + " of "
                         + std::to_string(st.spec().workers)
                         + " workers registered in the join timeout ("
                         + seconds_text(st.cfg.join_timeout) + ")"));
      }
      return caf::unit;
    },
  };
}

} // namespace detail

scheduler_internal::behavior_type scheduler(
  scheduler_pointer self, scheduler_config cfg) {
  auto& st = self->state;
  try {
    validate(cfg.spec);
  } catch (const std::invalid_argument& e) {
    // A job it cannot run: the scheduler stops at once, saying why, to
    // whoever monitors it (the driver, the registering actors).
    st.cfg = std::move(cfg);
    self->quit(
      make_error(errc::bad_shape, std::string{"invalid job: "} + e.what()));
    return behavior_of(self, mode_setting{consistency::asp, 0});
  }
  st.net = make_model(cfg.spec.opts.model);
  st.eval_params = parameter_set{st.net->shapes()};
  st.val_params = parameter_set{st.net->shapes()};
  st.rule = stop_rule{cfg.spec.opts.validation};
  st.next_eval = cfg.spec.opts.validation.every;
  parameter_set init{st.net->shapes()};
  st.net->initialize(init, cfg.spec.opts.seed);
  st.init.assign(init.flat().begin(), init.flat().end());
  st.map = shard_map::make(st.net->shapes(), cfg.spec.shards);
  if (auto& r = cfg.resume) {
    // The model as the checkpoint left it, and the metrics so far.
    for (uint32_t s = 0; s < r->shards.size() && s < cfg.spec.shards; ++s) {
      auto& values = r->shards[s].values;
      if (values.size() != st.map.sizes[s]) {
        st.cfg = std::move(cfg);
        self->quit(make_error(errc::bad_shape,
          "invalid job: the checkpoint's shard " + std::to_string(s) + " holds "
            + std::to_string(values.size()) + " values, not "
            + std::to_string(st.map.sizes[s])));
        return behavior_of(self, mode_setting{consistency::asp, 0});
      }
      st.map.scatter(s, values.data(), st.init.data());
    }
    st.result.history = r->job.history;
    st.checkpoint_sequence = r->job.sequence;
  }
  st.mode
    = mode_at(cfg.spec.modes, cfg.resume ? cfg.resume->job.epochs_done + 1 : 1);
  st.progress.job = cfg.spec.job;
  st.result.job = cfg.spec.job;
  st.cfg = std::move(cfg);
  // An error message is not a reply to anything the scheduler waits for
  // (it waits for replies through their own handlers), so it is a peer
  // refusing something the scheduler sent it (a slice, a plan, a grant).
  // A worker that refuses is stopped with that error, which drops it as a
  // lost worker (the down handler below); a shard that refuses leaves no
  // consistent model, so the job ends naming it. One from anyone else is
  // counted and dropped instead of ending the job, CAF's default.
  self->set_error_handler([=](caf::error& err) {
    auto& st = self->state;
    ++st.refused;
    if (st.over)
      return;
    for (uint32_t s = 0; s < st.shards.size(); ++s) {
      auto& shard = st.shards[s];
      if (shard.live && sent_by(self, shard.handle)) {
        finish(self,
          make_error(errc::job_failed,
            "server shard " + std::to_string(s)
              + (shard.remote ? " on node " + shard.node : std::string{})
              + " refused the scheduler (" + self->system().render(err) + ")"));
        return;
      }
    }
    for (auto& slot : st.slots) {
      if (slot.live && sent_by(self, slot.handle)) {
        self->send_exit(slot.handle, std::move(err));
        return;
      }
    }
  });
  // A lost shard leaves no consistent model: the run ends, naming it. A
  // lost worker is dropped from every barrier.
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    for (uint32_t s = 0; s < st.shards.size(); ++s) {
      auto& shard = st.shards[s];
      if (!shard.live || msg.source != shard.handle.address())
        continue;
      shard.live = false;
      if (st.over)
        continue;
      if (st.started && !st.cfg.checkpoint_dir.empty()) {
        begin_recovery(self, s, msg.reason);
        continue;
      }
      finish(
        self, make_error(errc::job_failed,
                "server shard " + std::to_string(s)
                  + (shard.remote ? " on node " + shard.node : std::string{})
                  + " stopped (" + self->system().render(msg.reason) + ")"));
    }
    for (uint32_t w = 0; w < st.slots.size(); ++w) {
      auto& slot = st.slots[w];
      if (!slot.live || msg.source != slot.handle.address())
        continue;
      bool was_active = slot.active;
      slot.live = false;
      slot.active = false;
      slot.clock_wait = false;
      slot.plan_wait = false;
      if (st.over)
        continue;
      ++st.lost_workers;
      st.epoch_disturbed = true;
      if (msg.reason) {
        st.last_loss = "worker " + std::to_string(w) + ": "
                       + self->system().render(msg.reason);
        auto live = std::count_if(
          st.slots.begin(), st.slots.end(), [](const worker_slot& s) {
            return s.live;
          });
        detail::log(
          self, "worker " + std::to_string(w)
                  + (slot.remote ? " on node " + slot.node : std::string{})
                  + " died (" + self->system().render(msg.reason)
                  + "); going on with " + std::to_string(live) + " of "
                  + std::to_string(st.slots.size()) + " workers");
      }
      if (st.started && st.cfg.on_worker_loss == worker_loss_policy::reassign)
        hand_over(self, w, was_active && !st.recovery.active);
      if (!st.recovery.active) {
        st.release();
        if (st.cut.holding) {
          // A cut with a worker lost is given up (or, if its positions
          // were asked, its answer fails and gives it up).
          if (!st.cut.taking)
            release_cut(self);
        } else {
          check_epoch_end(self);
        }
      }
      // The job may have waited for this worker's answer to its slice.
      maybe_start(self);
    }
    if (st.over && still_running(st) == 0)
      self->quit(caf::exit_reason::normal);
  });
  if (st.cfg.join_timeout.count() > 0)
    self->delayed_send(self, st.cfg.join_timeout, deadline_atom::value, true);
  return behavior_of(self, st.mode);
}

} // namespace paramserv
