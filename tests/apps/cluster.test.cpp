// End-to-end tests of the distributed backend: `paramserv launch` and
// `paramserv node` processes on 127.0.0.1, with ports the operating system
// picks. Every process is a child_process (its own process group, killed
// and reaped when the test ends, whatever the path); every wait is on an
// event (a line, an exit) with a bound that only guards against a hang.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <poll.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/local_backend.hpp"
#include "actors/local_node.hpp"
#include "actors/net/cluster.hpp"
#include "actors/net/endpoint.hpp"
#include "actors/scheduler.hpp"
#include "actors/server_shard.hpp"
#include "actors/worker.hpp"
#include "linalg/models/model.hpp"
#include "linalg/optim/optimizer.hpp"
#include "apps/process.hpp"
#include "linalg/core/random.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;
using namespace paramserv::app;
using std::chrono::milliseconds;

namespace {

// Generous bounds: they only keep a broken build from hanging the suite.
constexpr milliseconds start_bound{30000};
constexpr milliseconds run_bound{120000};

// A temporary directory with blobs data as CSV (label first).
struct cluster_fixture {
  test::temp_dir dir{"paramserv-cluster"};
  std::string data;

  explicit cluster_fixture(size_t rows = 600)
    : data(test::blobs_csv(dir, "blobs.csv", rows, 7)) {}

