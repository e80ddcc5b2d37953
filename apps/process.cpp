#include "apps/process.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace paramserv::app {

namespace {

using clock = std::chrono::steady_clock;

// Closes a descriptor when it goes out of scope, unless released.
class unique_fd {
public:
  explicit unique_fd(int fd = -1) : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  ~unique_fd() {
    reset();
  }
  int get() const {
    return fd_;
  }
  int release() {
    return std::exchange(fd_, -1);
  }
  void reset(int fd = -1) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = fd;
  }

private:
  int fd_;
};

struct fd_pair {
  unique_fd read;
  unique_fd write;
};

[[noreturn]] void fail(const std::string& what, int err) {
  throw std::runtime_error(what + ": " + std::strerror(err));
}

// A close-on-exec pipe whose ends are not 0, 1 or 2 (should we run with a
// standard stream closed), so that the child's dup2 cannot clobber them.
fd_pair make_pipe(const std::string& program) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    fail("cannot start " + program + ": pipe", errno);
  fd_pair result{unique_fd{fds[0]}, unique_fd{fds[1]}};
  for (auto* end : {&result.read, &result.write}) {
    if (end->get() > STDERR_FILENO)
      continue;
    int moved = ::fcntl(end->get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    if (moved < 0)
      fail("cannot start " + program + ": fcntl", errno);
    end->reset(moved);
  }
  return result;
}

// The milliseconds left until `deadline`, rounded up, for poll().
int remaining_ms(clock::time_point deadline) {
  auto left
    = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
  return static_cast<int>(
    std::clamp<std::chrono::milliseconds::rep>(left.count(), 0, INT_MAX));
}

// A deadline `timeout` from now that cannot overflow.
clock::time_point deadline_after(std::chrono::milliseconds timeout) {
  auto now = clock::now();
  auto room = std::chrono::duration_cast<std::chrono::milliseconds>(
    clock::time_point::max() - now);
  return now + std::clamp(timeout, std::chrono::milliseconds{0}, room);
}

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

// What the child reports through the exec pipe when it cannot exec.
struct child_error {
  int stage;
  int err;
};

constexpr const char* stage_names[] = {"setpgid", "prctl", "dup2", "exec"};

// In the child: reports errno and the failed stage to the parent, and exits.
[[noreturn]] void child_fail(int report_fd, int stage) {
  child_error e{stage, errno};
  ssize_t ignored = ::write(report_fd, &e, sizeof e);
  (void)ignored;
  ::_exit(127);
}

// Runs in the child between fork and exec: only async-signal-safe calls.
[[noreturn]] void run_child(char* const* argv, bool search_path,
  const child_options& options, pid_t parent, int out_fd, int err_fd,
  int report_fd) {
  auto die = [report_fd](int stage) {
    child_fail(report_fd, stage);
  };
  if (::setpgid(0, 0) != 0)
    die(0);
  if (options.die_with_parent) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
      die(1);
    // The parent may have died before the prctl.
    if (::getppid() != parent)
      ::_exit(127);
  }
  // Dispositions set to "ignore" and the signal mask survive exec.
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &dfl, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (out_fd >= 0 && ::dup2(out_fd, STDOUT_FILENO) < 0)
    die(2);
  if (err_fd >= 0 && ::dup2(err_fd, STDERR_FILENO) < 0)
    die(2);
  if (search_path)
    ::execvp(argv[0], argv);
  else
    ::execv(argv[0], argv);
  child_fail(report_fd, 3);
}

} // namespace

