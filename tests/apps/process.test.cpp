// Tests of the child-process library behind `paramserv launch`: real
// children (/bin/sh, /bin/sleep), synchronised through their output and
// exit, with timeouts that only guard against hangs.

#include "apps/process.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fstream>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace std::chrono_literals;
using paramserv::app::child_options;
using paramserv::app::child_process;
using paramserv::app::describe_status;
using paramserv::app::output_stream;

namespace {

// Guards against hangs only; nothing here should take near this long.
constexpr auto bound = 5s;

child_process shell(const std::string& script, child_options options = {}) {
  return child_process::start({"/bin/sh", "-c", script}, options);
}

std::chrono::milliseconds since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - t);
}

// A pidfd for a process that is not our child, readable once it has ended.
int open_pidfd(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

// Whether `pid` has ended: gone, or a zombie waiting for its (new) parent.
bool dead(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH)
    return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto paren = line.rfind(')');
  return paren == std::string::npos || line.compare(paren, 3, ") Z") == 0;
}

// Waits (bounded) for a process that is not our child to end.
bool ends_within(int pidfd, std::chrono::milliseconds timeout) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

// Whether `pid` is no child of ours any more (reaped, no zombie).
bool reaped(pid_t pid) {
  int status = 0;
  return ::waitpid(pid, &status, WNOHANG) == -1 && errno == ECHILD;
}

} // namespace

TEST_CASE("a child's output is read line by line and its exit code reported") {
  auto child = shell("echo hello; echo world; exit 3");
  CHECK(child.pid() > 0);
  CHECK(child.read_line(bound) == "hello");
  CHECK(child.read_line(bound) == "world");
  CHECK(child.read_line(bound) == std::nullopt);
  CHECK(child.eof());
  auto status = child.wait_exit(bound);
  REQUIRE(status.has_value());
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 3);
  CHECK(describe_status(*status) == "exit 3");
  // Reaped: the same status again, at once.
  CHECK(child.poll_exit() == status);
  CHECK(child.wait_exit(0ms) == status);
  CHECK(reaped(child.pid()));
}

TEST_CASE("a last line without a newline is returned at end of output") {
  auto child = shell("printf 'one\\ntwo'");
  CHECK(child.read_line(bound) == "one");
  CHECK(child.read_line(bound) == "two");
  CHECK(child.read_line(bound) == std::nullopt);
  CHECK(child.eof());
}

TEST_CASE("stop ends the child's whole process group") {
  auto child = shell("sleep 1000 & echo $!; wait");
  auto line = child.read_line(bound);
  REQUIRE(line.has_value());
  pid_t grandchild = std::stoi(*line);
  // The child leads a group of its own, and what it starts joins it.
  CHECK(::getpgid(child.pid()) == child.pid());
  CHECK(::getpgid(child.pid()) != ::getpgrp());
  CHECK(::getpgid(grandchild) == child.pid());
  int pidfd = open_pidfd(grandchild);
  REQUIRE(pidfd >= 0);
  auto start = std::chrono::steady_clock::now();
  int status = child.stop(bound);
  CHECK(since(start) < 1s);
  CHECK(WIFSIGNALED(status));
  CHECK(ends_within(pidfd, bound));
  CHECK(dead(grandchild));
  ::close(pidfd);
  CHECK(reaped(child.pid()));
  // Everything that held the pipe is gone.
  CHECK(child.read_line(bound) == std::nullopt);
  CHECK(child.eof());
}

TEST_CASE("stop kills a child that ignores SIGTERM once the grace is over") {
  auto child = shell("trap '' TERM; echo ready; exec sleep 1000");
  REQUIRE(child.read_line(bound) == "ready");
  auto start = std::chrono::steady_clock::now();
  int status = child.stop(100ms);
  auto took = since(start);
  CHECK(took >= 100ms);
  CHECK(took < 1s);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  CHECK(describe_status(status) == "killed by signal 9 (Killed)");
}

TEST_CASE("reaping a child also ends what it left behind in its group") {
  // The shell exits at once; its sleep keeps the output pipe open.
  auto child = shell("sleep 1000 & echo $!");
  auto line = child.read_line(bound);
  REQUIRE(line.has_value());
  pid_t grandchild = std::stoi(*line);
  int pidfd = open_pidfd(grandchild);
  REQUIRE(pidfd >= 0);
  auto status = child.wait_exit(bound);
  REQUIRE(status.has_value());
  CHECK(describe_status(*status) == "exit 0");
  CHECK(ends_within(pidfd, bound));
  CHECK(dead(grandchild));
  ::close(pidfd);
  CHECK(child.read_line(bound) == std::nullopt);
  CHECK(child.eof());
}

