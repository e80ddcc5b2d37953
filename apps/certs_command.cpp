// paramserv certs: a cluster certificate authority and one certificate per
// node for mutual TLS between paramserv nodes (CAF's openssl module: a node
// gets --tls-cert DIR/node-I.pem --tls-key DIR/node-I.key --tls-ca
// DIR/ca.pem).
//
// The openssl command-line tool makes the keys (EC P-256) and certificates;
// it runs as a child process (apps/process.hpp), never through a shell, with
// a config file of our own so that the system's openssl.cnf cannot add
// extensions. Everything is made in a fresh directory DIR/.paramserv-certs-
// XXXXXX (mode 0700, under umask 077, so a key is never readable by others,
// not even while openssl writes it) and renamed into DIR only once every
// openssl run succeeded. That directory is removed on every exit path but a
// fatal signal, so a failure leaves no key and no half-written file in DIR.

#include "apps/commands.hpp"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <boost/program_options.hpp>

#include "apps/options.hpp"
#include "apps/process.hpp"

namespace fs = std::filesystem;
namespace po = boost::program_options;

namespace paramserv::app {

namespace {

using std::chrono::milliseconds;

constexpr const char* usage_line
  = "usage: paramserv certs DIR --nodes N [--days D] [--force]";

constexpr unsigned long max_nodes = 10000;
constexpr unsigned long max_days = 36500;

// Bounds one openssl run. Making a key or signing a certificate takes
// milliseconds; this only keeps a stuck child from hanging the command.
constexpr milliseconds openssl_bound{60000};

// Written to the scratch directory and passed to every `openssl req` (as
// -config) and to the signing `openssl x509` (as -extfile).
constexpr const char* openssl_config = R"(# Written by paramserv certs.
[req]
distinguished_name = dn

[dn]

# A node certificate: both ends of a connection between nodes present one.
[node]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
)";

struct certs_options {
  std::string dir;
  unsigned long nodes = 0;
  unsigned long days = 365;
  bool force = false;
};

// `text` as a whole number from 1 to `max`.
// Throws usage_error naming `flag` for anything else.
unsigned long parse_count(
  const std::string& flag, const std::string& text, unsigned long max) {
  unsigned long value = 0;
  auto first = text.data();
  auto last = first + text.size();
  auto [end, ec] = std::from_chars(first, last, value);
  if (ec != std::errc{} || end != last || value < 1 || value > max)
    throw usage_error(flag + ": expected a whole number from 1 to "
                      + std::to_string(max) + ", got \"" + text + "\"");
  return value;
}

// The options, or std::nullopt if --help was given (the help is printed).
// Throws usage_error for a mistake on the command line.
std::optional<certs_options> parse(int argc, char** argv) {
  certs_options opts;
  std::string nodes;
  std::string days = std::to_string(opts.days);
  po::options_description desc("Options");
  // clang-format off
  desc.add_options()
    ("nodes", po::value(&nodes),
     "how many node certificates to make (1 to 10000)")
    ("days", po::value(&days)->default_value(days),
     "how long the CA and node certificates are valid (1 to 36500)")
    ("force", po::bool_switch(&opts.force),
     "replace the CA, certificates and keys that DIR holds (node-I files "
     "beyond --nodes are removed)")
    ("help,h", "print this help and exit");
  // clang-format on
  po::options_description hidden;
  hidden.add_options()("dir", po::value(&opts.dir));
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description positional;
  positional.add("dir", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv)
                .options(all)
                .positional(positional)
                .run(),
      vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw usage_error(e.what());
  }
  if (vm.count("help")) {
    std::cout << usage_line
              << "\n\nMakes a cluster certificate authority (DIR/ca.pem, "
                 "DIR/ca.key) and node\ncertificates (DIR/node-I.pem, "
                 "DIR/node-I.key) for mutual TLS between nodes:\n"
                 "  paramserv node ... --tls-cert DIR/node-I.pem --tls-key "
                 "DIR/node-I.key --tls-ca DIR/ca.pem\n\n"
              << desc << '\n';
    return std::nullopt;
  }
  if (opts.dir.empty())
    throw usage_error(std::string{"DIR: missing, the directory for the files ("}
                      + usage_line + ")");
  if (!vm.count("nodes"))
    throw usage_error("--nodes: missing, how many node certificates to make "
                      "(1 to "
                      + std::to_string(max_nodes) + ")");
  opts.nodes = parse_count("--nodes", nodes, max_nodes);
  opts.days = parse_count("--days", days, max_days);
  return opts;
}