  // The job flags of a small softmax job on the blobs.
  std::vector<std::string> job(size_t epochs, const std::string& mode) const {
    std::vector<std::string> a{"--data", data, "--test-data", data, "--model",
      "softmax", "--optimizer", "sgd", "--lr", "0.1", "--batch-size", "16",
      "--epochs", std::to_string(epochs), "--seed", "3"};
    if (mode == "ssp")
      a.insert(a.end(), {"--mode", "ssp", "--staleness", "1"});
    else if (mode == "sbp")
      a.insert(a.end(), {"--mode", "sbp", "--backup-workers", "1"});
    else
      a.insert(a.end(), {"--mode", mode});
    return a;
  }
};

std::vector<std::string> concat(
  std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

child_process start(const std::vector<std::string>& args) {
  std::vector<std::string> argv{PARAMSERV_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  child_options opts;
  opts.capture_stdout = true;
  opts.capture_stderr = true;
  return child_process::start(argv, opts);
}

// What a finished process printed, and how it ended.
struct finished {
  int status = -1;
  std::string text;

  bool ok() const {
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  int code() const {
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
};

// Reads `p`'s output to its end and reaps it, within `bound`; `before` is
// output read earlier.
finished finish(child_process& p, milliseconds bound, std::string before = {}) {
  finished result;
  result.text = std::move(before);
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (!p.eof()) {
    auto left = std::chrono::duration_cast<milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      break;
    if (auto line = p.read_line(left))
      result.text += *line + "\n";
  }
  auto left = std::chrono::duration_cast<milliseconds>(
    deadline - std::chrono::steady_clock::now());
  auto status = p.wait_exit(std::max(left, milliseconds(0)));
  if (!status) {
    FAIL_CHECK("process " << p.pid() << " did not end in time; output:\n"
                          << result.text);
    status = p.stop(milliseconds(1000));
  }
  result.status = *status;
  return result;
}

// Waits for a line containing `needle`; returns it (empty on failure)
// and appends everything read to `log`.
std::string await_line(child_process& p, const std::string& needle,
  std::string& log, milliseconds bound = start_bound) {
  std::vector<std::string> seen;
  auto line = p.wait_for_line(needle, bound, &seen);
  for (auto& s : seen)
    log += s + "\n";
  if (!line) {
    FAIL_CHECK("no line with \"" << needle << "\"; output:\n" << log);
    return {};
  }
  log += *line + "\n";
  return *line;
}

// The scheduler's address from its "listening on HOST:PORT," line.
std::string address_of(const std::string& line) {
  static const std::string marker = "listening on ";
  auto at = line.find(marker);
  REQUIRE(at != std::string::npos);
  auto rest = line.substr(at + marker.size());
  return rest.substr(0, rest.find_first_of(", "));
}

std::map<std::string, std::string> summary(const std::string& text) {
  std::map<std::string, std::string> result;
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line))
    if (line.rfind("summary ", 0) == 0)
      last = line;
  std::istringstream words(last);
  std::string word;
  while (words >> word)
    if (auto eq = word.find('='); eq != std::string::npos)
      result[word.substr(0, eq)] = word.substr(eq + 1);
  return result;
}

// A cluster started node by node: a scheduler, one server node, and a
// worker node per worker.
struct nodes {
  child_process scheduler;
  std::string log;
  std::string address;
  child_process server;
  std::vector<child_process> workers;
};

nodes start_nodes(const cluster_fixture& f, const std::vector<std::string>& job,
  size_t workers, const std::vector<std::string>& extra = {}) {
  nodes n;
  n.scheduler = start(concat(concat({"node", "--role", "scheduler"}, job),
    concat(extra, {"--workers", std::to_string(workers), "--shards", "1"})));
  n.address = address_of(await_line(n.scheduler, "listening on", n.log));
  n.server = start(concat(
    {"node", "--role", "server", "--join", n.address, "--local-shards", "1"},
    extra));
  for (size_t w = 0; w < workers; ++w)
    n.workers.push_back(
      start(concat({"node", "--role", "worker", "--join", n.address}, extra)));
  (void)f;
  return n;
}

} // namespace

TEST_CASE("paramserv launch trains with 2 server and 2 worker nodes in every "
          "mode") {
  cluster_fixture f;
  for (std::string mode : {"bsp", "asp", "ssp", "sbp", "hogwild"}) {
    CAPTURE(mode);
    auto p = start(concat({"launch", "--server-nodes", "2", "--worker-nodes",
                            "2", "--shards", "2", "--workers", "2"},
      f.job(3, mode)));
    auto out = finish(p, run_bound);
    CHECK_MESSAGE(out.ok(), out.text);
    auto s = summary(out.text);
    REQUIRE(s.count("test_accuracy") == 1);
    CHECK(std::stod(s["test_accuracy"]) > 0.9);
    CHECK(s["backend"] == "cluster");
    // Every node ended when the job did.
    size_t ended = 0;
    for (size_t at = 0;
         (at = out.text.find("the job ended", at)) != std::string::npos; ++at)
      ++ended;
    CHECK_MESSAGE(ended == 4, out.text);
    if (mode == "hogwild")
      CHECK(test::contains(out.text, "running asp instead"));
  }
}

TEST_CASE("a distributed bsp run saves the same model bytes as the local "
          "backend") {
  cluster_fixture f;
  auto local = f.dir / "local";
  auto cluster = f.dir / "cluster";
  auto topology = std::vector<std::string>{"--shards", "2", "--workers", "2"};
  auto a = start(
    concat(concat({"train", "--backend", "local", "--save", local}, topology),
      f.job(3, "bsp")));
  auto out_a = finish(a, run_bound);
  REQUIRE_MESSAGE(out_a.ok(), out_a.text);
  auto b = start(concat(concat({"launch", "--server-nodes", "2",
                                 "--worker-nodes", "2", "--save", cluster},
                          topology),
    f.job(3, "bsp")));
  auto out_b = finish(b, run_bound);
  REQUIRE_MESSAGE(out_b.ok(), out_b.text);
  auto x = test::tensors(local);
  auto y = test::tensors(cluster);
  REQUIRE(x.size() == 4); // W1, b1, input shift and scale
  CHECK(x == y);
  // A different seed gives different bytes: the comparison can fail.
  auto reseeded = f.job(3, "bsp");
  *(std::find(reseeded.begin(), reseeded.end(), "--seed") + 1) = "4";
  auto c
    = start(concat(concat({"launch", "--server-nodes", "2", "--worker-nodes",
                            "2", "--save", f.dir / "other"},
                     topology),
      reseeded));
  REQUIRE(finish(c, run_bound).ok());
  CHECK(test::tensors(f.dir / "other")["W1"] != x["W1"]);
}

TEST_CASE("a worker node killed mid-run leaves a finished run that says so") {
  cluster_fixture f{2000};
  for (std::string mode : {"bsp", "asp"}) {
    CAPTURE(mode);
    auto metrics = f.dir / ("metrics-" + mode + ".csv");
    auto n = start_nodes(f, concat(f.job(20, mode), {"--metrics", metrics}), 2);
    await_line(n.scheduler, "epoch 1/20", n.log, run_bound);
    n.workers[1].signal_group(SIGKILL);
    auto out = finish(n.scheduler, run_bound, n.log);
    CHECK_MESSAGE(out.ok(), out.text);
    CHECK(test::contains(out.text, "going on with 1 of 2 workers"));
    CHECK(test::contains(out.text, "epoch 20/20"));
    // The metrics say when a worker was lost, and how many were left.
    std::ifstream in(metrics);
    std::string header, row;
    std::getline(in, header);
    CHECK(header.ends_with(",workers,workers_lost,rows,rows_reassigned,"
                           "shards_restored,recovery_s,validation_loss,"
                           "validation_accuracy"));
    auto cells = [](const std::string& line) {
      std::vector<std::string> result;
      std::stringstream in(line);
      for (std::string cell; std::getline(in, cell, ',');)
        result.push_back(cell);
      return result;
    };
    auto names = cells(header);
    auto column = [&](const std::string& name) {
      return std::find(names.begin(), names.end(), name) - names.begin();
    };
    auto workers = column("workers"), workers_lost = column("workers_lost");
    size_t lost = 0, rows = 0;
    std::vector<std::string> last;
    while (std::getline(in, row)) {
      ++rows;
      last = cells(row);
      REQUIRE(last.size() == names.size());
      lost += last[workers_lost] == "1" ? 1 : 0;
    }
    CHECK(rows == 20);
    CHECK(lost == 1);
    // One worker left, none lost then.
    CHECK(last[workers] == "1");
    CHECK(last[workers_lost] == "0");
    CHECK(finish(n.server, run_bound).ok());
    CHECK(finish(n.workers[0], run_bound).ok());
  }
}

TEST_CASE("killing the scheduler stops every node with a clear message") {
  cluster_fixture f{2000};
  auto n = start_nodes(f, f.job(50, "asp"), 2);
  await_line(n.scheduler, "epoch 1/50", n.log, run_bound);
  n.scheduler.signal_group(SIGKILL);
  finish(n.scheduler, run_bound);
  for (auto* p : {&n.server, &n.workers[0], &n.workers[1]}) {
    auto out = finish(*p, run_bound);
    CHECK(out.code() == 1);
    CHECK_MESSAGE(
      test::contains(out.text, "lost the scheduler at " + n.address), out.text);
  }
}

TEST_CASE("a joiner without the cluster secret is refused and the job goes "
          "on") {
  cluster_fixture f;
  auto good = f.dir.write("good.secret", "correct horse battery staple\n");
  auto bad = f.dir.write("bad.secret", "wrong horse\n");
  ::chmod(good.c_str(), 0600);
  ::chmod(bad.c_str(), 0600);
  nodes n;
  n.scheduler = start(concat({"node", "--role", "scheduler", "--workers", "1",
                               "--shards", "1", "--secret-file", good},
    f.job(2, "bsp")));
  n.address = address_of(await_line(n.scheduler, "listening on", n.log));
  auto intruder = start(
    {"node", "--role", "worker", "--join", n.address, "--secret-file", bad});
  auto refused = finish(intruder, run_bound);
  CHECK(refused.code() == 1);
  CHECK_MESSAGE(test::contains(refused.text, "did not prove it holds the "
                                             "cluster secret"),
    refused.text);
  auto nosecret = start({"node", "--role", "worker", "--join", n.address});
  CHECK(finish(nosecret, run_bound).code() == 1);
  n.server = start(
    {"node", "--role", "server", "--join", n.address, "--secret-file", good});
  n.workers.push_back(start(
    {"node", "--role", "worker", "--join", n.address, "--secret-file", good}));
  auto out = finish(n.scheduler, run_bound, n.log);
  CHECK_MESSAGE(out.ok(), out.text);
  CHECK(test::contains(out.text, "refused a registration"));
  CHECK(test::contains(out.text, "epoch 2/2"));
  // A secret file others may read is refused before anything starts.
  ::chmod(good.c_str(), 0644);
  auto loose = start(
    {"node", "--role", "worker", "--join", n.address, "--secret-file", good});
  auto loose_out = finish(loose, run_bound);
  CHECK(loose_out.code() == 2);
  CHECK(test::contains(loose_out.text, good));
}

namespace {

uint16_t port_of(const std::string& address) {
  return static_cast<uint16_t>(
    std::stoul(address.substr(address.rfind(':') + 1)));
}

int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  return fd;
}

} // namespace

TEST_CASE("random bytes written to the scheduler's port do not stop the run") {
  cluster_fixture f;
  nodes n;
  n.scheduler = start(
    concat({"node", "--role", "scheduler", "--workers", "1", "--shards", "1"},
      f.job(2, "asp")));
  n.address = address_of(await_line(n.scheduler, "listening on", n.log));
  auto port = port_of(n.address);
  rng gen{11};
  for (int round = 0; round < 5; ++round) {
    int fd = connect_loopback(port);
    std::string junk(65536, '\0');
    for (auto& c : junk)
      c = static_cast<char>(gen.below(256));
    // The node may close the connection midway: a short write is fine.
    [[maybe_unused]] auto sent
      = ::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
    ::close(fd);
  }
  n.server = start({"node", "--role", "server", "--join", n.address});
  n.workers.push_back(start({"node", "--role", "worker", "--join", n.address}));
  auto out = finish(n.scheduler, run_bound, n.log);
  CHECK_MESSAGE(out.ok(), out.text);
  CHECK(test::contains(out.text, "epoch 2/2"));
}

TEST_CASE("a listener on an address other than loopback needs TLS") {
  cluster_fixture f;
  // 192.0.2.0/24 is TEST-NET-1: never assigned, so nothing is bound.
  auto sched
    = start(concat({"node", "--role", "scheduler", "--listen", "192.0.2.1:0"},
      f.job(1, "bsp")));
  auto out = finish(sched, run_bound);
  CHECK(out.code() == 2);
  CHECK(test::contains(out.text, "192.0.2.1:0"));
  CHECK(test::contains(out.text, "needs mutual TLS"));
  auto server = start({"node", "--role", "server", "--join", "127.0.0.1:1",
    "--listen", "192.0.2.1:0"});
  auto out2 = finish(server, run_bound);
  CHECK(out2.code() == 2);
  CHECK(test::contains(out2.text, "needs mutual TLS"));
}

TEST_CASE("joining where nobody listens fails with one line after retrying") {
  // A port the system just handed out and took back: nobody listens there.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  auto where = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto p = start(
    {"node", "--role", "worker", "--join", where, "--join-timeout", "0.5"});
  auto out = finish(p, run_bound);
  CHECK(out.code() == 1);
  CHECK_MESSAGE(test::contains(out.text,
                  "cannot join the scheduler at " + where + " within 0.5 s"),
    out.text);
  CHECK(std::count(out.text.begin(), out.text.end(), '\n') == 1);
}

