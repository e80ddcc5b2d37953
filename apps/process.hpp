#pragma once

#include <array>
#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace paramserv::app {

/// Options of a child process.
struct child_options {
  /// Read the child's stdout through a pipe (read_line); else it inherits
  /// ours. Default: true.
  bool capture_stdout = true;

  /// Read the child's stderr through a pipe too, else it inherits ours.
  /// read_line then returns the lines of both streams, interleaved as they
  /// arrive (order within one stream is kept); read_output_line tells which
  /// stream each line came from. Default: false.
  bool capture_stderr = false;

  /// Have the kernel send SIGKILL to the child when its parent dies
  /// (prctl(PR_SET_PDEATHSIG)). The "parent" is the *thread* that called
  /// start(): the child is killed when that thread exits, even if the
  /// process lives on, so start such children from a thread that outlives
  /// them (e.g. main). The signal reaches only the child, not what it
  /// started. Default: false.
  bool die_with_parent = false;
};

/// Which of a child's streams a captured line came from.
enum class output_stream { out, err };

/// One captured line of output, without its '\n'.
struct output_line {
  std::string text;
  output_stream stream = output_stream::out;
};

/// A raw waitpid status for a child that someone else reaped (e.g. with
/// SIGCHLD ignored), so that its real status is lost.
inline constexpr int unknown_status = -1;

/// A child process (Linux) in a process group of its own (setpgid in the
/// child before exec), so that signalling the group reaches everything it
/// started, unless that left the group (setsid, setpgid).
///
/// Reaping the child (poll_exit, wait_exit, stop or the destructor) first
/// sends SIGKILL to what is left of its group, while the unreaped child still
/// reserves the group id: nothing it started stays behind in the group. The
/// destructor kills and reaps a child that has not been reaped, so it never
/// leaves a zombie or a stray process.
///
/// Waits are bounded by their timeout and event-driven (poll on the output
/// pipes, on a pidfd for exit). The only unbounded wait is for the kernel to
/// finish a child that was sent SIGKILL. The library installs no signal
/// handlers. The child's stdin is inherited; as it runs in a background
/// process group, reading from a terminal stops it (SIGTTIN).
///
/// Move-only; a moved-from object is empty (pid() == -1, eof()). Not
/// thread-safe: use one object from one thread at a time.
class child_process {
public:
  /// Starts argv: argv[0] is the program, a path or a name looked up in PATH
  /// (execvp); the rest are its arguments. The child gets the default
  /// SIGPIPE disposition and an empty signal mask, whatever ours are.
  /// Returns once the child has exec'd.
  /// @throws std::invalid_argument if argv is empty.
  /// @throws std::runtime_error naming argv[0] and the strerror text if a
  ///   pipe, fork or exec fails (exec failure is reported by the child
  ///   through a close-on-exec pipe; the failed child is reaped).
  static child_process start(
    const std::vector<std::string>& argv, const child_options& options = {});

  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// Kills (SIGKILL to the group) and reaps the child unless it was reaped.
  ~child_process();

  /// The child's pid, also its process group id; -1 when empty. Stays the
  /// same after the child was reaped.
  pid_t pid() const;

  /// The next line (without '\n') of captured output, waiting at most
  /// `timeout` (0: only what is already available). Returns std::nullopt on
  /// timeout or at end of output; eof() tells which. A last line without
  /// '\n' is returned at end of output. Output stays readable after the
  /// child was reaped. The child blocks once a pipe (64 KiB) is full, so
  /// keep reading.
  /// @throws std::system_error if poll or read fails.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);

  /// As read_line, with the stream the line came from.
  std::optional<output_line> read_output_line(
    std::chrono::milliseconds timeout);

  /// Whether all captured output was read (every pipe at end of output, no
  /// line left). True if nothing is captured.
  bool eof() const;

  /// Reads lines until one contains `needle` (returned) or until `timeout`
  /// (in total, not per line) or end of output: std::nullopt. Lines read
  /// before that, not the match, are appended to `seen` if not null.
  /// @throws std::system_error as read_line.
  std::optional<std::string> wait_for_line(const std::string& needle,
    std::chrono::milliseconds timeout,
    std::vector<std::string>* seen = nullptr);

  /// Sends `sig` to the child's process group; a no-op once the child was
  /// reaped (the group id may then belong to someone else).
  void signal_group(int sig);

  /// Non-blocking: the raw waitpid status if the child ended (reaping it),
  /// else std::nullopt. Returns the same status again after that.
  std::optional<int> poll_exit();

  /// Waits at most `timeout` for the child to end; its raw waitpid status
  /// (reaping it) or std::nullopt. Returns at once if it was reaped.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  /// SIGTERM (and SIGCONT, in case it is stopped) to the group, waits up to
  /// `grace` for the child to end, then SIGKILL to the group and reaps the
  /// child. Returns its raw status (at once if it was reaped already).
  int stop(std::chrono::milliseconds grace);

  /// A file descriptor for poll() in an event loop, -1 if nothing is
  /// captured: the output pipe, or with both streams captured an epoll
  /// descriptor over both pipes. It polls readable when read_line may have
  /// a line; then call read_line with a zero timeout until it returns
  /// std::nullopt and check eof(). Do not read from it. Valid as long as the
  /// object; at end of output it may keep polling readable (hang-up) or go
  /// quiet, so stop watching it once eof() is true.
  int output_fd() const;

  /// An empty object: no child (pid() == -1, eof()), as after a move.
  child_process() = default;

private:
  using clock = std::chrono::steady_clock;

  // Whether the child ended (a zombie or reaped), without reaping it.
  bool ended();
  // Waits for ended() until the deadline.
  bool wait_ended(clock::time_point deadline);
  // SIGKILL to the group, then reaps the child (waiting for it to die).
  int reap() noexcept;
  // Reads once from the pipe of stream `s` and queues its complete lines.
  void fill(size_t s);
  // Reaps the child if needed and closes every descriptor.
  void release() noexcept;

  pid_t pid_ = -1;
  bool reaped_ = true;
  int status_ = unknown_status;
  int pidfd_ = -1;
  int epoll_fd_ = -1;
  // The read ends of the stdout and stderr pipes, -1 if not captured.
  std::array<int, 2> pipe_fd_{-1, -1};
  // Whether the pipe of a stream reached end of output.
  std::array<bool, 2> pipe_eof_{true, true};
  // The unfinished last line of each stream.
  std::array<std::string, 2> partial_;
  std::deque<output_line> lines_;
};

/// A raw waitpid status in words: "exit 0", "exit 3", "killed by signal 9
/// (Killed)", "killed by signal 6 (Aborted), core dumped", "stopped by
/// signal 19 (Stopped (signal))", "continued", or "unknown status" for
/// unknown_status.
std::string describe_status(int status);

} // namespace paramserv::app
