// Push+pull round trips between two processes over 127.0.0.1, against two
// baselines measured in the same run:
//
//   shard  a worker's push of N floats to a real server shard (asp, sgd:
//          checked and applied) and its pull of the N floats back, as the
//          worker does it (request, reply, request, reply)
//   caf    the same two requests and replies with the same message types to
//          a minimal actor that only answers (CAF's own ceiling)
//   tcp    the same bytes over a plain loopback TCP socket: N floats and an
//          8-byte ack, an 8-byte request and N floats back
//
// The parent forks the server process before either starts a thread, reads
// its ports from a pipe and drives the three in interleaved rounds, for
// each size. Per round and size each system makes as many round trips as
// move `--budget` floats each way (at least 3). Reports the time of a round
// trip, bytes per second (2 N 4 bytes per round trip) and the ratios
// shard/caf and shard/tcp of the same round, as median [min-max].
//
//   build/paramserv_transport_bench [--sizes 10000,100000,1000000,10000000]
//                                   [--rounds 5] [--budget 100000000]

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/net/cluster.hpp"
#include "actors/server_shard.hpp"
#include "messages/job_messages.hpp"
#include "messages/parameter_messages.hpp"
#include "messages/scheduler_actor.hpp"
#include "messages/server_shard_actor.hpp"

using namespace paramserv;
using std::chrono::steady_clock;

namespace {

constexpr auto reply_timeout = std::chrono::seconds(60);

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "paramserv_transport_bench: error: %s\n", what.c_str());
  std::exit(1);
}

// -- raw TCP --------------------------------------------------------------

void write_all(int fd, const void* data, size_t n) {
  auto p = static_cast<const char*>(data);
  while (n > 0) {
    auto k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k <= 0)
      die(std::string{"tcp send: "} + std::strerror(errno));
    p += k;
    n -= static_cast<size_t>(k);
  }
}

// False on a clean end of stream before the first byte.
bool read_all(int fd, void* data, size_t n) {
  auto p = static_cast<char*>(data);
  size_t got = 0;
  while (got < n) {
    auto k = ::recv(fd, p + got, n - got, 0);
    if (k == 0 && got == 0)
      return false;
    if (k <= 0)
      die(std::string{"tcp recv: "} + std::strerror(errno));
    got += static_cast<size_t>(k);
  }
  return true;
}

void no_delay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// A listening socket on 127.0.0.1 with a port the OS picks.
std::pair<int, uint16_t> tcp_listen() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0
      || ::listen(fd, 4) != 0
      || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    die(std::string{"tcp listen: "} + std::strerror(errno));
  return {fd, ntohs(addr.sin_port)};
}

// Serves one connection: 'P' + n (8 bytes) + n floats -> 8-byte ack;
// 'L' + n -> n floats.
void tcp_serve(int listener) {
  int fd = ::accept(listener, nullptr, nullptr);
  if (fd < 0)
    die(std::string{"tcp accept: "} + std::strerror(errno));
  no_delay(fd);
  std::vector<float> buf;
  for (;;) {
    char op;
    uint64_t n;
    if (!read_all(fd, &op, 1))
      break;
    read_all(fd, &n, sizeof n);
    buf.resize(n);
    if (op == 'P') {
      read_all(fd, buf.data(), n * sizeof(float));
      write_all(fd, &n, sizeof n);
    } else {
      write_all(fd, buf.data(), n * sizeof(float));
    }
  }
  ::close(fd);
}

int tcp_connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0
      || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    die(std::string{"tcp connect: "} + std::strerror(errno));
  no_delay(fd);
  return fd;
}

void tcp_round_trip(int fd, std::vector<float>& xs) {
  uint64_t n = xs.size();
  char op = 'P';
  write_all(fd, &op, 1);
  write_all(fd, &n, sizeof n);
  write_all(fd, xs.data(), n * sizeof(float));
  uint64_t ack;
  read_all(fd, &ack, sizeof ack);
  op = 'L';
  write_all(fd, &op, 1);
  write_all(fd, &n, sizeof n);
  read_all(fd, xs.data(), n * sizeof(float));
}

