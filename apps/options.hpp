#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "linalg/core/names.hpp"
#include "linalg/data/dataset.hpp"
#include "linalg/data/feature_transform.hpp"
#include "linalg/data/load.hpp"

namespace paramserv::app {

/// A command-line mistake: printed as "paramserv CMD: error: WHAT", exit 2.
class usage_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Runs a command's `run(argc, argv)` and turns what it throws into one
/// line "paramserv NAME: error: WHAT" on stderr: exit 2 for a usage_error,
/// 1 for any other exception. Returns run's exit code otherwise.
int run_command(
  const char* name, int (*run)(int, char**), int argc, char** argv);

/// Where the data come from, as the train and eval commands read it.
struct data_options {
  std::string data = "/usr/share/datasets/fashion-mnist";
  std::string test_data;
  std::string format;
  std::string scale;
  unsigned classes = 0;
};

/// Adds --data, --test-data, --format, --scale, --classes to `desc`.
void add_data_options(boost::program_options::options_description& desc,
  data_options& opts, bool with_test_data);

/// The format to read `path` with: --format if given, else inferred (null).
/// @throws usage_error for an unknown --format.
std::optional<data_format> data_format_of(const data_options& opts);

/// --scale if given, else pixels for IDX and none otherwise.
/// @throws usage_error for an unknown --scale.
scaling scaling_of(const data_options& opts, const std::string& path);

/// Parses argv[first..] (plus an optional --config file) into `vm`.
/// Returns false if --help was given (the help text is then printed).
/// @throws usage_error for unknown or malformed options.
bool parse_command_line(const char* command,
  const boost::program_options::options_description& d, int argc, char** argv,
  boost::program_options::variables_map& vm);

/// The value of enum flag `flag` spelled `value`.
/// @throws usage_error "FLAG: unknown WHAT "VALUE" (expected a, b or c)".
template <named_enum Enum>
Enum parse_flag(const std::string& flag, const std::string& value) {
  try {
    return parse_name<Enum>(value);
  } catch (const std::invalid_argument& e) {
    throw usage_error(flag + ": " + e.what());
  }
}

/// Splits "200,100" into {200, 100}.
/// @throws usage_error naming the flag for anything else.
std::vector<size_t> parse_size_list(
  const std::string& flag, const std::string& text);

} // namespace paramserv::app