child_process child_process::start(
  const std::vector<std::string>& argv, const child_options& options) {
  if (argv.empty())
    throw std::invalid_argument("child_process::start: empty argv");
  const std::string& program = argv[0];
  // Everything the child needs is prepared before fork.
  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (auto& arg : argv)
    cargv.push_back(const_cast<char*>(arg.c_str()));
  cargv.push_back(nullptr);
  bool search_path = program.find('/') == std::string::npos;
  std::array<fd_pair, 2> pipes;
  if (options.capture_stdout)
    pipes[0] = make_pipe(program);
  if (options.capture_stderr)
    pipes[1] = make_pipe(program);
  auto report = make_pipe(program);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0)
    fail("cannot start " + program + ": fork", errno);
  if (pid == 0)
    run_child(cargv.data(), search_path, options, parent, pipes[0].write.get(),
      pipes[1].write.get(), report.write.get());
  // Also here, so that the group exists before start() returns whichever of
  // us runs first. Fails harmlessly once the child has exec'd.
  ::setpgid(pid, pid);
  for (auto& p : pipes)
    p.write.reset();
  report.write.reset();
  // End of file: the child exec'd; a child_error: it did not.
  child_error error{};
  size_t got = 0;
  while (got < sizeof error) {
    ssize_t n = ::read(report.read.get(), reinterpret_cast<char*>(&error) + got,
      sizeof error - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += static_cast<size_t>(n);
  }
  child_process result;
  result.pid_ = pid;
  result.reaped_ = false;
  if (got == sizeof error) {
    // The child has _exit'ed or is about to; reaping it does not block long.
    result.reap();
    std::string stage
      = error.stage >= 0 && error.stage < 4 ? stage_names[error.stage] : "exec";
    fail("cannot start " + program + ": " + stage, error.err);
  }
  // Without a pidfd (Linux < 5.3), waits fall back to polling waitpid.
  result.pidfd_ = open_pidfd(pid);
  if (result.pidfd_ >= 0)
    ::fcntl(result.pidfd_, F_SETFD, FD_CLOEXEC);
  for (size_t s = 0; s < 2; ++s) {
    if (pipes[s].read.get() < 0)
      continue;
    int fd = pipes[s].read.release();
    result.pipe_fd_[s] = fd;
    result.pipe_eof_[s] = false;
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  if (options.capture_stdout && options.capture_stderr) {
    // From here on a throw kills and reaps the child (result's destructor).
    result.epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (result.epoll_fd_ < 0)
      fail("cannot start " + program + ": epoll_create1", errno);
    for (int fd : result.pipe_fd_) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (::epoll_ctl(result.epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0)
        fail("cannot start " + program + ": epoll_ctl", errno);
    }
  }
  return result;
}

child_process::child_process(child_process&& other) noexcept
  : pid_(std::exchange(other.pid_, -1)),
    reaped_(std::exchange(other.reaped_, true)),
    status_(std::exchange(other.status_, unknown_status)),
    pidfd_(std::exchange(other.pidfd_, -1)),
    epoll_fd_(std::exchange(other.epoll_fd_, -1)),
    pipe_fd_(std::exchange(other.pipe_fd_, {-1, -1})),
    pipe_eof_(std::exchange(other.pipe_eof_, {true, true})),
    partial_(std::exchange(other.partial_, {})),
    lines_(std::exchange(other.lines_, {})) {}

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = std::exchange(other.pid_, -1);
    reaped_ = std::exchange(other.reaped_, true);
    status_ = std::exchange(other.status_, unknown_status);
    pidfd_ = std::exchange(other.pidfd_, -1);
    epoll_fd_ = std::exchange(other.epoll_fd_, -1);
    pipe_fd_ = std::exchange(other.pipe_fd_, {-1, -1});
    pipe_eof_ = std::exchange(other.pipe_eof_, {true, true});
    partial_ = std::exchange(other.partial_, {});
    lines_ = std::exchange(other.lines_, {});
  }
  return *this;
}

child_process::~child_process() {
  release();
}

void child_process::release() noexcept {
  if (!reaped_)
    reap();
  for (int* fd : {&pidfd_, &epoll_fd_, &pipe_fd_[0], &pipe_fd_[1]}) {
    if (*fd >= 0)
      ::close(*fd);
    *fd = -1;
  }
}

pid_t child_process::pid() const {
  return pid_;
}

std::optional<std::string> child_process::read_line(
  std::chrono::milliseconds timeout) {
  if (auto line = read_output_line(timeout))
    return std::move(line->text);
  return std::nullopt;
}

std::optional<output_line> child_process::read_output_line(
  std::chrono::milliseconds timeout) {
  auto deadline = deadline_after(timeout);
  for (;;) {
    if (!lines_.empty()) {
      auto line = std::move(lines_.front());
      lines_.pop_front();
      return line;
    }
    pollfd fds[2];
    size_t streams[2];
    nfds_t n = 0;
    for (size_t s = 0; s < 2; ++s) {
      if (pipe_eof_[s])
        continue;
      fds[n] = pollfd{pipe_fd_[s], POLLIN, 0};
      streams[n++] = s;
    }
    if (n == 0)
      return std::nullopt; // end of output
    int ready = ::poll(fds, n, remaining_ms(deadline));
    if (ready < 0) {
      if (errno == EINTR)
        continue;
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    if (ready == 0)
      return std::nullopt; // timeout
    for (nfds_t i = 0; i < n; ++i)
      if (fds[i].revents != 0)
        fill(streams[i]);
    // A child that writes without ever ending a line must not keep us here.
    if (lines_.empty() && clock::now() >= deadline
        && !(pipe_eof_[0] && pipe_eof_[1]))
      return std::nullopt;
  }
}

void child_process::fill(size_t s) {
  char buf[65536];
  ssize_t n = ::read(pipe_fd_[s], buf, sizeof buf);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
      return;
    throw std::system_error(errno, std::generic_category(), "read");
  }
  auto stream = s == 0 ? output_stream::out : output_stream::err;
  auto& partial = partial_[s];
  if (n == 0) {
    pipe_eof_[s] = true;
    if (!partial.empty())
      lines_.push_back(output_line{std::exchange(partial, {}), stream});
    // Keep the descriptor open (the caller may still poll it), but stop its
    // hang-up from making the epoll descriptor readable for ever.
    if (epoll_fd_ >= 0)
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, pipe_fd_[s], nullptr);
    return;
  }
  partial.append(buf, static_cast<size_t>(n));
  size_t begin = 0;
  for (size_t end; (end = partial.find('\n', begin)) != std::string::npos;
       begin = end + 1)
    lines_.push_back(output_line{partial.substr(begin, end - begin), stream});
  partial.erase(0, begin);
}