// Whether `name` is one of the files a run makes or replaces: ca.pem,
// ca.key, node-I.pem or node-I.key (I any digits).
bool is_set_file(const std::string& name) {
  if (name == "ca.pem" || name == "ca.key")
    return true;
  const std::string prefix = "node-";
  if (name.size() <= prefix.size() + 4 || name.rfind(prefix, 0) != 0)
    return false;
  auto suffix = name.substr(name.size() - 4);
  if (suffix != ".pem" && suffix != ".key")
    return false;
  auto digits = name.substr(prefix.size(), name.size() - prefix.size() - 4);
  return std::all_of(digits.begin(), digits.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
}

// The names of the files in `dir` that is_set_file, sorted.
std::vector<std::string> set_files(const fs::path& dir) {
  std::vector<std::string> result;
  for (auto& entry : fs::directory_iterator(dir)) {
    auto name = entry.path().filename().string();
    if (is_set_file(name))
      result.push_back(name);
  }
  std::sort(result.begin(), result.end());
  return result;
}

// Sets the process's umask for its lifetime; children inherit it.
class umask_guard {
public:
  explicit umask_guard(mode_t mask) : old_(::umask(mask)) {}
  ~umask_guard() {
    ::umask(old_);
  }
  umask_guard(const umask_guard&) = delete;
  umask_guard& operator=(const umask_guard&) = delete;

private:
  mode_t old_;
};

// A fresh directory (mode 0700) in `parent`, removed with its contents when
// the object goes.
class scratch_dir {
public:
  explicit scratch_dir(const fs::path& parent) {
    auto name = (parent / ".paramserv-certs-XXXXXX").string();
    if (::mkdtemp(name.data()) == nullptr)
      throw std::runtime_error("cannot create a temporary directory in "
                               + parent.string() + ": " + std::strerror(errno));
    path_ = name;
  }
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;

  std::string operator/(const std::string& name) const {
    return (path_ / name).string();
  }

private:
  fs::path path_;
};

std::string join(const std::vector<std::string>& argv) {
  std::string result;
  for (auto& arg : argv) {
    if (!result.empty())
      result += ' ';
    result += arg;
  }
  return result;
}

// Starts `openssl args...` (looked up in PATH) with stdout and stderr
// captured. Throws std::runtime_error if it cannot start.
child_process start_openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  child_options opts;
  opts.capture_stdout = true;
  opts.capture_stderr = true;
  try {
    return child_process::start(argv, opts);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string{e.what()}
                             + " (paramserv certs needs the openssl "
                               "command-line tool, e.g. Debian's openssl "
                               "package)");
  }
}

// Runs `openssl args...` to its end and returns its stdout. Throws
// std::runtime_error naming the command and the last line of its stderr if
// it cannot start, fails or does not end within openssl_bound.
std::string openssl(const std::vector<std::string>& args) {
  auto child = start_openssl(args);
  auto command = "openssl " + join(args);
  std::string out;
  std::string last_error;
  auto deadline = std::chrono::steady_clock::now() + openssl_bound;
  auto left = [&] {
    return std::max(
      milliseconds{0}, std::chrono::duration_cast<milliseconds>(
                         deadline - std::chrono::steady_clock::now()));
  };
  while (!child.eof() && left().count() > 0) {
    auto line = child.read_output_line(left());
    if (!line)
      continue;
    if (line->stream == output_stream::out)
      out += line->text + '\n';
    else if (!line->text.empty())
      last_error = line->text;
  }
  auto status = child.wait_exit(left());
  if (!status)
    throw std::runtime_error(command + ": did not end within "
                             + std::to_string(openssl_bound.count() / 1000)
                             + " s");
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
    throw std::runtime_error(
      command + ": " + describe_status(*status) + ": "
      + (last_error.empty() ? "(no error output)" : last_error));
  return out;
}

// The permission bits of `file`; throws std::runtime_error if stat fails.
mode_t permissions(const std::string& file) {
  struct stat st;
  if (::stat(file.c_str(), &st) != 0)
    throw std::runtime_error(file + ": " + std::strerror(errno));
  return st.st_mode & 07777;
}

// One file of the set, made in the scratch directory and then moved.
struct made_file {
  std::string name;
  std::string what; // printed after its path
  bool key = false;
};

// Checks DIR before anything is made. Throws usage_error if it is not a
// directory or already holds a set and --force was not given.
void check_dir(const certs_options& opts) {
  fs::path dir{opts.dir};
  std::error_code ec;
  auto st = fs::status(dir, ec);
  if (!fs::exists(st))
    return;
  if (!fs::is_directory(st))
    throw usage_error(opts.dir + ": not a directory");
  if (opts.force)
    return;
  auto existing = set_files(dir);
  if (existing.empty())
    return;
  auto more = existing.size() - 1;
  throw usage_error((dir / existing.front()).string() + ": already exists"
                    + (more > 0 ? " (and " + std::to_string(more)
                                    + " more certificate or key files)"
                                : std::string{})
                    + "; --force replaces them");
}

// Creates DIR (mode 0700) and its missing parents; returns whether it made
// DIR.
bool make_dir(const fs::path& dir) {
  if (fs::exists(dir))
    return false;
  if (dir.has_parent_path())
    fs::create_directories(dir.parent_path());
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST && fs::is_directory(dir))
      return false;
    throw std::runtime_error(dir.string() + ": " + std::strerror(errno));
  }
  return true;
}