// -- the server process ---------------------------------------------------

// The minimal CAF peer: takes a push, answers a pull with what it holds.
// (It takes the buffer it starts with: CAF 0.17 dereferences a null argument
// tuple when it spawns a function that takes no arguments.)
caf::behavior echo(shared_floats initial) {
  auto held = std::make_shared<shared_floats>(std::move(initial));
  return {
    [=](push_atom, gradient_push& p) -> uint64_t {
      *held = shared_floats{std::move(p.values)};
      return 1;
    },
    [=](pull_atom, const parameter_pull& p) {
      parameter_slice s;
      s.job = p.job;
      s.values = *held;
      return s;
    },
  };
}

// Relays every actor handle it gets to `owner` (how the client's worker
// makes itself known to the shards' stand-in scheduler).
caf::behavior door(caf::event_based_actor* self, caf::actor owner) {
  return {
    [=](caf::actor& peer) {
      self->send(owner, std::move(peer));
    },
  };
}

// Ports the server process writes to its pipe.
struct ports {
  uint16_t tcp = 0;
  uint16_t echo = 0;
  uint16_t door = 0;
  uint16_t shards[8] = {};
};

[[noreturn]] void serve(int pipe_out, const std::vector<size_t>& sizes) {
  auto [listener, tcp_port] = tcp_listen();
  std::thread tcp_thread{tcp_serve, listener};
  {
    caf::actor_system_config cfg;
    configure_node(cfg, network_options{}, 2);
    caf::actor_system sys{cfg};
    ports out;
    out.tcp = tcp_port;
    auto& mm = sys.middleman();
    auto publish = [&](auto handle) {
      auto port = mm.publish(handle, 0, "127.0.0.1");
      if (!port)
        die("publish: " + sys.render(port.error()));
      return *port;
    };
    std::vector<caf::actor> keep;
    auto echo_actor = sys.spawn(echo, shared_floats{});
    keep.push_back(echo_actor);
    out.echo = publish(echo_actor);
    // The shards' stand-in scheduler: it takes their registrations, sends
    // each its slice (one worker, sgd), and once the client's worker is
    // known sets the roster and asp.
    caf::scoped_actor sched{sys};
    auto sched_handle = caf::actor_cast<scheduler_actor>(sched);
    std::vector<server_shard_actor> shards;
    for (size_t i = 0; i < sizes.size(); ++i) {
      auto shard = sys.spawn(server_shard, shard_config{sched_handle, nullptr});
      sched->receive([](register_atom, const registration&) {});
      optimizer_options opt;
      opt.kind = "sgd";
      sched->send(shard,
        shard_slice{i + 1, 0, 1, std::vector<float>(sizes[i], 0.5f), opt});
      out.shards[i] = publish(shard);
      shards.push_back(shard);
      keep.push_back(caf::actor_cast<caf::actor>(shard));
    }
    auto door_actor = sys.spawn(door, caf::actor_cast<caf::actor>(sched));
    keep.push_back(door_actor);
    out.door = publish(door_actor);
    if (::write(pipe_out, &out, sizeof out) != sizeof out)
      die("cannot write the ports");
    ::close(pipe_out);
    caf::actor worker;
    sched->receive([&](caf::actor& peer) {
      worker = std::move(peer);
    });
    // asp first: once the roster is in, the client's pushes are applied.
    for (size_t i = 0; i < shards.size(); ++i) {
      sched
        ->request(shards[i], reply_timeout, mode_atom::value,
          shard_mode{i + 1, consistency::asp, 1e-6f})
        .receive([](uint64_t) {},
          [&](caf::error& err) {
            die("mode: " + sys.render(err));
          });
      sched
        ->request(shards[i], reply_timeout, roster_atom::value,
          worker_roster{i + 1, {worker}})
        .receive([](uint64_t) {},
          [&](caf::error& err) {
            die("roster: " + sys.render(err));
          });
    }
    // Until the client goes (its proxy's down message).
    sched->monitor(worker);
    sched->receive([](caf::down_msg&) {});
    for (auto& x : keep)
      caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
  }
  tcp_thread.join();
  std::_Exit(0);
}