TEST_CASE("the scheduler gives up on a topology that does not join in "
          "time") {
  cluster_fixture f;
  std::string log;
  auto sched = start(concat(
    {"node", "--role", "scheduler", "--workers", "2", "--join-timeout", "0.5"},
    f.job(1, "bsp")));
  await_line(sched, "listening on", log);
  auto out = finish(sched, run_bound, log);
  CHECK(out.code() == 1);
  CHECK_MESSAGE(test::contains(out.text, "0 of 1 shards and 0 of 2 workers "
                                         "registered in the join timeout"),
    out.text);
}

namespace {

// Certificates from `paramserv certs DIR --nodes n`, and the TLS flags of
// node `i` (1-based).
struct cluster_certs {
  std::string dir;

  cluster_certs(
    const test::temp_dir& parent, const std::string& name, size_t nodes) {
    dir = parent / name;
    auto p = start({"certs", dir, "--nodes", std::to_string(nodes)});
    auto out = finish(p, run_bound);
    REQUIRE_MESSAGE(out.ok(), out.text);
  }

  std::vector<std::string> flags(size_t i) const {
    auto node = dir + "/node-" + std::to_string(i);
    return {"--tls-cert", node + ".pem", "--tls-key", node + ".key", "--tls-ca",
      dir + "/ca.pem"};
  }
};

// Resident memory of process `pid` in bytes.
size_t resident_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stoul(line.substr(6)) * 1024;
  FAIL("no VmRSS for " << pid);
  return 0;
}