// Makes the CA and the node files in a scratch directory in `dir` and
// renames them into `dir` once all were made; returns them in the order
// made. Throws std::runtime_error if openssl fails (the scratch directory
// is removed: nothing was renamed then).
std::vector<made_file> make_set(
  const certs_options& opts, const fs::path& dir) {
  auto days = std::to_string(opts.days);
  std::vector<made_file> files;
  umask_guard mask{077};
  {
    scratch_dir tmp{dir};
    auto config = tmp / "openssl.cnf";
    {
      std::ofstream out{config};
      out << openssl_config;
      if (!out.flush())
        throw std::runtime_error(config + ": cannot write");
    }
    auto new_key = [&](const std::string& name) {
      openssl({"genpkey", "-algorithm", "EC", "-pkeyopt",
        "ec_paramgen_curve:P-256", "-out", tmp / name});
    };
    new_key("ca.key");
    openssl({"req", "-config", config, "-x509", "-new", "-key", tmp / "ca.key",
      "-subj", "/CN=paramserv-cluster-ca", "-days", days, "-sha256", "-addext",
      "basicConstraints=critical,CA:TRUE", "-addext",
      "keyUsage=critical,keyCertSign,cRLSign", "-out", tmp / "ca.pem"});
    files.push_back(
      {"ca.key", "CA private key, mode 0600; no node needs it", true});
    files.push_back({"ca.pem",
      "CA certificate CN=paramserv-cluster-ca, valid " + days + " days",
      false});
    for (unsigned long i = 1; i <= opts.nodes; ++i) {
      auto node = "node-" + std::to_string(i);
      auto cn = "paramserv-" + node;
      new_key(node + ".key");
      openssl({"req", "-config", config, "-new", "-key", tmp / (node + ".key"),
        "-subj", "/CN=" + cn, "-sha256", "-out", tmp / (node + ".csr")});
      openssl({"x509", "-req", "-in", tmp / (node + ".csr"), "-CA",
        tmp / "ca.pem", "-CAkey", tmp / "ca.key", "-CAserial", tmp / "ca.srl",
        "-CAcreateserial", "-days", days, "-sha256", "-extfile", config,
        "-extensions", "node", "-out", tmp / (node + ".pem")});
      files.push_back({node + ".key",
        "private key of node " + std::to_string(i) + ", mode 0600", true});
      files.push_back({node + ".pem",
        "certificate CN=" + cn + ", valid " + days + " days", false});
    }
    // Keys stay 0600 (umask 077 made them so; checked, not assumed);
    // certificates become world-readable.
    for (auto& f : files) {
      auto path = tmp / f.name;
      if (f.key) {
        auto mode = permissions(path);
        if (mode != 0600) {
          char octal[16];
          std::snprintf(
            octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
          throw std::runtime_error(
            path + ": openssl made it with mode " + octal + ", not 0600");
        }
      } else {
        fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write
                                | fs::perms::group_read
                                | fs::perms::others_read);
      }
    }
    for (auto& f : files)
      fs::rename(tmp / f.name, dir / f.name);
  }
  return files;
}

int run(int argc, char** argv) {
  auto parsed = parse(argc, argv);
  if (!parsed)
    return 0;
  auto& opts = *parsed;
  check_dir(opts);
  // Fail before anything is made if openssl is not there.
  openssl({"version"});
  fs::path dir{opts.dir};
  bool made_dir = make_dir(dir);
  std::vector<made_file> files;
  try {
    files = make_set(opts, dir);
  } catch (...) {
    // A directory we made is empty again: remove it (a no-op otherwise).
    std::error_code ec;
    if (made_dir)
      fs::remove(dir, ec);
    throw;
  }
  if (made_dir)
    std::printf("created %s (directory, mode 0700)\n", dir.c_str());
  for (auto& f : files)
    std::printf("created %s (%s)\n", (dir / f.name).c_str(), f.what.c_str());
  if (opts.force) {
    // Node files of the replaced set beyond --nodes: their CA is gone.
    for (auto& name : set_files(dir)) {
      bool ours = std::any_of(files.begin(), files.end(), [&](auto& f) {
        return f.name == name;
      });
      if (!ours && fs::remove(dir / name))
        std::printf("removed %s (of the replaced set)\n", (dir / name).c_str());
    }
  }
  std::printf("use: paramserv node ... --tls-cert %s --tls-key %s --tls-ca "
              "%s (node I: node-I.pem and node-I.key)\n",
    (dir / "node-1.pem").c_str(), (dir / "node-1.key").c_str(),
    (dir / "ca.pem").c_str());
  return 0;
}

} // namespace

int certs_command(int argc, char** argv) {
  return run_command("certs", run, argc, argv);
}

} // namespace paramserv::app
