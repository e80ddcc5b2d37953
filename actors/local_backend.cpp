#include "actors/local_backend.hpp"

#include <atomic>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/scheduler.hpp"
#include "actors/server_shard.hpp"
#include "actors/local_node.hpp"
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
  if (local.timeouts.push_ms == 0 || local.timeouts.pull_ms == 0
      || local.timeouts.control_ms == 0)
    throw std::invalid_argument(
      "--push-timeout, --pull-timeout, --control-timeout: must be positive");
  if (!local.checkpoints.dir.empty() && local.checkpoints.every == 0
      && !(local.checkpoints.seconds > 0))
    throw std::invalid_argument(
      "--checkpoint-every: must be positive without --checkpoint-seconds");
}

} // namespace

void validate(const train_options& opts, const local_options& local) {
  validate(opts);
  validate_local(local);
}

namespace {

// The shards-versus-keys check, which needs the model only.
void validate_keys(const train_options& opts, const local_options& local) {
  auto net = make_model(opts.model);
  auto keys
    = split_keys(net->shapes(), default_key_size(net->shapes(), local.shards));
  if (local.shards > keys.size())
    throw std::invalid_argument("--shards: " + std::to_string(local.shards)
                                + " shards but the model has only "
                                + std::to_string(keys.size()) + " keys");
}

} // namespace

void validate(
  const train_options& opts, const local_options& local, const dataset& train) {
  validate(opts, train);
  validate_local(local);
  validate_keys(opts, local);
}

void validate(const job_spec& spec) {
  local_options local;
  local.workers = spec.workers;
  local.shards = spec.shards;
  local.modes = spec.modes;
  local.freq = spec.freq;
  local.nbatches = spec.nbatches;
  local.timeouts = spec.timeouts;
  validate(spec.opts, local);
  validate_keys(spec.opts, local);
  if (spec.progress_ms == 0)
    throw std::invalid_argument("the job's progress interval is zero");
  auto trained
    = spec.data.rows - validation_rows(spec.opts.validation, spec.data.rows);
  if (trained < spec.workers)
    throw std::invalid_argument("the job has " + std::to_string(trained)
                                + " training rows for "
                                + std::to_string(spec.workers) + " workers");
}

job_spec make_job_spec(
  const train_options& opts, const local_options& local, const dataset& train) {
  job_spec spec;
  spec.job = new_job_id();
  spec.opts = opts;
  spec.modes = local.modes;
  spec.freq = local.freq;
  spec.nbatches = local.nbatches;
  spec.shards = static_cast<uint32_t>(local.shards);
  spec.workers = static_cast<uint32_t>(local.workers);
  spec.data = local.data;
  spec.data.rows = train.size();
  spec.timeouts = local.timeouts;
  return spec;
}

void configure_system(caf::actor_system_config& cfg, size_t threads) {
  add_message_types(cfg);
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
}

job_actors start_job(caf::actor_system& sys, const job_spec& spec,
  std::shared_ptr<const dataset> train, std::shared_ptr<const dataset> test,
  const caf::actor& reply_to) {
  validate(spec);
  auto job = spawn_job(sys, spec, std::move(train), std::move(test));
  caf::send_as(reply_to, job.scheduler, run_atom::value);
  return job;
}

