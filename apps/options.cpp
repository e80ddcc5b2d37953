#include "apps/options.hpp"

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace po = boost::program_options;

namespace paramserv::app {

int run_command(
  const char* name, int (*run)(int, char**), int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const usage_error& e) {
    std::fprintf(stderr, "paramserv %s: error: %s\n", name, e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "paramserv %s: error: %s\n", name, e.what());
    return 1;
  }
}

void add_data_options(
  po::options_description& desc, data_options& opts, bool with_test_data) {
  // clang-format off
  desc.add_options()
    ("data", po::value(&opts.data)->default_value(opts.data),
     "training data: an IDX directory (train-* files) or images file, a "
     "CSV file or a LIBSVM file");
  // clang-format on
  if (with_test_data)
    // clang-format off
    desc.add_options()
      ("test-data", po::value(&opts.test_data),
       "held-out data evaluated after each epoch (default: the t10k-* files "
       "beside IDX training data; none otherwise)");
  // clang-format on
  // clang-format off
  desc.add_options()
    ("format", po::value(&opts.format),
     "idx|csv|libsvm (default: inferred from the path)")
    ("scale", po::value(&opts.scale),
     "input scaling none|pixels|minmax|standardize, fitted on the training "
     "data (default: pixels for IDX, none otherwise)")
    ("classes", po::value(&opts.classes)->default_value(0),
     "number of classes (default 0: 10 for IDX, else largest label + 1)");
  // clang-format on
}

std::optional<data_format> data_format_of(const data_options& opts) {
  if (opts.format.empty())
    return std::nullopt;
  return parse_flag<data_format>("--format", opts.format);
}

scaling scaling_of(const data_options& opts, const std::string& path) {
  if (!opts.scale.empty())
    return parse_flag<scaling>("--scale", opts.scale);
  auto fmt = data_format_of(opts);
  bool idx = fmt ? *fmt == data_format::idx
                 : path.find("idx") != std::string::npos
                     || std::filesystem::is_directory(path);
  return idx ? scaling::pixels : scaling::none;
}

bool parse_command_line(const char* command,
  const po::options_description& desc, int argc, char** argv,
  po::variables_map& vm) {
  po::options_description all;
  std::string config;
  po::options_description meta("General");
  // clang-format off
  meta.add_options()("help,h", "print this help and exit")(
    "config", po::value(&config),
    "read options from an INI file (key = value, same names as the "
    "flags; the command line wins)");
  // clang-format on
  all.add(desc).add(meta);
  try {
    po::store(po::command_line_parser(argc, argv).options(all).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: paramserv " << command << " [options]\n\n"
                << all << '\n';
      return false;
    }
    if (vm.count("config")) {
      auto file = vm["config"].as<std::string>();
      std::ifstream in(file);
      if (!in)
        throw usage_error("--config: cannot open " + file);
      try {
        po::store(po::parse_config_file(in, desc), vm);
      } catch (const po::error& e) {
        throw usage_error(file + ": " + e.what());
      }
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw usage_error(e.what());
  }
  return true;
}

std::vector<size_t> parse_size_list(
  const std::string& flag, const std::string& text) {
  std::vector<size_t> result;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t value = 0;
    auto first = item.data();
    auto last = item.data() + item.size();
    auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec != std::errc{} || ptr != last || value == 0)
      throw usage_error(flag
                        + ": expected a comma list of positive integers, "
                          "got \""
                        + text + "\"");
    result.push_back(value);
  }
  return result;
}

} // namespace paramserv::app