TEST_CASE("starting a program that cannot be run throws with its name") {
  auto message_of = [](const std::string& program) -> std::string {
    try {
      child_process::start({program, "arg"});
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "(no exception)";
  };
  SUBCASE("a path that does not exist") {
    auto m = message_of("/nonexistent/paramserv-no-such-binary");
    CHECK(m.find("/nonexistent/paramserv-no-such-binary") != m.npos);
    CHECK(m.find("No such file or directory") != m.npos);
  }
  SUBCASE("a name that is not in PATH") {
    auto m = message_of("paramserv-no-such-command");
    CHECK(m.find("paramserv-no-such-command") != m.npos);
    CHECK(m.find("No such file or directory") != m.npos);
  }
  SUBCASE("a file that is not executable") {
    auto m = message_of("/etc/passwd");
    CHECK(m.find("/etc/passwd") != m.npos);
    CHECK(m.find("Permission denied") != m.npos);
  }
  SUBCASE("no program at all") {
    CHECK_THROWS_AS(child_process::start({}), std::invalid_argument);
  }
}

TEST_CASE("wait_for_line finds a needle among several lines") {
  std::vector<std::string> seen;
  SUBCASE("the needle comes") {
    auto child = shell(
      "echo alpha; echo beta; echo 'node ready on port 4242'; echo after");
    auto line = child.wait_for_line("ready on port", bound, &seen);
    CHECK(line == "node ready on port 4242");
    CHECK(seen == std::vector<std::string>{"alpha", "beta"});
    // The lines after it are still there.
    CHECK(child.read_line(bound) == "after");
  }
  SUBCASE("the child exits without it") {
    auto child = shell("echo alpha; echo beta; exit 1");
    CHECK(child.wait_for_line("ready", bound, &seen) == std::nullopt);
    CHECK(child.eof());
    CHECK(seen == std::vector<std::string>{"alpha", "beta"});
  }
  SUBCASE("the timeout is in total, not per line") {
    auto child = shell("while :; do echo tick; done");
    auto start = std::chrono::steady_clock::now();
    CHECK(child.wait_for_line("never", 100ms, &seen) == std::nullopt);
    auto took = since(start);
    CHECK(took >= 100ms);
    CHECK(took < 1s);
    CHECK_FALSE(child.eof());
    REQUIRE_FALSE(seen.empty());
    CHECK(seen.front() == "tick");
  }
}

TEST_CASE("read_line on a silent child times out without eof") {
  auto child = child_process::start({"/bin/sleep", "1000"});
  auto start = std::chrono::steady_clock::now();
  CHECK(child.read_line(1ms) == std::nullopt);
  CHECK(child.read_line(0ms) == std::nullopt);
  CHECK(since(start) < 1s);
  CHECK_FALSE(child.eof());
  CHECK(child.poll_exit() == std::nullopt);
  CHECK(child.wait_exit(1ms) == std::nullopt);
}

TEST_CASE("signal_group reaches the child and is a no-op once it is reaped") {
  auto child = child_process::start({"/bin/sleep", "1000"});
  child.signal_group(SIGUSR1);
  auto status = child.wait_exit(bound);
  REQUIRE(status.has_value());
  REQUIRE(WIFSIGNALED(*status));
  CHECK(WTERMSIG(*status) == SIGUSR1);
  child.signal_group(SIGKILL);
  CHECK(child.stop(bound) == *status);
}

TEST_CASE("the destructor kills and reaps the child, leaving no zombie") {
  pid_t pid = -1;
  SUBCASE("a running child") {
    auto child = child_process::start({"/bin/sleep", "1000"});
    pid = child.pid();
    CHECK_FALSE(reaped(pid));
  }
  SUBCASE("a child that has exited but was not reaped") {
    auto child = shell("echo bye");
    pid = child.pid();
    CHECK(child.read_line(bound) == "bye");
    CHECK(child.read_line(bound) == std::nullopt); // its stdout is closed
  }
  REQUIRE(pid > 0);
  CHECK(reaped(pid));
  CHECK(dead(pid));
}

TEST_CASE("a moved child_process keeps owning the child") {
  auto first = shell("echo one; exec sleep 1000");
  pid_t pid = first.pid();
  auto second = std::move(first);
  CHECK(first.pid() == -1);
  CHECK(first.eof());
  CHECK(first.output_fd() == -1);
  CHECK(second.pid() == pid);
  CHECK(second.read_line(bound) == "one");
  // Assigning over a live child kills and reaps it.
  auto other = child_process::start({"/bin/sleep", "1000"});
  pid_t other_pid = other.pid();
  other = std::move(second);
  CHECK(reaped(other_pid));
  CHECK(other.pid() == pid);
  CHECK_FALSE(reaped(pid));
}

TEST_CASE("stderr can be captured beside stdout, each line tagged") {
  child_options options;
  options.capture_stderr = true;
  auto child = shell("echo to-out; echo to-err >&2", options);
  // The two pipes may be read in either order.
  std::set<std::pair<std::string, output_stream>> lines;
  while (auto line = child.read_output_line(bound))
    lines.emplace(line->text, line->stream);
  CHECK(child.eof());
  CHECK(lines
        == std::set<std::pair<std::string, output_stream>>{
          {"to-out", output_stream::out}, {"to-err", output_stream::err}});
}

TEST_CASE("output_fd polls readable when a line is waiting") {
  child_options options;
  std::string script = "echo line; exec sleep 1000";
  SUBCASE("stdout only") {}
  SUBCASE("stdout and stderr") {
    options.capture_stderr = true;
    script = "echo line >&2; exec sleep 1000";
  }
  SUBCASE("stderr only") {
    options.capture_stdout = false;
    options.capture_stderr = true;
    script = "echo line >&2; exec sleep 1000";
  }
  auto child = shell(script, options);
  int fd = child.output_fd();
  REQUIRE(fd >= 0);
  pollfd p{fd, POLLIN, 0};
  REQUIRE(::poll(&p, 1, 5000) == 1);
  CHECK(child.read_line(0ms) == "line");
  // Nothing else comes (the child sleeps): quiet, and not at eof.
  while (child.read_line(0ms)) {
  }
  CHECK_FALSE(child.eof());
  CHECK(child.stop(bound) != 0);
}

TEST_CASE("nothing captured means no output descriptor and eof at once") {
  child_options options;
  options.capture_stdout = false;
  auto child = shell("exit 0", options);
  CHECK(child.output_fd() == -1);
  CHECK(child.eof());
  CHECK(child.read_line(bound) == std::nullopt);
  auto status = child.wait_exit(bound);
  REQUIRE(status.has_value());
  CHECK(describe_status(*status) == "exit 0");
}

TEST_CASE("die_with_parent ties the child to the thread that started it") {
  child_options options;
  options.capture_stdout = false;
  SUBCASE("with the flag the child dies with that thread") {
    options.die_with_parent = true;
    std::optional<child_process> child;
    std::thread([&] {
      child.emplace(child_process::start({"/bin/sleep", "1000"}, options));
    }).join();
    auto status = child->wait_exit(bound);
    REQUIRE(status.has_value());
    REQUIRE(WIFSIGNALED(*status));
    CHECK(WTERMSIG(*status) == SIGKILL);
  }
  SUBCASE("without it the child outlives that thread") {
    std::optional<child_process> child;
    std::thread([&] {
      child.emplace(child_process::start({"/bin/sleep", "1000"}, options));
    }).join();
    CHECK(child->wait_exit(100ms) == std::nullopt);
  }
}

TEST_CASE("describe_status puts a raw waitpid status in words") {
  CHECK(describe_status(0) == "exit 0");
  CHECK(describe_status(3 << 8) == "exit 3");
  CHECK(describe_status(SIGKILL) == "killed by signal 9 (Killed)");
  CHECK(describe_status(SIGABRT | 0x80)
        == "killed by signal 6 (Aborted), core dumped");
  CHECK(describe_status(paramserv::app::unknown_status) == "unknown status");
  // The same encoding as a real child's.
  auto child = shell("kill -9 $$");
  auto status = child.wait_exit(bound);
  REQUIRE(status.has_value());
  CHECK(describe_status(*status) == "killed by signal 9 (Killed)");
}