// -- the client -----------------------------------------------------------

struct figures {
  // Round trip seconds of each round.
  std::vector<double> rt;
};

std::string spread(std::vector<double> xs, double scale, const char* fmt) {
  std::sort(xs.begin(), xs.end());
  auto med = xs.size() % 2 ? xs[xs.size() / 2]
                           : (xs[xs.size() / 2 - 1] + xs[xs.size() / 2]) / 2;
  char buf[128];
  std::string f = std::string{fmt} + " [" + fmt + "-" + fmt + "]";
  std::snprintf(buf, sizeof buf, f.c_str(), med * scale, xs.front() * scale,
    xs.back() * scale);
  return buf;
}

std::vector<size_t> parse_sizes(const std::string& text) {
  std::vector<size_t> result;
  size_t at = 0;
  while (at <= text.size()) {
    auto end = text.find(',', at);
    auto item = text.substr(at, end == std::string::npos ? end : end - at);
    char* stop = nullptr;
    auto n = std::strtoull(item.c_str(), &stop, 10);
    if (item.empty() || *stop != '\0' || n == 0 || n > (size_t{1} << 27))
      die("--sizes: expected floats from 1 to 2^27, comma-separated, got \""
          + text + "\"");
    result.push_back(n);
    if (end == std::string::npos)
      break;
    at = end + 1;
  }
  if (result.size() > 8)
    die("--sizes: at most 8 sizes");
  return result;
}

} // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes{10000, 100000, 1000000, 10000000};
  size_t rounds = 5;
  double budget = 1e8;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        die(arg + ": missing value");
      return argv[++i];
    };
    if (arg == "--sizes")
      sizes = parse_sizes(value());
    else if (arg == "--rounds")
      rounds = std::strtoul(value().c_str(), nullptr, 10);
    else if (arg == "--budget")
      budget = std::strtod(value().c_str(), nullptr);
    else
      die(arg + ": unknown option (--sizes, --rounds, --budget)");
  }
  if (rounds < 5)
    die("--rounds: at least 5 (figures are median [min-max])");
  if (!(budget >= 1))
    die("--budget: a positive number of floats");
  int fds[2];
  if (::pipe(fds) != 0)
    die("pipe");
  auto pid = ::fork();
  if (pid < 0)
    die("fork");
  if (pid == 0) {
    ::close(fds[0]);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    serve(fds[1], sizes);
  }
  ::close(fds[1]);
  ports in;
  if (::read(fds[0], &in, sizeof in) != sizeof in)
    die("the server process did not start");
  ::close(fds[0]);
  int result = 0;
  {
    caf::actor_system_config cfg;
    configure_node(cfg, network_options{}, 2);
    caf::actor_system sys{cfg};
    auto& mm = sys.middleman();
    caf::scoped_actor self{sys};
    auto echo_peer = mm.remote_actor("127.0.0.1", in.echo);
    auto door_peer = mm.remote_actor("127.0.0.1", in.door);
    if (!echo_peer || !door_peer)
      die("cannot reach the server process");
    std::vector<server_shard_actor> shards;
    for (size_t i = 0; i < sizes.size(); ++i) {
      auto s = mm.remote_actor<server_shard_actor>("127.0.0.1", in.shards[i]);
      if (!s)
        die("cannot reach shard " + std::to_string(i) + ": "
            + sys.render(s.error()));
      shards.push_back(*s);
    }
    self->send(*door_peer, caf::actor_cast<caf::actor>(self));
    int tcp = tcp_connect(in.tcp);
    // push+pull through CAF with `to`, job `job`; returns the version read.
    auto caf_round_trip = [&](auto to, uint64_t job, uint64_t version,
                            std::vector<float>& xs) {
      uint64_t read = 0;
      self
        ->request(to, reply_timeout, push_atom::value,
          gradient_push{job, 0, 1, version, 1, xs})
        .receive([](uint64_t) {},
          [&](caf::error& err) {
            die("push: " + sys.render(err));
          });
      self->request(to, reply_timeout, pull_atom::value, parameter_pull{job, 0})
        .receive(
          [&](parameter_slice& s) {
            if (s.values.size() != xs.size())
              die("pull: wrong size");
            read = s.version;
          },
          [&](caf::error& err) {
            die("pull: " + sys.render(err));
          });
      return read;
    };
    // Waits until the shards took the roster: a push is refused before.
    for (size_t i = 0; i < sizes.size(); ++i) {
      bool ready = false;
      for (int tries = 0; !ready && tries < 10000; ++tries)
        self
          ->request(shards[i], reply_timeout, pull_atom::value,
            parameter_pull{i + 1, 0})
          .receive(
            [&](parameter_slice&) {
              ready = true;
            },
            [&](caf::error&) {
              // Not yet in the roster: ask again (the reply is the wait).
            });
      if (!ready)
        die("shard " + std::to_string(i) + " never took the roster");
    }
    const char* systems[] = {"tcp", "caf", "shard"};
    std::map<std::pair<size_t, int>, figures> seen;
    std::vector<uint64_t> versions(sizes.size(), 0);
    for (size_t r = 0; r < rounds; ++r) {
      std::fprintf(stderr, "round %zu/%zu\n", r + 1, rounds);
      for (size_t i = 0; i < sizes.size(); ++i) {
        auto n = sizes[i];
        std::vector<float> xs(n, 1e-3f);
        size_t trips = std::max<size_t>(3, static_cast<size_t>(budget / n));
        for (int s = 0; s < 3; ++s) {
          // One warm-up trip, then the timed ones.
          auto one = [&] {
            if (s == 0)
              tcp_round_trip(tcp, xs);
            else if (s == 1)
              caf_round_trip(*echo_peer, i + 1, 0, xs);
            else
              versions[i] = caf_round_trip(shards[i], i + 1, versions[i], xs);
          };
          one();
          auto t0 = steady_clock::now();
          for (size_t k = 0; k < trips; ++k)
            one();
          std::chrono::duration<double> dt = steady_clock::now() - t0;
          seen[{i, s}].rt.push_back(dt.count() / trips);
        }
      }
    }
    std::printf("push+pull round trips over 127.0.0.1, %zu interleaved "
                "rounds, median [min-max]\n",
      rounds);
    std::printf("%-10s %-6s %28s %26s %22s %22s\n", "floats", "system",
      "round trip (ms)", "GB/s (2 x 4 N bytes)", "shard/caf", "shard/tcp");
    for (size_t i = 0; i < sizes.size(); ++i) {
      for (int s = 0; s < 3; ++s) {
        auto& rt = seen[{i, s}].rt;
        std::vector<double> gbs;
        for (auto t : rt)
          gbs.push_back(2.0 * 4.0 * sizes[i] / t / 1e9);
        std::string caf_ratio, tcp_ratio;
        if (s == 2) {
          std::vector<double> vs_caf, vs_tcp;
          for (size_t r = 0; r < rounds; ++r) {
            // Ratios of speed (inverse round trip time) within a round.
            vs_caf.push_back(seen[{i, 1}].rt[r] / rt[r]);
            vs_tcp.push_back(seen[{i, 0}].rt[r] / rt[r]);
          }
          caf_ratio = spread(vs_caf, 1, "%.2f");
          tcp_ratio = spread(vs_tcp, 1, "%.2f");
        }
        std::printf("%-10zu %-6s %28s %26s %22s %22s\n", sizes[i], systems[s],
          spread(rt, 1e3, "%.3f").c_str(), spread(gbs, 1, "%.2f").c_str(),
          caf_ratio.c_str(), tcp_ratio.c_str());
      }
    }
    std::printf("(ratios: shard speed over the baseline's, same round)\n");
    ::close(tcp);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "paramserv_transport_bench: the server process "
                         "did not end well\n");
    result = 1;
  }
  return result;
}
