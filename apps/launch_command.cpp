#include "apps/commands.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "actors/net/endpoint.hpp"
#include "apps/job_options.hpp"
#include "apps/node_options.hpp"
#include "apps/process.hpp"

namespace po = boost::program_options;

namespace paramserv::app {

namespace {

using std::chrono::milliseconds;

// The self-pipe the signal handlers write to: the event loop wakes on a
// child's exit (SIGCHLD) and on Ctrl-C or SIGTERM.
int signal_pipe[2] = {-1, -1};
volatile sig_atomic_t interrupted = 0;

void on_signal(int sig) {
  int saved = errno;
  if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP)
    interrupted = sig;
  char byte = 0;
  [[maybe_unused]] auto n = write(signal_pipe[1], &byte, 1);
  errno = saved;
}

void install_handlers() {
  if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    throw std::runtime_error(std::string{"pipe: "} + std::strerror(errno));
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGCHLD})
    sigaction(sig, &sa, nullptr);
}

void drain_signal_pipe() {
  char buf[64];
  while (read(signal_pipe[0], buf, sizeof(buf)) > 0) {
  }
}

// One process of the cluster.
struct member {
  std::string name; // "scheduler", "server node 1", "worker node 2"
  child_process proc;
  bool reported = false;
  /// How it was started, to start it again.
  std::vector<std::string> argv;
};

std::string self_exe() {
  char buf[4096];
  auto n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    throw std::runtime_error(
      std::string{"/proc/self/exe: "} + std::strerror(errno));
  return std::string(buf, static_cast<size_t>(n));
}

// The arguments of `paramserv launch` without the launch flags: what the
// scheduler node gets (it also reads --server-nodes and --worker-nodes in
// an INI file, and ignores them).
std::vector<std::string> job_args(int argc, char** argv) {
  std::vector<std::string> result;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--server-nodes" || arg == "--worker-nodes") {
      ++i;
      continue;
    }
    if (arg.starts_with("--server-nodes=")
        || arg.starts_with("--worker-nodes="))
      continue;
    result.push_back(std::move(arg));
  }
  return result;
}

// `total` split over `parts` as evenly as can be, the first ones larger.
std::vector<size_t> spread(size_t total, size_t parts) {
  std::vector<size_t> result(parts, total / parts);
  for (size_t i = 0; i < total % parts; ++i)
    ++result[i];
  return result;
}

// Forwards what a member printed; returns the scheduler's address once it
// printed it.
void forward_output(member& m, std::string* address) {
  while (auto line = m.proc.read_line(milliseconds(0))) {
    std::printf("%s\n", line->c_str());
    static const std::string marker = "scheduler listening on ";
    auto at = line->find(marker);
    if (address && address->empty() && at != std::string::npos) {
      auto rest = line->substr(at + marker.size());
      *address = rest.substr(0, rest.find_first_of(", "));
    }
  }
  std::fflush(stdout);
}