// CAF 0.17's 32-byte BASP header (network byte order) of a client handshake
// that claims a payload of nearly 4 GiB. Its actor ids are zero, so CAF
// takes it as valid and reads on.
std::string huge_basp_header() {
  std::string h(32, '\0');
  h[0] = 0x01; // client_handshake
  h[4] = h[5] = h[6] = static_cast<char>(0xff); // payload_len 0xffffff00
  return h;
}

} // namespace

TEST_CASE("a TLS cluster trains, and a plaintext joiner and one with a "
          "certificate of another CA cannot join") {
  cluster_fixture f;
  cluster_certs certs{f.dir, "certs", 3};
  cluster_certs other{f.dir, "other", 1};
  nodes n;
  n.scheduler = start(concat(
    concat({"node", "--role", "scheduler", "--workers", "1", "--shards", "1"},
      certs.flags(1)),
    f.job(2, "bsp")));
  n.address = address_of(await_line(n.scheduler, "listening on", n.log));
  auto plain = start(
    {"node", "--role", "worker", "--join", n.address, "--join-timeout", "1"});
  auto plain_out = finish(plain, run_bound);
  CHECK(plain_out.code() == 1);
  CHECK_MESSAGE(test::contains(plain_out.text, "cannot join the scheduler"),
    plain_out.text);
  auto stranger = start(concat(
    {"node", "--role", "worker", "--join", n.address, "--join-timeout", "1"},
    other.flags(1)));
  auto stranger_out = finish(stranger, run_bound);
  CHECK(stranger_out.code() == 1);
  CHECK_MESSAGE(test::contains(stranger_out.text, "cannot join the scheduler"),
    stranger_out.text);
  n.server = start(
    concat({"node", "--role", "server", "--join", n.address}, certs.flags(2)));
  n.workers.push_back(start(
    concat({"node", "--role", "worker", "--join", n.address}, certs.flags(3))));
  auto out = finish(n.scheduler, run_bound, n.log);
  CHECK_MESSAGE(out.ok(), out.text);
  CHECK(test::contains(out.text, "epoch 2/2"));
  CHECK(finish(n.server, run_bound).ok());
  CHECK(finish(n.workers[0], run_bound).ok());
}

