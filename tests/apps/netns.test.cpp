// Several machines, simulated: each node of a cluster runs in a network
// namespace of its own, joined to the others by veth pairs to a bridge that
// lives in one more namespace. Every address exists only inside namespaces
// this test creates (and deletes, whatever the path), so no traffic leaves
// them. The scheduler listens on its namespace's address, not loopback, so
// mutual TLS is required and used. Needs root (CI has it); skipped with a
// message otherwise.

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "apps/process.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;
using namespace paramserv::app;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds bound{120000};

// Runs a command to its end; its exit code and output.
std::pair<int, std::string> run(const std::vector<std::string>& argv) {
  child_options opts;
  opts.capture_stdout = true;
  opts.capture_stderr = true;
  auto p = child_process::start(argv, opts);
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (!p.eof() && std::chrono::steady_clock::now() < deadline)
    if (auto line = p.read_line(milliseconds(1000)))
      text += *line + "\n";
  auto status = p.wait_exit(milliseconds(10000));
  if (!status)
    status = p.stop(milliseconds(1000));
  return {WIFEXITED(*status) ? WEXITSTATUS(*status) : -1, text};
}

void must(const std::vector<std::string>& argv) {
  auto [code, text] = run(argv);
  std::string cmd;
  for (auto& a : argv)
    cmd += a + " ";
  REQUIRE_MESSAGE(code == 0, cmd << "failed: " << text);
}

// Namespaces "<prefix>-sw" (the bridge) and "<prefix>-<name>" per node,
// each node with eth0 at 10.<a>.<b>.<i>/24. Deleted on destruction.
class testbed {
public:
  explicit testbed(const std::vector<std::string>& names) {
    prefix_ = "ps" + std::to_string(::getpid() % 100000);
    auto pid = static_cast<unsigned>(::getpid());
    subnet_ = "10." + std::to_string(100 + pid % 100) + "."
              + std::to_string(pid / 100 % 250) + ".";
    switch_ = prefix_ + "-sw";
    must({"ip", "netns", "add", switch_});
    spaces_.push_back(switch_);
    must({"ip", "-n", switch_, "link", "add", "br0", "type", "bridge"});
    must({"ip", "-n", switch_, "link", "set", "br0", "up"});
    for (size_t i = 0; i < names.size(); ++i) {
      auto ns = prefix_ + "-" + names[i];
      auto id = std::to_string(i + 1);
      must({"ip", "netns", "add", ns});
      spaces_.push_back(ns);
      // The pair is made in the node's namespace and its peer moved to the
      // switch: no interface ever appears outside the test's namespaces.
      must({"ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer",
        "name", "p" + id});
      must({"ip", "-n", ns, "link", "set", "p" + id, "netns", switch_});
      must({"ip", "-n", switch_, "link", "set", "p" + id, "master", "br0"});
      must({"ip", "-n", switch_, "link", "set", "p" + id, "up"});
      must(
        {"ip", "-n", ns, "addr", "add", subnet_ + id + "/24", "dev", "eth0"});
      must({"ip", "-n", ns, "link", "set", "eth0", "up"});
      must({"ip", "-n", ns, "link", "set", "lo", "up"});
      address_[names[i]] = subnet_ + id;
      space_[names[i]] = ns;
    }
  }

  ~testbed() {
    for (auto& ns : spaces_)
      run({"ip", "netns", "del", ns});
  }

  testbed(const testbed&) = delete;
  testbed& operator=(const testbed&) = delete;

  std::string address(const std::string& name) {
    return address_.at(name);
  }

  // argv run inside node `name`'s namespace.
  std::vector<std::string> in(
    const std::string& name, const std::vector<std::string>& argv) {
    std::vector<std::string> result{"ip", "netns", "exec", space_.at(name)};
    result.insert(result.end(), argv.begin(), argv.end());
    return result;
  }

  // Cuts node `name`'s link (its process lives on).
  void cut(const std::string& name) {
    must({"ip", "-n", space_.at(name), "link", "set", "eth0", "down"});
  }

private:
  std::string prefix_;
  std::string subnet_;
  std::string switch_;
  std::vector<std::string> spaces_;
  std::map<std::string, std::string> address_;
  std::map<std::string, std::string> space_;
};

bool can_make_namespaces() {
  if (::geteuid() != 0)
    return false;
  auto [code, text] = run({"ip", "netns", "list"});
  return code == 0;
}

child_process start(const std::vector<std::string>& argv) {
  child_options opts;
  opts.capture_stdout = true;
  opts.capture_stderr = true;
  return child_process::start(argv, opts);
}