int run(int argc, char** argv) {
  launch_cli lcli;
  network_cli ncli;
  train_cli cli;
  po::options_description desc;
  desc.add(describe_launch(lcli));
  desc.add(describe_network(ncli));
  desc.add(describe_job(cli, false));
  po::variables_map vm;
  if (!parse_command_line("launch", desc, argc, argv, vm))
    return 0;
  // Checked here so that a mistake is one line from launch, not one per
  // process.
  auto opts = to_train_options(cli, vm);
  auto lopts = to_local_options(cli, vm);
  try {
    validate(opts, lopts);
  } catch (const std::invalid_argument& e) {
    throw usage_error(e.what());
  }
  to_network_options(ncli);
  size_t worker_nodes = lcli.worker_nodes > 0 ? lcli.worker_nodes : cli.workers;
  if (lcli.server_nodes == 0 || lcli.server_nodes > cli.shards)
    throw usage_error("--server-nodes: need between 1 and --shards ("
                      + std::to_string(cli.shards) + ") server processes");
  if (worker_nodes > cli.workers)
    throw usage_error("--worker-nodes: " + std::to_string(worker_nodes)
                      + " worker processes for " + std::to_string(cli.workers)
                      + " workers");
  auto exe = self_exe();
  install_handlers();
  std::vector<member> members;
  std::vector<std::string> sched_argv{
    exe, "node", "--role", "scheduler", "--listen", "127.0.0.1:0"};
  for (auto& a : job_args(argc, argv))
    sched_argv.push_back(a);
  child_options co;
  co.die_with_parent = true;
  members.push_back(member{"scheduler", child_process::start(sched_argv, co)});
  std::string address;
  bool started = false;
  int exit_code = 0;
  size_t restarts = 0;
  for (;;) {
    std::vector<pollfd> fds;
    fds.push_back(pollfd{signal_pipe[0], POLLIN, 0});
    for (auto& m : members)
      if (!m.proc.eof() && m.proc.output_fd() >= 0)
        fds.push_back(pollfd{m.proc.output_fd(), POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR)
      throw std::runtime_error(std::string{"poll: "} + std::strerror(errno));
    drain_signal_pipe();
    for (size_t i = 0; i < members.size(); ++i)
      forward_output(members[i], i == 0 ? &address : nullptr);
    if (interrupted) {
      std::fprintf(
        stderr, "paramserv launch: interrupted; stopping every process\n");
      for (auto& m : members)
        m.proc.signal_group(SIGTERM);
      for (auto& m : members)
        m.proc.stop(milliseconds(2000));
      return 128 + interrupted;
    }
    if (!started && !address.empty()) {
      started = true;
      auto shards = spread(cli.shards, lcli.server_nodes);
      auto workers = spread(cli.workers, worker_nodes);
      auto net = network_args(ncli);
      for (size_t i = 0; i < shards.size(); ++i) {
        std::vector<std::string> a{exe, "node", "--role", "server", "--join",
          address, "--listen", "127.0.0.1:0", "--local-shards",
          std::to_string(shards[i])};
        a.insert(a.end(), net.begin(), net.end());
        members.push_back(member{"server node " + std::to_string(i + 1),
          child_process::start(a, co), false, a});
      }
      for (size_t i = 0; i < workers.size(); ++i) {
        std::vector<std::string> a{exe, "node", "--role", "worker", "--join",
          address, "--local-workers", std::to_string(workers[i])};
        a.insert(a.end(), net.begin(), net.end());
        members.push_back(member{"worker node " + std::to_string(i + 1),
          child_process::start(a, co), false, a});
      }
    }
    // Who ended: a server or worker node is reported (the scheduler
    // decides what its loss means); the scheduler's end is the job's.
    for (size_t i = 1; i < members.size(); ++i) {
      auto& m = members[i];
      if (m.reported)
        continue;
      if (auto status = m.proc.poll_exit()) {
        m.reported = true;
        forward_output(m, nullptr);
        if (*status == 0)
          continue;
        std::fprintf(stderr, "paramserv launch: %s (pid %d) ended: %s\n",
          m.name.c_str(), static_cast<int>(m.proc.pid()),
          describe_status(*status).c_str());
        // As torchrun does: a dead process is started again, as long as
        // restarts are left; it joins the running job.
        if (restarts < lcli.max_restarts) {
          ++restarts;
          m.proc = child_process::start(m.argv, co);
          m.reported = false;
          std::fprintf(stderr,
            "paramserv launch: restarted %s (pid %d; restart %zu of %zu)\n",
            m.name.c_str(), static_cast<int>(m.proc.pid()), restarts,
            lcli.max_restarts);
        }
      }
    }
    if (auto status = members[0].proc.poll_exit()) {
      // Its last output first.
      while (!members[0].proc.eof())
        if (!members[0].proc.read_line(milliseconds(1000)))
          break;
      forward_output(members[0], nullptr);
      if (WIFEXITED(*status))
        exit_code = WEXITSTATUS(*status);
      else
        exit_code = 1;
      if (*status != 0)
        std::fprintf(stderr,
          "paramserv launch: the scheduler (pid %d) ended: %s\n",
          static_cast<int>(members[0].proc.pid()),
          describe_status(*status).c_str());
      break;
    }
  }
  // The job is over: the other nodes stop by themselves once their actors
  // did; whoever has not within the grace period is stopped.
  auto deadline = std::chrono::steady_clock::now() + milliseconds(10000);
  for (size_t i = 1; i < members.size(); ++i) {
    auto& m = members[i];
    auto left = std::chrono::duration_cast<milliseconds>(
      deadline - std::chrono::steady_clock::now());
    auto status = m.proc.wait_exit(std::max(left, milliseconds(0)));
    if (!status)
      status = m.proc.stop(milliseconds(1000));
    forward_output(m, nullptr);
    if (!m.reported && *status != 0 && exit_code == 0)
      std::fprintf(stderr, "paramserv launch: %s (pid %d) ended: %s\n",
        m.name.c_str(), static_cast<int>(m.proc.pid()),
        describe_status(*status).c_str());
  }
  return exit_code;
}

} // namespace

int launch_command(int argc, char** argv) {
  return run_command("launch", run, argc, argv);
}

} // namespace paramserv::app