TEST_CASE("a header claiming a 4 GiB payload grows a TLS node by less than "
          "64 MB") {
  cluster_fixture f;
  cluster_certs certs{f.dir, "certs", 1};
  constexpr size_t bound = size_t{64} << 20;
  auto probe = [&](const std::vector<std::string>& tls) {
    std::string log;
    auto sched = start(concat(
      concat({"node", "--role", "scheduler", "--workers", "1", "--shards", "1"},
        tls),
      f.job(1, "bsp")));
    auto address = address_of(await_line(sched, "listening on", log));
    auto before = resident_bytes(sched.pid());
    int fd = connect_loopback(port_of(address));
    auto header = huge_basp_header();
    REQUIRE(::send(fd, header.data(), header.size(), MSG_NOSIGNAL) == 32);
    size_t grown = 0;
    if (tls.empty()) {
      // Plaintext: CAF allocates what the header claims. Wait (bounded)
      // for the growth, which shows that the measurement sees it.
      auto deadline = std::chrono::steady_clock::now() + start_bound;
      while (grown < bound && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, 10); // a bounded wait between two reads of VmRSS
        auto now = resident_bytes(sched.pid());
        grown = now > before ? now - before : 0;
      }
    } else {
      // TLS: the handshake fails on the plaintext bytes and the node hangs
      // up; by then it has parsed all it ever will.
      pollfd p{fd, POLLIN, 0};
      REQUIRE(::poll(&p, 1, static_cast<int>(start_bound.count())) == 1);
      char buf[256];
      while (::recv(fd, buf, sizeof(buf), 0) > 0) {
      }
      auto now = resident_bytes(sched.pid());
      grown = now > before ? now - before : 0;
    }
    ::close(fd);
    sched.stop(milliseconds(2000));
    return grown;
  };
  auto tls_growth = probe(certs.flags(1));
  CHECK(tls_growth < bound);
  MESSAGE("TLS node grew by " << tls_growth / 1024 << " KiB");
  auto plain_growth = probe({});
  CHECK(plain_growth >= bound); // the probe sees what it guards against
  MESSAGE("plaintext node grew by " << plain_growth / (1 << 20) << " MiB");
}

TEST_CASE("an embedding application's workers join paramserv node processes "
          "and the job finishes") {
  // The scheduler and a server are paramserv node processes; this test
  // process is the embedding application: its own actor system, set up as
  // a node, joins the scheduler and spawns two workers into it.
  cluster_fixture f;
  nodes n;
  n.scheduler = start(
    concat({"node", "--role", "scheduler", "--workers", "2", "--shards", "1"},
      f.job(2, "bsp")));
  n.address = address_of(await_line(n.scheduler, "listening on", n.log));
  n.server = start({"node", "--role", "server", "--join", n.address});
  {
    caf::actor_system_config cfg;
    configure_node(cfg, network_options{}, 2);
    caf::actor_system sys{cfg};
    auto node = std::make_shared<local_node>();
    node->name = "embedder:" + std::to_string(::getpid());
    node->connector = connector_of(sys);
    auto scheduler = join_scheduler(
      sys, parse_endpoint(n.address), std::chrono::milliseconds(start_bound));
    caf::scoped_actor self{sys};
    for (int w = 0; w < 2; ++w) {
      worker_config wc;
      wc.scheduler = scheduler;
      wc.node = node;
      self->monitor(sys.spawn(worker, std::move(wc)));
    }
    // The workers stop when the job ends: normally if it ended well.
    for (int w = 0; w < 2; ++w)
      self->receive(
        [&](caf::down_msg& msg) {
          CHECK_MESSAGE(!msg.reason, sys.render(msg.reason));
        },
        caf::after(run_bound) >>
          [] {
            FAIL("the workers did not stop");
          });
  }
  auto out = finish(n.scheduler, run_bound, n.log);
  CHECK_MESSAGE(out.ok(), out.text);
  CHECK(test::contains(out.text, "epoch 2/2"));
  CHECK(finish(n.server, run_bound).ok());
}