bool child_process::eof() const {
  return lines_.empty() && pipe_eof_[0] && pipe_eof_[1];
}

std::optional<std::string> child_process::wait_for_line(
  const std::string& needle, std::chrono::milliseconds timeout,
  std::vector<std::string>* seen) {
  auto deadline = deadline_after(timeout);
  for (;;) {
    auto left = std::chrono::milliseconds{remaining_ms(deadline)};
    auto line = read_line(left);
    if (!line)
      return std::nullopt;
    if (line->find(needle) != std::string::npos)
      return line;
    if (seen != nullptr)
      seen->push_back(std::move(*line));
    if (left.count() == 0)
      return std::nullopt;
  }
}

void child_process::signal_group(int sig) {
  if (!reaped_)
    ::kill(-pid_, sig);
}

bool child_process::ended() {
  if (reaped_)
    return true;
  for (;;) {
    siginfo_t info;
    std::memset(&info, 0, sizeof info);
    if (::waitid(
          P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT)
        == 0)
      return info.si_pid != 0;
    if (errno == EINTR)
      continue;
    if (errno == ECHILD) {
      // Reaped by someone else (SIGCHLD ignored?): its group id may be gone.
      reaped_ = true;
      status_ = unknown_status;
      return true;
    }
    return false;
  }
}

bool child_process::wait_ended(clock::time_point deadline) {
  for (;;) {
    if (ended())
      return true;
    int ms = remaining_ms(deadline);
    if (ms == 0)
      return false;
    if (pidfd_ >= 0) {
      // Readable once the child has ended.
      pollfd p{pidfd_, POLLIN, 0};
      if (::poll(&p, 1, ms) < 0 && errno != EINTR)
        throw std::system_error(errno, std::generic_category(), "poll");
    } else {
      ::poll(nullptr, 0, std::min(ms, 10));
    }
  }
}

int child_process::reap() noexcept {
  if (reaped_)
    return status_;
  // While the child is unreaped its pid names its group and nobody else's.
  ::kill(-pid_, SIGKILL);
  int status = 0;
  pid_t r;
  do
    r = ::waitpid(pid_, &status, 0);
  while (r < 0 && errno == EINTR);
  reaped_ = true;
  status_ = r == pid_ ? status : unknown_status;
  if (pidfd_ >= 0)
    ::close(pidfd_);
  pidfd_ = -1;
  return status_;
}

std::optional<int> child_process::poll_exit() {
  if (ended())
    return reap();
  return std::nullopt;
}

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
  if (wait_ended(deadline_after(timeout)))
    return reap();
  return std::nullopt;
}

int child_process::stop(std::chrono::milliseconds grace) {
  if (reaped_)
    return status_;
  signal_group(SIGTERM);
  signal_group(SIGCONT);
  wait_ended(deadline_after(grace));
  return reap();
}

int child_process::output_fd() const {
  if (epoll_fd_ >= 0)
    return epoll_fd_;
  return pipe_fd_[0] >= 0 ? pipe_fd_[0] : pipe_fd_[1];
}

std::string describe_status(int status) {
  auto signal_name = [](int sig) {
    const char* d = ::sigdescr_np(sig);
    return std::to_string(sig) + " (" + (d != nullptr ? d : "unknown signal")
           + ")";
  };
  if (status == unknown_status)
    return "unknown status";
  if (WIFEXITED(status))
    return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "killed by signal " + signal_name(WTERMSIG(status))
           + (WCOREDUMP(status) ? ", core dumped" : "");
  if (WIFSTOPPED(status))
    return "stopped by signal " + signal_name(WSTOPSIG(status));
  if (WIFCONTINUED(status))
    return "continued";
  return "unknown status " + std::to_string(status);
}

} // namespace paramserv::app
