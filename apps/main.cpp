// paramserv: the command-line entry point. Thin: it picks the subcommand,
// and each subcommand parses its options, builds a config and calls into
// linalg/ and actors/.

#include <cstdio>
#include <cstring>
#include <string>

#include "actors/runtime_info.hpp"
#include "apps/commands.hpp"

namespace {

constexpr const char* usage = R"(usage: paramserv COMMAND [options]

Commands:
  train   train a model (sequential or parameter-server backend)
  eval    evaluate a saved model on a data set
  node    run a node of a cluster: the scheduler, server shards, workers
  launch  run a whole cluster on this machine (a scheduler, server and
          worker processes) and stop it when the job ends
  certs   make a cluster CA and node certificates for mutual TLS

Run 'paramserv COMMAND --help' for a command's options.
)";

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(usage, stderr);
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "train")
    return paramserv::app::train_command(argc - 1, argv + 1);
  if (cmd == "eval")
    return paramserv::app::eval_command(argc - 1, argv + 1);
  if (cmd == "node")
    return paramserv::app::node_command(argc - 1, argv + 1);
  if (cmd == "launch")
    return paramserv::app::launch_command(argc - 1, argv + 1);
  if (cmd == "certs")
    return paramserv::app::certs_command(argc - 1, argv + 1);
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::fputs(usage, stdout);
    return 0;
  }
  if (cmd == "--version") {
    std::printf("%s\n", paramserv::runtime_version().c_str());
    return 0;
  }
  std::fprintf(
    stderr, "paramserv: unknown command \"%s\"\n%s", cmd.c_str(), usage);
  return 2;
}