namespace {

// An embedding application's scheduler for a small softmax job on the
// fixture's blobs with `workers` workers and one shard, published on
// 127.0.0.1 with a port the operating system picks.
struct app_scheduler {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<local_node> node = std::make_shared<local_node>();
  job_spec spec;
  scheduler_actor handle;
  std::string address;

  app_scheduler(
    const cluster_fixture& f, train_options opts, uint32_t workers) {
    configure_node(cfg, network_options{}, 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    auto train = std::make_shared<const dataset>(test::blobs(600, 7));
    local_options local;
    local.workers = workers;
    local.shards = 1;
    local.data.path = f.data;
    local.data.format = "csv";
    local.data.classes = train->classes;
    local.data.features = train->features();
    local.data.rows = train->size();
    opts.model.inputs = train->features();
    opts.model.classes = train->classes;
    spec = make_job_spec(opts, local, *train);
    node->name = "embedder:" + std::to_string(::getpid());
    node->train = train;
    node->connector = connector_of(*sys);
    scheduler_config sc;
    sc.spec = spec;
    sc.join_timeout = start_bound;
    handle = sys->spawn(scheduler, std::move(sc));
    endpoint where{"127.0.0.1", 0};
    where.port = publish_at(*sys, handle, where);
    address = to_string(where);
  }

  // Spawns a worker of the job into the application's system.
  void spawn_worker() {
    worker_config wc;
    wc.scheduler = handle;
    wc.node = node;
    sys->spawn(worker, std::move(wc));
  }

  // Spawns a shard of the job into the application's system.
  void spawn_shard() {
    shard_config sc;
    sc.scheduler = handle;
    sc.node = node;
    sys->spawn(server_shard, std::move(sc));
  }

  // Runs the job to its end.
  local_result run() {
    return drive_job(*sys, handle, spec.opts.model);
  }

  // Runs the job; returns why it failed (empty if it did not).
  std::string failure() {
    try {
      run();
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return {};
  }
};

// Plain sgd under another name.
struct renamed_sgd {
  static constexpr size_t state_arrays = 0;

  void update(
    float* w, const float* g, float* const*, size_t n, float lr, size_t) const {
    for (size_t i = 0; i < n; ++i)
      w[i] -= lr * g[i];
  }
};

// The job of `opts` under the application's scheduler, with one paramserv
// node of `role`: a server node and the application's two workers, or a
// worker node and the application's shard.
local_result run_with_node(const cluster_fixture& f, const train_options& opts,
  const std::string& role) {
  app_scheduler app{f, opts, role == "server" ? 2u : 1u};
  if (role == "server") {
    app.spawn_worker();
    app.spawn_worker();
  } else {
    app.spawn_shard();
  }
  auto node = start({"node", "--role", role, "--join", app.address});
  auto result = app.run();
  CHECK(finish(node, run_bound).ok());
  return result;
}

} // namespace

TEST_CASE("a paramserv node asked for an update rule or a model it does not "
          "know refuses the job, naming it") {
  cluster_fixture f;
  auto opts = test::small_options("softmax", "sgd", 0.1f, 2, 3);
  opts.model.hidden.clear();
  SUBCASE("a server node and a custom update rule") {
    register_update_rule("test-cluster-rule", rule_factory(renamed_sgd{}));
    opts.optimizer.kind = "test-cluster-rule";
    app_scheduler app{f, opts, 1};
    // The application's own worker knows everything; the shard is a
    // paramserv node.
    app.spawn_worker();
    auto server = start({"node", "--role", "server", "--join", app.address});
    auto why = app.failure();
    CHECK_MESSAGE(test::contains(why, "server shard 0 on node"), why);
    CHECK_MESSAGE(
      test::contains(why, "unknown update rule \"test-cluster-rule\""), why);
    CHECK_MESSAGE(
      test::contains(why, "sgd, momentum, nesterov, adagrad, adam"), why);
    auto out = finish(server, run_bound);
    CHECK_FALSE(out.ok());
    CHECK_MESSAGE(test::contains(out.text, "test-cluster-rule"), out.text);
    unregister_update_rule("test-cluster-rule");
  }
  SUBCASE("a worker node and a custom model") {
    register_model("test-cluster-model", [](const model_spec& spec) {
      auto builtin = spec;
      builtin.kind = "softmax";
      return make_model(builtin);
    });
    opts.model.kind = "test-cluster-model";
    app_scheduler app{f, opts, 1};
    // The application's own shard; the worker is a paramserv node.
    app.spawn_shard();
    auto node = start({"node", "--role", "worker", "--join", app.address});
    auto why = app.failure();
    CHECK_MESSAGE(test::contains(why, "worker 0"), why);
    CHECK_MESSAGE(
      test::contains(why, "unknown model \"test-cluster-model\""), why);
    CHECK_MESSAGE(test::contains(why, "softmax, mlp"), why);
    auto out = finish(node, run_bound);
    CHECK_FALSE(out.ok());
    CHECK_MESSAGE(test::contains(out.text, "test-cluster-model"), out.text);
    unregister_model("test-cluster-model");
  }
}

TEST_CASE("a custom model trains in a cluster whose shards are a paramserv "
          "node, which needs no model") {
  cluster_fixture f;
  register_model("test-cluster-softmax", [](const model_spec& spec) {
    auto builtin = spec;
    builtin.kind = "softmax";
    return make_model(builtin);
  });
  auto opts = test::small_options("softmax", "sgd", 0.1f, 2, 3);
  opts.model.hidden.clear();
  // The same bsp job twice, the model by its built-in name and by the
  // custom one: the application's two workers, a server node's shard.
  opts.model.kind = "softmax";
  auto builtin = run_with_node(f, opts, "server");
  opts.model.kind = "test-cluster-softmax";
  auto custom = run_with_node(f, opts, "server");
  CHECK(custom.history.size() == 2);
  CHECK(test::same_bits(custom.params.flat(), builtin.params.flat()));
  unregister_model("test-cluster-softmax");
}

TEST_CASE("a custom update rule trains in a cluster whose worker is a "
          "paramserv node, which needs no rule") {
  cluster_fixture f;
  register_update_rule("test-cluster-sgd", rule_factory(renamed_sgd{}));
  auto opts = test::small_options("softmax", "sgd", 0.1f, 2, 3);
  opts.model.hidden.clear();
  // The same bsp job twice, the rule by its built-in name and by the custom
  // one: the application's shard, a worker node.
  opts.optimizer.kind = "sgd";
  auto builtin = run_with_node(f, opts, "worker");
  opts.optimizer.kind = "test-cluster-sgd";
  auto custom = run_with_node(f, opts, "worker");
  CHECK(custom.history.size() == 2);
  CHECK(test::same_bits(custom.params.flat(), builtin.params.flat()));
  unregister_update_rule("test-cluster-sgd");
}

TEST_CASE("a server node killed mid-run is replaced by one that joins, and "
          "the bsp run saves the model of a run without the fault") {
  cluster_fixture f{2000};
  auto plain = f.dir / "plain";
  auto restored = f.dir / "restored";
  auto job = [&](const std::string& save) {
    return concat(
      f.job(20, "bsp"), std::vector<std::string>{"--save", save,
                          "--checkpoint-dir", save + "-checkpoints"});
  };
  {
    auto n = start_nodes(f, job(plain), 2);
    auto out = finish(n.scheduler, run_bound, n.log);
    REQUIRE_MESSAGE(out.ok(), out.text);
    CHECK(finish(n.server, run_bound).ok());
  }
  auto n = start_nodes(f, job(restored), 2);
  await_line(n.scheduler, "checkpoint after epoch 2 written", n.log, run_bound);
  n.server.signal_group(SIGKILL);
  finish(n.server, run_bound);
  await_line(
    n.scheduler, "waiting for a server node to join", n.log, run_bound);
  auto again = start(std::vector<std::string>{
    "node", "--role", "server", "--join", n.address, "--local-shards", "1"});
  auto out = finish(n.scheduler, run_bound, n.log);
  CHECK_MESSAGE(out.ok(), out.text);
  CHECK(test::contains(out.text, "restored from the checkpoint after epoch"));
  CHECK(test::contains(out.text, "epoch 20/20"));
  CHECK(test::tensors(restored) == test::tensors(plain));
  CHECK(finish(again, run_bound).ok());
  for (auto& w : n.workers)
    CHECK(finish(w, run_bound).ok());
}

namespace {

// The pid of the child of `parent` whose command line holds `part`, or -1.
pid_t child_with(pid_t parent, const std::string& part) {
  for (auto& entry : std::filesystem::directory_iterator("/proc")) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream stat(entry.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), {});
    // pid (comm) state ppid ...: comm may hold spaces, so from the last ')'.
    auto close = text.rfind(')');
    if (close == std::string::npos)
      continue;
    std::istringstream rest(text.substr(close + 1));
    std::string state;
    pid_t ppid = -1;
    rest >> state >> ppid;
    if (ppid != parent)
      continue;
    std::ifstream cmd(entry.path() / "cmdline");
    std::string args((std::istreambuf_iterator<char>(cmd)), {});
    std::replace(args.begin(), args.end(), '\0', ' ');
    if (args.find(part) != std::string::npos)
      return static_cast<pid_t>(std::stol(name));
  }
  return -1;
}

} // namespace