std::string read_all(child_process& p, std::string text = {}) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (!p.eof() && std::chrono::steady_clock::now() < deadline)
    if (auto line = p.read_line(milliseconds(1000)))
      text += *line + "\n";
  return text;
}

int exit_code(child_process& p) {
  auto status = p.wait_exit(bound);
  if (!status)
    status = p.stop(milliseconds(1000));
  return WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
}

std::vector<std::string> cat(
  std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

} // namespace

TEST_CASE("several machines, simulated with network namespaces: a TLS bsp "
          "run equals the loopback one; a worker whose link is cut is "
          "dropped") {
  if (!can_make_namespaces()) {
    MESSAGE("skipped: creating network namespaces needs root and ip netns");
    return;
  }
  test::temp_dir dir{"paramserv-netns"};
  auto data = test::blobs_csv(dir, "blobs.csv", 2000, 7);
  auto certs = dir / "certs";
  REQUIRE(run({PARAMSERV_BINARY, "certs", certs, "--nodes", "4"}).first == 0);
  auto tls = [&](int i) {
    auto node = certs + "/node-" + std::to_string(i);
    return std::vector<std::string>{"--tls-cert", node + ".pem", "--tls-key",
      node + ".key", "--tls-ca", certs + "/ca.pem"};
  };
  auto job = [&](size_t epochs) {
    return std::vector<std::string>{"--data", data, "--test-data", data,
      "--model", "softmax", "--optimizer", "sgd", "--lr", "0.1", "--batch-size",
      "16", "--epochs", std::to_string(epochs), "--seed", "3", "--mode", "bsp",
      "--workers", "2", "--shards", "1"};
  };
  // Heartbeats every 0.2 s; a node silent for 2 s is gone.
  std::vector<std::string> net{
    "--heartbeat", "0.2", "--connection-timeout", "2"};
  testbed bed{{"sched", "server", "w1", "w2"}};
  auto cluster
    = [&](size_t epochs, const std::string& save, bool cut_w2) -> std::string {
    auto sched_addr = bed.address("sched") + ":0";
    auto sched = start(bed.in(
      "sched", cat(cat(cat({PARAMSERV_BINARY, "node", "--role", "scheduler",
                             "--listen", sched_addr, "--save", save},
                         job(epochs)),
                     tls(1)),
                 net)));
    std::vector<std::string> seen;
    auto line = sched.wait_for_line("listening on", bound, &seen);
    REQUIRE_MESSAGE(line, read_all(sched));
    auto at = line->find("listening on ") + 13;
    auto address = line->substr(at, line->find(',', at) - at);
    CHECK(address.rfind(bed.address("sched") + ":", 0) == 0);
    auto server = start(bed.in(
      "server", cat(cat({PARAMSERV_BINARY, "node", "--role", "server", "--join",
                          address, "--listen", bed.address("server") + ":0"},
                      tls(2)),
                  net)));
    auto w1 = start(bed.in("w1",
      cat(cat({PARAMSERV_BINARY, "node", "--role", "worker", "--join", address},
            tls(3)),
        net)));
    auto w2 = start(bed.in("w2",
      cat(cat({PARAMSERV_BINARY, "node", "--role", "worker", "--join", address},
            tls(4)),
        net)));
    std::string log;
    for (auto& s : seen)
      log += s + "\n";
    log += *line + "\n";
    if (cut_w2) {
      auto first = sched.wait_for_line("epoch 1/", bound, &seen);
      REQUIRE_MESSAGE(first, read_all(sched, log));
      bed.cut("w2");
    }
    auto text = read_all(sched, log);
    CHECK_MESSAGE(exit_code(sched) == 0, text);
    CHECK(exit_code(server) == 0);
    CHECK(exit_code(w1) == 0);
    w2.stop(milliseconds(1000));
    return text;
  };
  SUBCASE("a bsp run over TLS saves the model the loopback run saves") {
    auto text = cluster(3, dir / "netns-model", false);
    CHECK(test::contains(text, "epoch 3/3"));
    auto launch
      = run(cat({PARAMSERV_BINARY, "launch", "--server-nodes", "1",
                  "--worker-nodes", "2", "--save", dir / "loopback-model"},
        job(3)));
    REQUIRE_MESSAGE(launch.first == 0, launch.second);
    auto x = test::tensors(dir / "netns-model");
    CHECK(x.size() == 4);
    CHECK(x == test::tensors(dir / "loopback-model"));
  }
  SUBCASE("a worker whose link is cut is noticed by heartbeats and dropped") {
    auto text = cluster(40, dir / "cut-model", true);
    CHECK_MESSAGE(test::contains(text, "going on with 1 of 2 workers"), text);
    CHECK(test::contains(text, "epoch 40/40"));
  }
}
