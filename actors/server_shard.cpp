#include "actors/server_shard.hpp"

#include <cmath>
#include <cstring>
#include <string>

#include "linalg/core/finite.hpp"
#include "messages/errc.hpp"

namespace paramserv {

namespace {

// Checks a push against the shard; the model is untouched by a bad one.
caf::error check_push(const server_shard_state& st, const gradient_push& p) {
  if (p.job != st.cfg.job)
    return make_error(errc::wrong_job, "push of job " + std::to_string(p.job)
                                         + ", shard serves job "
                                         + std::to_string(st.cfg.job));
  if (p.rows == 0)
    return make_error(errc::bad_shape, "push of zero rows");
  if (p.worker >= st.cfg.workers)
    return make_error(
      errc::bad_worker, "unknown worker " + std::to_string(p.worker));
  if (p.keys != st.keys || p.lengths != st.lengths
      || p.values.size() != st.mem->values.size())
    return make_error(errc::bad_shape,
      "push does not match the keys of shard " + std::to_string(st.cfg.id));
  if (!all_finite(p.values))
    return make_error(errc::not_finite, "push holds a NaN or infinity");
  return {};
}

void record_staleness(server_shard_state& st, uint64_t pulled) {
  uint64_t now = st.mem->version.load(std::memory_order_relaxed);
  uint64_t staleness = now > pulled ? now - pulled : 0;
  ++st.stats.measured;
  st.stats.staleness_sum += static_cast<double>(staleness);
  st.stats.max_staleness = std::max(st.stats.max_staleness, staleness);
}

void apply_update(server_shard_state& st, const std::vector<float>& gradient) {
  st.mem->opt->update(st.mem->values, gradient, st.lr);
  st.mem->version.fetch_add(1, std::memory_order_relaxed);
  ++st.stats.updates;
}

} // namespace

server_shard_actor::behavior_type server_shard(server_shard_pointer self,
  shard_config cfg, std::shared_ptr<shard_memory> mem) {
  auto& st = self->state;
  st.keys = cfg.map->keys_of[cfg.id];
  st.lengths = cfg.map->lengths_of(cfg.id);
  st.pending.resize(cfg.workers);
  st.drop_until.assign(cfg.workers, 0);
  st.applied.assign(cfg.workers, 0);
  st.cfg = std::move(cfg);
  st.mem = std::move(mem);
  self->set_down_handler([=](caf::down_msg& msg) {
    if (msg.source == self->state.scheduler)
      self->quit(msg.reason);
  });
  return {
    [=](push_atom, gradient_push& p) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (auto err = check_push(st, p)) {
        ++st.stats.rejected;
        return err;
      }
      if (st.in_place) {
        ++st.stats.rejected;
        return make_error(errc::out_of_order,
          "push to shard " + std::to_string(st.cfg.id)
            + " while workers update it in place (hogwild)");
      }
      ++st.stats.pushes;
      if (!st.synchronous) {
        record_staleness(st, p.version);
        apply_update(st, p.values);
        st.applied[p.worker] = std::max(st.applied[p.worker], p.clock);
      } else if (p.clock <= st.drop_until[p.worker]) {
        ++st.stats.dropped; // late under sbp: its clock was committed
      } else {
        // Buffered until the commit; the message's buffer is moved, not
        // copied.
        st.pending[p.worker] = server_shard_state::pending_push{
          p.clock, p.rows, p.version, std::move(p.values)};
      }
      return st.mem->version.load(std::memory_order_relaxed);
    },
    [=](pull_atom, const parameter_pull& p) -> caf::result<parameter_slice> {
      auto& st = self->state;
      if (p.job != st.cfg.job)
        return make_error(
          errc::wrong_job, "pull of job " + std::to_string(p.job));
      if (!p.keys.empty() && p.keys != st.keys)
        return make_error(errc::bad_shape,
          "pull of keys shard " + std::to_string(st.cfg.id) + " does not own");
      parameter_slice slice;
      slice.job = st.cfg.job;
      slice.version = st.mem->version.load(std::memory_order_relaxed);
      slice.keys = st.keys;
      slice.lengths = st.lengths;
      slice.values = st.mem->values; // the one copy a pull costs
      slice.applied = st.applied;
      return slice;
    },
    [=](commit_atom, const commit_request& c) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (c.job != st.cfg.job)
        return make_error(
          errc::wrong_job, "commit of job " + std::to_string(c.job));
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
      if (parts.size() == 1) {
        record_staleness(st, parts[0]->version);
        apply_update(st, parts[0]->values); // exactly the worker's gradient
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
        apply_update(st, st.mean);
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
      return st.mem->version.load(std::memory_order_relaxed);
    },
    [=](mode_atom, const shard_mode& m) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (m.job != st.cfg.job)
        return make_error(
          errc::wrong_job, "mode of job " + std::to_string(m.job));
      if (!st.scheduler) {
        // The first mode request comes from the scheduler: the shard stops
        // when it does.
        st.scheduler = caf::actor_cast<caf::actor_addr>(self->current_sender());
        self->monitor(self->current_sender());
      }
      st.synchronous = m.synchronous;
      st.in_place = m.in_place;
      st.lr = m.lr;
      st.drop_until.assign(st.drop_until.size(), 0);
      for (auto& p : st.pending)
        p.reset();
      return st.mem->version.load(std::memory_order_relaxed);
    },
    [=](stats_atom) -> shard_stats {
      auto result = self->state.stats;
      self->state.stats = shard_stats{};
      return result;
    },
  };
}

} // namespace paramserv