TEST_CASE("paramserv launch --max-restarts restarts a killed server node, "
          "and the bsp run saves the model of a run without the fault") {
  cluster_fixture f{2000};
  auto local = f.dir / "local";
  auto launched = f.dir / "launched";
  auto a = start(
    concat({"train", "--backend", "local", "--workers", "2", "--save", local},
      f.job(20, "bsp")));
  REQUIRE(finish(a, run_bound).ok());
  auto p = start(
    concat({"launch", "--server-nodes", "1", "--worker-nodes", "2", "--workers",
             "2", "--max-restarts", "2", "--checkpoint-dir",
             launched + "-checkpoints", "--save", launched},
      f.job(20, "bsp")));
  std::string log;
  await_line(p, "checkpoint after epoch 2 written", log, run_bound);
  auto server = child_with(p.pid(), "--role server");
  REQUIRE(server > 0);
  // Each node runs in its own process group (launch's children do).
  ::kill(-server, SIGKILL);
  await_line(p, "restarted server node 1", log, run_bound);
  await_line(p, "restored from the checkpoint after epoch", log, run_bound);
  // A bsp run back at a checkpoint is the run without the fault so far.
  auto out = finish(p, run_bound, log);
  CHECK_MESSAGE(out.ok(), out.text);
  CHECK(test::contains(out.text, "epoch 20/20"));
  CHECK(test::tensors(launched) == test::tensors(local));
}