job_actors spawn_job(caf::actor_system& sys, const job_spec& spec,
  std::shared_ptr<const dataset> train, std::shared_ptr<const dataset> test,
  const job_placement& placement, const checkpoint_options& checkpoints,
  worker_loss_policy on_worker_loss) {
  std::shared_ptr<const resume_point> resume;
  if (!checkpoints.resume.empty())
    resume = std::make_shared<const resume_point>(
      read_checkpoint(sys, checkpoints.resume, spec));
  auto node = std::make_shared<local_node>();
  node->train = std::move(train);
  node->board = std::make_shared<hogwild_board>();
  node->board->shards.resize(spec.shards);
  job_actors result;
  scheduler_config sc;
  sc.spec = spec;
  sc.test = std::move(test);
  if (validation_rows(spec.opts.validation, node->train->size()) > 0)
    sc.validation = std::make_shared<const dataset>(
      validation_set(spec.opts, *node->train));
  sc.checkpoint_dir = checkpoints.dir;
  sc.checkpoint_every = checkpoints.dir.empty() ? 0 : checkpoints.every;
  sc.checkpoint_seconds = checkpoints.dir.empty() ? 0 : checkpoints.seconds;
  sc.resume = std::move(resume);
  sc.on_worker_loss = on_worker_loss;
  // A lost shard's replacement: a new shard on this node, without the
  // fault plan's kills (the plan killed the one it replaces).
  auto calm = placement.faults;
  if (calm && !calm->kills.empty()) {
    auto copy = *calm;
    copy.kills.clear();
    calm = std::make_shared<const fault_plan>(std::move(copy));
  }
  caf::actor_system* system = &sys;
  sc.respawn = [system, node, calm](const scheduler_actor& sched) {
    system->spawn(server_shard, shard_config{sched, node, calm});
  };
  result.scheduler = sys.spawn(scheduler, std::move(sc));
  for (uint32_t s = 0; s < spec.shards; ++s)
    result.shards.push_back(sys.spawn(
      server_shard, shard_config{result.scheduler, node, placement.faults}));
  for (uint32_t w = 0; w < spec.workers; ++w) {
    worker_config wc;
    wc.scheduler = result.scheduler;
    if (w < placement.elsewhere.size() && placement.elsewhere[w]) {
      wc.node = std::make_shared<local_node>();
      wc.node->name = "elsewhere";
      wc.node->train = node->train;
    } else if (w >= placement.no_node.size() || !placement.no_node[w]) {
      wc.node = node;
    }
    if (w < placement.delays.size())
      wc.delay = placement.delays[w];
    wc.faults = placement.faults;
    result.workers.push_back(sys.spawn(worker, std::move(wc)));
  }
  return result;
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
  configure_system(cfg, local.threads);
  caf::actor_system sys{cfg};
  // The run's identity is random (make_job_spec), so that two runs (of the
  // same seed, too) never take each other's messages; training depends on
  // the seed alone.
  auto spec = make_job_spec(opts, local, *train);
  job_placement placement;
  placement.delays = local.delays;
  if (!local.faults.empty())
    placement.faults = std::make_shared<const fault_plan>(local.faults);
  auto job = spawn_job(
    sys, spec, train, test, placement, local.checkpoints, local.on_worker_loss);
  // The actor system's destructor waits for every actor: on every way out
  // (an exception of any type from a hook or the caller's model included)
  // the job's actors are told to stop first.
  struct stop_on_exit {
    caf::actor_system& sys;
    const job_actors& job;

    ~stop_on_exit() {
      caf::scoped_actor self{sys};
      for (auto& s : job.shards)
        self->send_exit(s, caf::exit_reason::user_shutdown);
      self->send_exit(job.scheduler, caf::exit_reason::user_shutdown);
      for (auto& w : job.workers)
        self->send_exit(w, caf::exit_reason::user_shutdown);
    }
  } stop{sys, job};
  return drive_job(sys, job.scheduler, opts.model, hooks);
}

local_result drive_job(caf::actor_system& sys, const scheduler_actor& scheduler,
  const model_spec& model, const local_hooks& hooks) {
  auto net = make_model(model);
  size_t total = parameter_set{net->shapes()}.size();
  local_result result;
  caf::error failure;
  caf::scoped_actor self{sys};
  // The scheduler sends each epoch's metrics, its log lines and progress
  // totals to whoever sent `run`, and at the end the result (or an error).
  self->monitor(scheduler);
  self->send(scheduler, run_atom::value);
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
      [&](const progress_report& p) {
        if (hooks.on_progress)
          hooks.on_progress(p.rows, p.loss_sum);
      },
      [&](const evaluation_record& e) {
        if (hooks.on_eval)
          hooks.on_eval(e);
      },
      [&](run_result& r) {
        if (r.params.size() != total) {
          failure = make_error(errc::bad_shape,
            "the scheduler sent " + std::to_string(r.params.size())
              + " parameters for a model of " + std::to_string(total));
        } else {
          result.job = r.job;
          result.history = std::move(r.history);
          result.dropped = r.dropped;
          result.lost = r.lost;
          result.rejected = r.rejected;
          result.retried = r.retried;
          result.duplicates = r.duplicates;
          result.log = std::move(r.log);
          result.evaluations = std::move(r.evaluations);
          result.stopped = r.stopped;
          result.target_s = r.target_s;
          result.params = parameter_set{net->shapes()};
          result.params.assign(r.params);
        }
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
      });
  }
  self->demonitor(scheduler.address());
  if (failure)
    throw std::runtime_error("training failed: " + sys.render(failure));
  return result;
}

} // namespace paramserv
