#include "actors/local_backend.hpp"

#include <atomic>
#include <random>
#include <stdexcept>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/scheduler.hpp"
#include "actors/server_shard.hpp"
#include "actors/worker.hpp"
#include "messages/add_message_types.hpp"
#include "messages/errc.hpp"

namespace paramserv {

namespace {

uint64_t new_job_id() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ uint64_t { rd() };
}

// The checks of `local` that need neither the model nor the data.
void validate_local(const local_options& local) {
  if (local.workers == 0)
    throw std::invalid_argument("--workers: need at least one worker");
  if (local.shards == 0)
    throw std::invalid_argument("--shards: need at least one shard");
  if (local.modes.empty())
    throw std::invalid_argument("--mode-schedule: empty");
  for (auto& sw : local.modes)
    if (sw.mode.mode == consistency::sbp && sw.mode.param >= local.workers)
      throw std::invalid_argument(
        "--backup-workers: " + std::to_string(sw.mode.param)
        + " backup workers need more workers than that (--workers "
        + std::to_string(local.workers) + ")");
  if (local.nbatches == 0)
    throw std::invalid_argument("--nbatches: must be positive");
}

} // namespace

void validate(const train_options& opts, const local_options& local) {
  validate(opts);
  validate_local(local);
}

void validate(
  const train_options& opts, const local_options& local, const dataset& train) {
  validate(opts, train);
  validate_local(local);
  auto net = make_model(opts.model);
  auto keys
    = split_keys(net->shapes(), default_key_size(net->shapes(), local.shards));
  if (local.shards > keys.size())
    throw std::invalid_argument("--shards: " + std::to_string(local.shards)
                                + " shards but the model has only "
                                + std::to_string(keys.size()) + " keys");
}

local_result train_local(const train_options& opts, const local_options& local,
  std::shared_ptr<const dataset> train, std::shared_ptr<const dataset> test,
  const local_hooks& hooks) {
  validate(opts, local, *train);
  if (test && test->size() > 0
      && (test->features() != train->features()
          || test->classes > train->classes))
    throw std::invalid_argument(
      "the test set has " + std::to_string(test->features()) + " features and "
      + std::to_string(test->classes) + " classes; the training set "
      + std::to_string(train->features()) + " and "
      + std::to_string(train->classes));
  caf::actor_system_config cfg;
  add_message_types(cfg);
  size_t threads = local.threads;
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  cfg.set("scheduler.max-threads", threads);
  cfg.set("logger.verbosity", caf::atom("quiet"));
  // CAF's work stealing polls an empty queue 100 times, then sleeps in 50 us
  // (later 10 ms) steps. A parameter server's actors idle for a few
  // microseconds between replies, so every wake-up came late: BSP ran at
  // 0.9-1.0x the sequential trainer instead of 1.5x. Polling longer before
  // sleeping (a few milliseconds of spinning at most) fixes that.
  cfg.set("work-stealing.aggressive-poll-attempts", size_t{100000});
  caf::actor_system sys{cfg};
  // The run's identity: random, so that two runs (of the same seed, too)
  // never take each other's messages; training depends on the seed alone.
  const uint64_t job = new_job_id();

  // The model's initial values, exactly as the sequential trainer makes
  // them, then split over the shards.
  auto net = make_model(opts.model);
  parameter_set init{net->shapes()};
  net->initialize(init, opts.seed);
  auto map = std::make_shared<const shard_map>(
    shard_map::make(net->shapes(), local.shards));
  auto board = std::make_shared<hogwild_board>();
  std::vector<server_shard_actor> shards;
  for (uint32_t s = 0; s < local.shards; ++s) {
    auto mem = std::make_shared<shard_memory>();
    mem->values.resize(map->sizes[s]);
    map->gather(s, init.flat().data(), mem->values.data());
    mem->opt = make_optimizer(opts.optimizer, map->sizes[s]);
    board->shards.push_back(mem);
    shards.push_back(
      sys.spawn(server_shard, shard_config{job, s, local.workers, map}, mem));
  }
  scheduler_config sc;
  sc.job = job;
  sc.workers = local.workers;
  sc.opts = opts;
  sc.modes = local.modes;
  sc.shards = shards;
  sc.map = map;
  sc.test = test;
  sc.in_process = true;
  auto sched = sys.spawn(scheduler, std::move(sc));
  auto parts
    = partition_rows(train->size(), local.workers, opts.scheme, opts.seed);
  auto progress = std::make_shared<progress_counters>();
  std::vector<worker_actor> workers;
  for (uint32_t w = 0; w < local.workers; ++w) {
    worker_config wc;
    wc.job = job;
    wc.id = w;
    wc.opts = opts;
    wc.freq = local.freq;
    wc.nbatches = local.nbatches;
    wc.train = train;
    wc.rows = std::move(parts[w]);
    wc.map = map;
    wc.shards = shards;
    wc.scheduler = sched;
    wc.board = board;
    if (w < local.delays.size())
      wc.delay = local.delays[w];
    wc.progress = progress;
    workers.push_back(sys.spawn(worker, std::move(wc)));
  }
  local_result result;
  result.job = job;
  caf::error failure;
  {
    caf::scoped_actor self{sys};
    for (auto& w : workers)
      self->send(w, start_atom::value);
    // The scheduler answers the run request when training ends; meanwhile
    // it sends each epoch's metrics and its log lines.
    self->monitor(sched);
    self->send(sched, run_atom::value);
    bool done = false;
    while (!done) {
      self->receive(
        [&](const epoch_metrics& m) {
          if (hooks.on_epoch)
            hooks.on_epoch(m);
        },
        [&](const std::string& line) {
          if (hooks.on_log)
            hooks.on_log(line);
        },
        [&](run_result& r) {
          result.history = std::move(r.history);
          result.dropped = r.dropped;
          result.lost = r.lost;
          result.rejected = r.rejected;
          result.log = std::move(r.log);
          result.params = parameter_set{net->shapes()};
          result.params.assign(r.params);
          done = true;
        },
        [&](caf::error& err) {
          failure = std::move(err);
          done = true;
        },
        [&](caf::down_msg& down) {
          failure = down.reason
                      ? down.reason
                      : make_error(errc::job_failed, "the scheduler stopped");
          done = true;
        },
        caf::after(std::chrono::milliseconds(100)) >>
          [&] {
            if (hooks.on_progress)
              hooks.on_progress(progress->rows.load(std::memory_order_relaxed),
                progress->loss_sum.load(std::memory_order_relaxed));
          });
    }
    for (auto& s : shards)
      self->send_exit(s, caf::exit_reason::user_shutdown);
    self->send_exit(sched, caf::exit_reason::user_shutdown);
    for (auto& w : workers)
      self->send_exit(w, caf::exit_reason::user_shutdown);
  }
  if (failure)
    throw std::runtime_error("training failed: " + sys.render(failure));
  return result;
}

} // namespace paramserv