TEST_CASE("paramserv launch --max-restarts restarts a killed worker node, "
          "whose workers rejoin the run") {
  cluster_fixture f{2000};
  {
    auto q = start(concat({"launch", "--server-nodes", "1", "--worker-nodes",
                            "2", "--workers", "2", "--max-restarts", "1"},
      f.job(30, "bsp")));
    std::string qlog;
    await_line(q, "epoch 2/30", qlog, run_bound);
    auto worker = child_with(q.pid(), "--role worker");
    REQUIRE(worker > 0);
    ::kill(-worker, SIGKILL);
    await_line(q, "restarted worker node", qlog, run_bound);
    await_line(q, "rejoined", qlog, run_bound);
    auto qout = finish(q, run_bound, qlog);
    CHECK_MESSAGE(qout.ok(), qout.text);
    CHECK(test::contains(qout.text, "epoch 30/30"));
  }
}

TEST_CASE("a server node killed and never replaced ends the run within the "
          "control timeout, naming the shard") {
  cluster_fixture f{2000};
  auto n = start_nodes(f,
    concat(
      f.job(20, "bsp"), std::vector<std::string>{"--checkpoint-dir",
                          f.dir / "checkpoints", "--control-timeout", "1"}),
    2);
  await_line(n.scheduler, "checkpoint after epoch 2 written", n.log, run_bound);
  n.server.signal_group(SIGKILL);
  finish(n.server, run_bound);
  auto out = finish(n.scheduler, run_bound, n.log);
  CHECK(out.code() == 1);
  CHECK(test::contains(out.text, "waiting for a server node to join"));
  CHECK(test::contains(
    out.text, "no server node joined to replace lost shard 0 in 1000 ms"));
  for (auto& w : n.workers)
    CHECK(finish(w, run_bound).code() == 1);
}
