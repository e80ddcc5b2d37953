// End-to-end tests of `paramserv certs`: the binary and openssl run as
// child processes (no shell); what they make is checked with `openssl
// verify`, `openssl x509` and `openssl pkey`. Waits are on a child's output
// and exit, bounded only against a hang.

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "apps/process.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;
using namespace paramserv::app;
using std::chrono::milliseconds;
namespace fs = std::filesystem;

namespace {

// Only keeps a broken build from hanging the suite.
constexpr milliseconds bound{60000};

// How a finished process ended and what it printed (stdout and stderr).
struct outcome {
  int code = -1; // the exit code, -1 if killed
  std::string text;
  size_t lines = 0;
};

outcome run(const std::vector<std::string>& argv) {
  child_options opts;
  opts.capture_stdout = true;
  opts.capture_stderr = true;
  auto child = child_process::start(argv, opts);
  outcome result;
  auto deadline = std::chrono::steady_clock::now() + bound;
  auto left = [&] {
    return std::max(
      milliseconds{0}, std::chrono::duration_cast<milliseconds>(
                         deadline - std::chrono::steady_clock::now()));
  };
  while (!child.eof() && left().count() > 0)
    if (auto line = child.read_line(left())) {
      result.text += *line + '\n';
      ++result.lines;
    }
  auto status = child.wait_exit(left());
  REQUIRE_MESSAGE(
    status.has_value(), "no exit within the bound: " << argv[0] << "\n"
                                                     << result.text);
  if (WIFEXITED(*status))
    result.code = WEXITSTATUS(*status);
  return result;
}

// `paramserv certs args...`, with PATH set to `path` if it is not empty.
outcome certs(
  const std::vector<std::string>& args, const std::string& path = {}) {
  std::vector<std::string> argv;
  if (!path.empty())
    argv = {"/usr/bin/env", "PATH=" + path};
  argv.push_back(PARAMSERV_BINARY);
  argv.push_back("certs");
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

outcome openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  return run(args);
}

std::string bytes(const fs::path& file) {
  std::ifstream in{file, std::ios::binary};
  REQUIRE_MESSAGE(in.good(), "cannot open " << file);
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

unsigned mode(const fs::path& file) {
  struct stat st;
  REQUIRE(::stat(file.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// The names in `dir` (hidden ones too), sorted.
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (auto& entry : fs::directory_iterator(dir))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Every file in `dir` with its contents.
std::map<std::string, std::string> contents(const fs::path& dir) {
  std::map<std::string, std::string> result;
  for (auto& name : listing(dir))
    result[name] = bytes(dir / name);
  return result;
}

const std::vector<std::string> two_nodes{
  "ca.key", "ca.pem", "node-1.key", "node-1.pem", "node-2.key", "node-2.pem"};

// Whether `cert` chains to `ca` for `purpose` (sslserver, sslclient).
bool verifies(const fs::path& ca, const fs::path& cert,
  const std::string& purpose = "sslserver") {
  auto r = openssl(
    {"verify", "-CAfile", ca.string(), "-purpose", purpose, cert.string()});
  INFO(r.text);
  return r.code == 0;
}

} // namespace

TEST_CASE("certs makes a CA and node certificates for mutual TLS") {
  test::temp_dir tmp{"paramserv-certs"};
  // DIR does not exist yet: certs creates it, parents too.
  fs::path dir = tmp.path / "cluster" / "pki";
  auto r = certs({dir.string(), "--nodes", "2", "--days", "30"});
  INFO(r.text);
  REQUIRE(r.code == 0);
  // Exactly the set: no scratch directory, CSR or config left behind.
  CHECK(listing(dir) == two_nodes);
  CHECK(mode(dir) == 0700);
  for (auto& name : two_nodes) {
    CAPTURE(name);
    CHECK(test::contains(r.text, "created " + (dir / name).string() + " ("));
    bool key = name.ends_with(".key");
    CHECK(mode(dir / name) == (key ? 0600u : 0644u));
  }
  // One line per directory and file, then how to use them.
  CHECK(r.lines == 1 + two_nodes.size() + 1);
  CHECK(test::contains(r.text, "--tls-cert " + (dir / "node-1.pem").string()
                                 + " --tls-key " + (dir / "node-1.key").string()
                                 + " --tls-ca " + (dir / "ca.pem").string()));
  for (auto node : {"node-1", "node-2"}) {
    CAPTURE(node);
    auto cert = dir / (std::string{node} + ".pem");
    auto key = dir / (std::string{node} + ".key");
    // Both ends of a connection present one: server and client use.
    CHECK(verifies(dir / "ca.pem", cert, "sslserver"));
    CHECK(verifies(dir / "ca.pem", cert, "sslclient"));
    auto text = openssl({"x509", "-in", cert.string(), "-noout", "-subject",
      "-ext", "basicConstraints,extendedKeyUsage"});
    CHECK(text.code == 0);
    CHECK(test::contains(text.text, "CN = paramserv-" + std::string{node}));
    CHECK(test::contains(text.text, "CA:FALSE"));
    CHECK(test::contains(text.text,
      "TLS Web Server Authentication, TLS Web Client Authentication"));
    // The key is the certificate's: same public key.
    auto from_key = openssl({"pkey", "-in", key.string(), "-pubout"});
    auto from_cert
      = openssl({"x509", "-in", cert.string(), "-noout", "-pubkey"});
    REQUIRE(from_key.code == 0);
    REQUIRE(from_cert.code == 0);
    CHECK(from_key.text == from_cert.text);
    auto params = openssl({"pkey", "-in", key.string(), "-noout", "-text"});
    CHECK(test::contains(params.text, "NIST CURVE: P-256"));
  }
  // Every node has a key of its own.
  CHECK(bytes(dir / "node-1.key") != bytes(dir / "node-2.key"));
  auto ca = openssl({"x509", "-in", (dir / "ca.pem").string(), "-noout",
    "-subject", "-ext", "basicConstraints,keyUsage"});
  CHECK(test::contains(ca.text, "CN = paramserv-cluster-ca"));
  CHECK(test::contains(ca.text, "CA:TRUE"));
  CHECK(test::contains(ca.text, "Certificate Sign, CRL Sign"));
  // --days 30 sets the end date: valid in 29 days, expired in 31.
  auto cert = (dir / "node-1.pem").string();
  CHECK(openssl({"x509", "-in", cert, "-noout", "-checkend",
                  std::to_string(29 * 86400)})
          .code
        == 0);
  CHECK(openssl({"x509", "-in", cert, "-noout", "-checkend",
                  std::to_string(31 * 86400)})
          .code
        != 0);
}

TEST_CASE("a certificate of one certs run does not verify against another's "
          "CA") {
  test::temp_dir tmp{"paramserv-certs"};
  auto a = tmp.path / "a";
  auto b = tmp.path / "b";
  REQUIRE(certs({a.string(), "--nodes", "1"}).code == 0);
  REQUIRE(certs({b.string(), "--nodes", "1"}).code == 0);
  // Same names, same subjects: only the CA key tells them apart.
  CHECK(verifies(a / "ca.pem", a / "node-1.pem"));
  CHECK(verifies(b / "ca.pem", b / "node-1.pem"));
  CHECK_FALSE(verifies(a / "ca.pem", b / "node-1.pem"));
  CHECK_FALSE(verifies(b / "ca.pem", a / "node-1.pem"));
}

TEST_CASE("certs never overwrites a set without --force") {
  test::temp_dir tmp{"paramserv-certs"};
  auto dir = tmp.path / "pki";
  REQUIRE(certs({dir.string(), "--nodes", "2"}).code == 0);
  auto before = contents(dir);
  REQUIRE(before.size() == two_nodes.size());

  SUBCASE("a second run is refused and changes nothing") {
    auto r = certs({dir.string(), "--nodes", "2"});
    INFO(r.text);
    CHECK(r.code == 2);
    CHECK(r.lines == 1);
    CHECK(r.text.starts_with("paramserv certs: error: "));
    CHECK(test::contains(r.text, (dir / "ca.key").string()));
    CHECK(test::contains(r.text, "--force"));
    CHECK(contents(dir) == before);
  }

  SUBCASE("a node certificate alone is enough to refuse") {
    for (auto& name : two_nodes)
      if (name != "node-2.pem")
        fs::remove(dir / name);
    auto left = contents(dir);
    auto r = certs({dir.string(), "--nodes", "1"});
    INFO(r.text);
    CHECK(r.code == 2);
    CHECK(test::contains(r.text, (dir / "node-2.pem").string()));
    CHECK(contents(dir) == left);
  }

  SUBCASE("--force replaces the set, node files beyond --nodes too") {
    auto r = certs({dir.string(), "--nodes", "1", "--force"});
    INFO(r.text);
    REQUIRE(r.code == 0);
    CHECK(listing(dir)
          == std::vector<std::string>{
            "ca.key", "ca.pem", "node-1.key", "node-1.pem"});
    CHECK(test::contains(r.text, "removed " + (dir / "node-2.pem").string()));
    auto after = contents(dir);
    for (auto name : {"ca.key", "ca.pem", "node-1.key", "node-1.pem"}) {
      CAPTURE(name);
      CHECK(after[name] != before[name]);
    }
    CHECK(verifies(dir / "ca.pem", dir / "node-1.pem"));
  }
}

TEST_CASE("certs refuses bad arguments with one line naming the flag") {
  test::temp_dir tmp{"paramserv-certs"};
  auto dir = (tmp.path / "pki").string();
  auto file = tmp.write("file", "not a directory");
  struct bad {
    std::vector<std::string> args;
    const char* message;
  };
  for (auto& b : std::vector<bad>{{{dir, "--nodes", "0"}, "--nodes: "},
         {{dir}, "--nodes: missing"}, {{dir, "--nodes", "10001"}, "--nodes: "},
         {{dir, "--nodes", "-1"}, "--nodes: "},
         {{dir, "--nodes", "2x"}, "--nodes: "},
         {{dir, "--nodes", "2", "--days", "0"}, "--days: "},
         {{"--nodes", "2"}, "DIR: missing"},
         {{dir, "--nodes", "2", "--bogus"}, "--bogus"},
         {{file, "--nodes", "2"}, "not a directory"}}) {
    CAPTURE(b.message);
    auto r = certs(b.args);
    CHECK(r.code == 2);
    CHECK(r.lines == 1);
    CHECK(r.text.starts_with("paramserv certs: error: "));
    CHECK(test::contains(r.text, b.message));
    CHECK_FALSE(fs::exists(dir));
  }
}

TEST_CASE("certs reports a failing openssl and leaves no key behind") {
  test::temp_dir tmp{"paramserv-certs"};
  auto dir = tmp.path / "pki";

  SUBCASE("openssl missing") {
    auto empty = tmp.path / "empty-bin";
    fs::create_directories(empty);
    auto r = certs({dir.string(), "--nodes", "2"}, empty.string());
    INFO(r.text);
    CHECK(r.code == 1);
    CHECK(r.lines == 1);
    CHECK(
      test::contains(r.text, "paramserv certs: error: cannot start openssl"));
    CHECK_FALSE(fs::exists(dir));
  }

  SUBCASE("openssl failing after the keys were made") {
    // A stand-in that fails to sign node certificates: by then the CA key
    // and a node key exist in the scratch directory.
    auto bin = tmp.path / "bin";
    fs::create_directories(bin);
    tmp.write("bin/openssl", "#!/bin/sh\n"
                             "if [ \"$1\" = x509 ]; then\n"
                             "  echo 'an earlier line' >&2\n"
                             "  echo 'signing refused (test)' >&2\n"
                             "  exit 3\n"
                             "fi\n"
                             "exec /usr/bin/openssl \"$@\"\n");
    fs::permissions(bin / "openssl", fs::perms::owner_all);
    SUBCASE("in a new directory") {}
    SUBCASE("in a directory that exists") {
      fs::create_directories(dir);
    }
    bool existed = fs::exists(dir);
    auto r = certs({dir.string(), "--nodes", "2"}, bin.string());
    INFO(r.text);
    CHECK(r.code == 1);
    CHECK(r.lines == 1);
    CHECK(test::contains(r.text, "paramserv certs: error: openssl x509 -req"));
    CHECK(test::contains(r.text, "exit 3: signing refused (test)"));
    // Nothing at all: no key, no scratch directory, no directory we made.
    CHECK(fs::exists(dir) == existed);
    if (existed)
      CHECK(listing(dir).empty());
  }
}
