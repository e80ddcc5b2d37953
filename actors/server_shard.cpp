#include "actors/server_shard.hpp"

#include <cmath>
#include <cstring>
#include <string>

#include "actors/join.hpp"
#include "actors/sender.hpp"
#include "linalg/core/finite.hpp"
#include "messages/errc.hpp"

namespace paramserv {

namespace {

std::string who(const server_shard_state& st) {
  return "shard " + std::to_string(st.id);
}

// Refuses (and counts) a message before the slice, of another job, or not
// from the scheduler.
caf::error check_scheduler(
  server_shard_pointer self, uint64_t job, const char* what) {
  auto& st = self->state;
  if (!sent_by(self, st.cfg.scheduler)) {
    ++st.stats.rejected;
    return make_error(errc::bad_sender, std::string{what} + " to " + who(st)
                                          + " from an actor other than the "
                                            "scheduler");
  }
  if (!st.has_slice)
    return make_error(errc::out_of_order, std::string{what}
                                            + " before the "
                                              "slice");
  if (job != st.job)
    return make_error(errc::wrong_job,
      std::string{what} + " of job " + std::to_string(job) + " to " + who(st));
  return {};
}

// Refuses (and counts) a message naming worker `w` that does not come from
// the actor registered under that id.
caf::error check_worker(
  server_shard_pointer self, uint64_t job, uint32_t w, const char* what) {
  auto& st = self->state;
  if (!st.has_slice)
    return make_error(errc::out_of_order, std::string{what}
                                            + " before the "
                                              "slice");
  if (job != st.job) {
    ++st.stats.rejected;
    return make_error(errc::wrong_job,
      std::string{what} + " of job " + std::to_string(job) + ", " + who(st)
        + " serves job " + std::to_string(st.job));
  }
  if (w >= st.roster.size() || !sent_by(self, st.roster[w])) {
    ++st.stats.rejected;
    return make_error(errc::bad_sender, std::string{what} + " naming worker "
                                          + std::to_string(w)
                                          + " from an actor not registered "
                                            "under that id");
  }
  return {};
}

// Checks a push's contents; the model is untouched by a bad one.
caf::error check_push(const server_shard_state& st, const gradient_push& p) {
  if (p.rows == 0)
    return make_error(errc::bad_shape, "push of zero rows");
  if (p.values.size() != st.mem->values.size())
    return make_error(errc::bad_shape,
      "push of " + std::to_string(p.values.size()) + " values to " + who(st)
        + ", which owns " + std::to_string(st.mem->values.size()));
  if (!all_finite(p.values.get()))
    return make_error(errc::not_finite, "push holds a NaN or infinity");
  auto now = st.mem->version.load(std::memory_order_relaxed);
  if (p.version > now)
    return make_error(errc::bad_version,
      "push computed from version " + std::to_string(p.version) + " of "
        + who(st) + ", which is at " + std::to_string(now));
  return {};
}

// Records (and returns) the staleness of an update computed from version
// `pulled`: the updates applied since.
uint64_t record_staleness(server_shard_state& st, uint64_t pulled) {
  uint64_t now = st.mem->version.load(std::memory_order_relaxed);
  uint64_t staleness = now > pulled ? now - pulled : 0;
  ++st.stats.measured;
  st.stats.staleness_sum += static_cast<double>(staleness);
  st.stats.max_staleness = std::max(st.stats.max_staleness, staleness);
  return staleness;
}

void apply_update(
  server_shard_state& st, const std::vector<float>& gradient, float lr) {
  st.mem->opt->update(st.mem->values, gradient, lr);
  st.mem->version.fetch_add(1, std::memory_order_relaxed);
  ++st.stats.updates;
}

uint64_t version(const server_shard_state& st) {
  return st.mem->version.load(std::memory_order_relaxed);
}

// Pushes up to each worker's fence count as received and applied: they
// are in the restored state (a checkpoint cut) or belong to abandoned work
// (a push of it that arrives late is acknowledged, never applied).
void fence(server_shard_state& st, const std::vector<uint64_t>& fences) {
  for (size_t w = 0; w < fences.size() && w < st.received.size(); ++w) {
    st.received[w] = std::max(st.received[w], fences[w]);
    st.applied[w] = std::max(st.applied[w], fences[w]);
  }
}

// Whether every push a checkpoint waits for was received.
bool received_all(
  const server_shard_state& st, const std::vector<uint64_t>& clocks) {
  for (size_t w = 0; w < clocks.size(); ++w)
    if (w >= st.received.size() || st.received[w] < clocks[w])
      return false;
  return true;
}

// The shard's state for a checkpoint; refused if a push waits for a commit
// (the cut would lose it).
caf::expected<shard_state> state_of(const server_shard_state& st) {
  for (auto& p : st.pending)
    if (p)
      return make_error(
        errc::out_of_order, who(st) + " holds a push waiting for its commit");
  shard_state result;
  result.job = st.job;
  result.id = st.id;
  result.version = version(st);
  result.values = st.mem->values;
  try {
    auto opt = st.mem->opt->state();
    result.steps = opt.steps;
    result.arrays = std::move(opt.arrays);
  } catch (const std::invalid_argument& e) {
    return make_error(errc::unsupported, who(st) + ": " + e.what());
  }
  return result;
}

// Answers a waiting checkpoint request once its pushes were received.
void answer_cut(server_shard_state& st) {
  if (!st.cut || !received_all(st, st.cut_received))
    return;
  auto promise = std::move(*st.cut);
  st.cut.reset();
  auto state = state_of(st);
  if (state)
    promise.deliver(std::move(*state));
  else
    promise.deliver(state.error());
}

void take_slice(server_shard_state& st, shard_slice& slice) {
  st.job = slice.job;
  st.id = slice.id;
  st.mem = std::make_shared<shard_memory>();
  st.mem->opt = make_optimizer(slice.optimizer, slice.values.size());
  if (slice.steps > 0 || !slice.state.empty())
    st.mem->opt->restore(optimizer_state{slice.steps, std::move(slice.state)});
  st.mem->version.store(slice.version, std::memory_order_relaxed);
  st.mem->values = std::move(slice.values);
  st.pending.resize(slice.workers);
  st.drop_until.assign(slice.workers, 0);
  st.applied.assign(slice.workers, 0);
  st.received.assign(slice.workers, 0);
  fence(st, slice.fences);
  st.dice = fault_dice{st.cfg.faults, true, st.id};
  auto& node = st.cfg.node;
  if (node && node->board && st.id < node->board->shards.size())
    node->board->shards[st.id] = st.mem;
  st.has_slice = true;
}

} // namespace

server_shard_internal::behavior_type server_shard(
  server_shard_pointer self, shard_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  self->monitor(st.cfg.scheduler);
  self->set_down_handler([=](caf::down_msg& msg) {
    if (msg.source == self->state.cfg.scheduler.address())
      self->quit(msg.reason);
  });
  // An error message from the scheduler refuses the shard's registration:
  // it stops, with that error. A shard sends no other requests, so an
  // error message from anyone else is meant for nothing: it is counted and
  // dropped instead of stopping the shard (CAF's default).
  self->set_error_handler([=](caf::error& err) {
    if (sent_by(self, self->state.cfg.scheduler))
      self->quit(err);
    else
      ++self->state.stats.rejected;
  });
  register_with(self, st.cfg.scheduler, node_role::server, st.cfg.node);
  return {
    [=](push_atom, gradient_push& p) -> caf::result<uint64_t> {
      auto& st = self->state;
      auto began = std::chrono::steady_clock::now();
      if (auto err = check_worker(self, p.job, p.worker, "push"))
        return err;
      if (auto err = check_push(st, p)) {
        ++st.stats.rejected;
        return err;
      }
      if (st.rules.in_place) {
        ++st.stats.rejected;
        return make_error(
          errc::out_of_order, "push to " + who(st)
                                + " while workers update it in place "
                                  "(hogwild)");
      }
      if (st.dice.kill_at(p.clock)) {
        self->quit(make_error(
          errc::job_failed, who(st) + " killed by the fault plan at clock "
                              + std::to_string(p.clock)));
        return caf::delegated<uint64_t>{};
      }
      // A worker's pushes arrive in the order of their clocks; one whose
      // clock was received already is the same push again (sent twice, or
      // sent again after its reply was lost): acknowledged, applied once.
      if (p.clock <= st.received[p.worker]) {
        ++st.stats.duplicates;
        return version(st);
      }
      st.received[p.worker] = p.clock;
      ++st.stats.pushes;
      if (!st.rules.buffered) {
        auto staleness = record_staleness(st, p.version);
        float lr = stale_lr(st.remedy, st.lr, staleness);
        if (st.remedy == staleness_remedy::dc && staleness > 0) {
          // DC-ASGD: the gradient moved towards the current values from
          // those it was computed from (the worker's pulled backup).
          auto& mine = st.backups[p.worker];
          auto then = std::find_if(mine.begin(), mine.end(), [&](auto& b) {
            return b.first == p.version;
          });
          if (then != mine.end()) {
            st.mean.assign(p.values.get().begin(), p.values.get().end());
            compensate_delay(st.mean.data(), st.mem->values.data(),
              then->second.data(), st.mean.size(), st.dc_lambda);
            apply_update(st, st.mean, lr);
          } else {
            ++st.uncompensated;
            apply_update(st, p.values.get(), lr);
          }
        } else {
          apply_update(st, p.values.get(), lr);
        }
        st.applied[p.worker] = std::max(st.applied[p.worker], p.clock);
      } else if (p.clock <= st.drop_until[p.worker]) {
        ++st.stats.dropped; // late under sbp: its clock was committed
      } else {
        // Buffered until the commit; the message's buffer is shared, not
        // copied.
        st.pending[p.worker] = server_shard_state::pending_push{
          p.clock, p.rows, p.version, std::move(p.values)};
      }
      answer_cut(st);
      double slowdown = st.dice.slowdown();
      if (slowdown <= 1)
        return version(st);
      // A slowed shard answers as one `slowdown` times slower would: one
      // push at a time, each (slowdown - 1) times its own work later.
      auto now = std::chrono::steady_clock::now();
      auto extra = std::chrono::duration_cast<std::chrono::microseconds>(
        (now - began) * (slowdown - 1));
      st.busy_until = std::max(st.busy_until, now) + extra;
      auto token = ++st.next_token;
      auto promise = self->make_response_promise<uint64_t>();
      st.held.emplace(token, std::pair{promise, version(st)});
      self->delayed_send(self, st.busy_until - now, later_atom::value, token);
      return promise;
    },
    [=](pull_atom, const parameter_pull& p) -> caf::result<parameter_slice> {
      auto& st = self->state;
      if (p.reader == scheduler_reader) {
        if (auto err = check_scheduler(self, p.job, "pull"))
          return err;
      } else if (auto err = check_worker(self, p.job, p.reader, "pull")) {
        return err;
      }
      // One copy per version: every pull of it shares the buffer. Under
      // hogwild the workers change the values without the shard, so each
      // pull takes a fresh copy.
      auto now = version(st);
      if (st.snapshot_version != now || st.rules.in_place) {
        st.snapshot.refill(st.mem->values);
        st.snapshot_version = now;
      }
      if (st.remedy == staleness_remedy::dc && p.reader != scheduler_reader
          && p.reader < st.backups.size() && !st.rules.in_place) {
        // What this worker's next pushes are computed from; pipelined asp
        // may push a unit computed from the pull before the last.
        auto& mine = st.backups[p.reader];
        if (mine.empty() || mine.back().first != now)
          mine.emplace_back(now, st.snapshot);
        if (mine.size() > 3)
          mine.erase(mine.begin());
      }
      return parameter_slice{st.job, now, st.snapshot, st.applied};
    },
    [=](shard_slice& slice) -> caf::result<void> {
      auto& st = self->state;
      if (!sent_by(self, st.cfg.scheduler)) {
        ++st.stats.rejected;
        return make_error(errc::bad_sender, "slice from an actor other than "
                                            "the scheduler");
      }
      if (st.has_slice)
        return make_error(errc::out_of_order, who(st) + " has its slice");
      try {
        slice.optimizer.validate();
        take_slice(st, slice);
      } catch (const std::exception& e) {
        // A slice this shard cannot serve: it stops, and the scheduler's
        // monitor ends the run naming it.
        self->quit(make_error(errc::bad_shape, who(st) + ": " + e.what()));
      }
      return caf::unit;
    },
    [=](done_atom, uint64_t job) -> caf::result<void> {
      if (auto err = check_scheduler(self, job, "done"))
        return err;
      self->quit(caf::exit_reason::normal);
      return caf::unit;
    },
    [=](roster_atom, worker_roster& r) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (auto err = check_scheduler(self, r.job, "roster"))
        return err;
      if (r.workers.size() != st.pending.size())
        return make_error(errc::bad_shape,
          "roster of " + std::to_string(r.workers.size()) + " workers to "
            + who(st) + " of a job of " + std::to_string(st.pending.size()));
      // A worker replaced by a new actor (a worker node that rejoined)
      // counts its clocks from 0 again: what the shard knew of the old one
      // is forgotten.
      for (size_t w = 0; w < st.roster.size(); ++w) {
        if (st.roster[w] == r.workers[w])
          continue;
        st.received[w] = 0;
        st.applied[w] = 0;
        st.drop_until[w] = 0;
        st.pending[w].reset();
      }
      st.roster = std::move(r.workers);
      return version(st);
    },
    [=](commit_atom, const commit_request& c) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (auto err = check_scheduler(self, c.job, "commit"))
        return err;
      // Mean of the included pushes, weighted by rows, summed in worker-id
      // order so that the result does not depend on arrival order.
      uint64_t total_rows = 0;
      std::vector<const server_shard_state::pending_push*> parts;
      for (auto w : c.workers) {
        if (w < st.pending.size() && st.pending[w]) {
          parts.push_back(&*st.pending[w]);
          total_rows += st.pending[w]->rows;
          st.applied[w] = std::max(st.applied[w], st.pending[w]->clock);
        }
      }
      float lr = c.lr > 0 ? c.lr : st.lr;
      if (parts.size() == 1) {
        record_staleness(st, parts[0]->version);
        apply_update(
          st, parts[0]->values.get(), lr); // exactly the worker's gradient
      } else if (!parts.empty()) {
        st.mean.assign(st.mem->values.size(), 0.0f);
        for (auto* part : parts) {
          record_staleness(st, part->version);
          float weight = static_cast<float>(
            static_cast<double>(part->rows) / static_cast<double>(total_rows));
          const float* g = part->values.data();
          float* m = st.mean.data();
          for (size_t i = 0; i < st.mean.size(); ++i)
            m[i] += weight * g[i];
        }
        apply_update(st, st.mean, lr);
      }
      for (auto w : c.workers)
        if (w < st.pending.size())
          st.pending[w].reset();
      for (size_t i = 0; i + 1 < c.late.size(); i += 2)
        if (c.late[i] < st.drop_until.size())
          st.drop_until[c.late[i]]
            = std::max<uint64_t>(st.drop_until[c.late[i]], c.late[i + 1]);
      // Anything else still buffered is dropped: late if the commit marks
      // its worker late (sbp), else lost (the scheduler went on without a
      // worker that died after pushing).
      for (size_t w = 0; w < st.pending.size(); ++w) {
        if (!st.pending[w])
          continue;
        if (st.pending[w]->clock <= st.drop_until[w])
          ++st.stats.dropped;
        else
          ++st.stats.lost;
        st.pending[w].reset();
      }
      return version(st);
    },
    [=](mode_atom, const shard_mode& m) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (auto err = check_scheduler(self, m.job, "mode"))
        return err;
      st.rules = rules_of(m.mode);
      st.lr = m.lr;
      st.remedy = m.remedy;
      st.dc_lambda = m.dc_lambda;
      st.backups.assign(st.pending.size(), {});
      // A snapshot never outlives a mode: in-place epochs change the values
      // behind the shard's back.
      st.snapshot_version = UINT64_MAX;
      st.drop_until.assign(st.drop_until.size(), 0);
      for (auto& p : st.pending)
        p.reset();
      return version(st);
    },
    [=](stats_atom) -> caf::result<shard_stats> {
      auto& st = self->state;
      if (!sent_by(self, st.cfg.scheduler)) {
        ++st.stats.rejected;
        return make_error(errc::bad_sender, "stats of " + who(st)
                                              + " asked by an actor other "
                                                "than the scheduler");
      }
      return std::exchange(st.stats, shard_stats{});
    },
    [=](checkpoint_atom, checkpoint_request& req) -> caf::result<shard_state> {
      if (auto err = check_scheduler(self, req.job, "checkpoint"))
        return err;
      auto& st = self->state;
      if (received_all(st, req.received)) {
        auto state = state_of(st);
        if (!state)
          return std::move(state.error());
        return std::move(*state);
      }
      // Pushes that left before their workers stopped are on their way: the
      // answer waits for them (the scheduler's request times out if they
      // never come). A newer request replaces an older one.
      if (st.cut)
        st.cut->deliver(make_error(errc::out_of_order,
          "checkpoint request of " + who(st) + " replaced by a newer one"));
      st.cut = self->make_response_promise<shard_state>();
      st.cut_received = std::move(req.received);
      return *st.cut;
    },
    [=](restore_atom, shard_slice& slice) -> caf::result<uint64_t> {
      if (auto err = check_scheduler(self, slice.job, "restore"))
        return err;
      auto& st = self->state;
      if (slice.id != st.id || slice.values.size() != st.mem->values.size())
        return make_error(errc::bad_shape,
          "restore of shard " + std::to_string(slice.id) + " with "
            + std::to_string(slice.values.size()) + " values to " + who(st)
            + ", which owns " + std::to_string(st.mem->values.size()));
      // Back to the checkpoint: keys, update-rule state and version. What
      // was buffered belongs to abandoned work; the clocks received stay,
      // so a push of that work arriving late is still known.
      try {
        auto opt = make_optimizer(slice.optimizer, slice.values.size());
        if (slice.steps > 0 || !slice.state.empty())
          opt->restore(optimizer_state{slice.steps, std::move(slice.state)});
        st.mem->opt = std::move(opt);
      } catch (const std::exception& e) {
        return make_error(errc::bad_shape, who(st) + ": " + e.what());
      }
      st.mem->values = std::move(slice.values);
      st.mem->version.store(slice.version, std::memory_order_relaxed);
      st.snapshot_version = UINT64_MAX;
      for (auto& p : st.pending)
        p.reset();
      st.drop_until.assign(st.drop_until.size(), 0);
      st.applied.assign(st.applied.size(), 0);
      fence(st, slice.fences);
      return version(st);
    },
    [=](later_atom, uint64_t token) -> caf::result<void> {
      auto& st = self->state;
      if (!sent_by(self, self)) {
        ++st.stats.rejected;
        return make_error(errc::bad_sender, "later is internal to " + who(st));
      }
      if (auto it = st.held.find(token); it != st.held.end()) {
        it->second.first.deliver(it->second.second);
        st.held.erase(it);
      }
      return caf::unit;
    },
  };
}

} // namespace paramserv
