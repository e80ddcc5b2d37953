#pragma once

namespace paramserv::app {

/// `paramserv train ...`; argv[0] is "train". Returns the exit code.
int train_command(int argc, char** argv);

/// `paramserv eval ...`; argv[0] is "eval". Returns the exit code.
int eval_command(int argc, char** argv);

/// `paramserv node ...`; argv[0] is "node". Returns the exit code.
int node_command(int argc, char** argv);

/// `paramserv launch ...`; argv[0] is "launch". Returns the exit code.
int launch_command(int argc, char** argv);

/// `paramserv certs ...`; argv[0] is "certs". Returns the exit code.
int certs_command(int argc, char** argv);

} // namespace paramserv::app
