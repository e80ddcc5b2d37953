#include "linalg/data/load.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include "linalg/data/data_error.hpp"
#include "linalg/data/gzip_file.hpp"

namespace fs = std::filesystem;

namespace paramserv {

namespace {

bool ends_with(std::string_view str, std::string_view suffix) {
  return str.size() >= suffix.size()
         && str.substr(str.size() - suffix.size()) == suffix;
}

std::string lower(std::string_view str) {
  std::string result{str};
  for (auto& c : result)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return result;
}

// Guesses the format from the path as documented in load.hpp: a directory
// is IDX; then the suffix (ignoring `.gz`) decides; then "idx" in the name.
std::optional<data_format> guess_format(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    return data_format::idx;
  auto name = lower(fs::path{path}.filename().string());
  if (ends_with(name, ".gz"))
    name.resize(name.size() - 3);
  if (ends_with(name, ".csv"))
    return data_format::csv;
  if (ends_with(name, ".svm") || ends_with(name, ".libsvm")
      || ends_with(name, ".txt"))
    return data_format::libsvm;
  if (name.find("idx") != std::string::npos)
    return data_format::idx;
  return std::nullopt;
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// Returns `dir/base` or `dir/base.gz`, whichever exists (plain first).
std::string find_in_dir(const std::string& dir, const std::string& base) {
  for (const char* suffix : {"", ".gz"}) {
    auto candidate = fs::path{dir} / (base + suffix);
    if (is_file(candidate))
      return candidate.string();
  }
  throw data_error{
    dir + ": no " + base + " or " + base + ".gz in this directory"};
}

// Derives the labels file from an images file name; if that name does not
// exist but its twin with or without `.gz` does, takes the twin.
std::string labels_for(const std::string& images) {
  static constexpr std::string_view from = "images-idx3";
  static constexpr std::string_view to = "labels-idx1";
  fs::path p{images};
  auto name = p.filename().string();
  auto pos = name.rfind(from);
  if (pos == std::string::npos)
    throw data_error{images + ": cannot derive the labels file: the name does "
                     + "not contain \"images-idx3\""};
  name.replace(pos, from.size(), to);
  auto result = p.parent_path() / name;
  if (!is_file(result)) {
    auto twin
      = ends_with(name, ".gz") ? name.substr(0, name.size() - 3) : name + ".gz";
    if (is_file(p.parent_path() / twin))
      return (p.parent_path() / twin).string();
  }
  return result.string();
}

} // namespace

namespace detail {

std::string read_file(const std::string& path) {
  return gzip_file{path}.read_all();
}

std::string quote(std::string_view text) {
  constexpr size_t max_len = 40;
  std::string result = "\"";
  for (auto c : text.substr(0, max_len)) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      result += '\\';
      result += c;
    } else if (u < 0x20 || u == 0x7f) {
      char esc[8];
      std::snprintf(esc, sizeof(esc), "\\x%02x", u);
      result += esc;
    } else {
      result += c;
    }
  }
  if (text.size() > max_len)
    result += "...";
  result += '"';
  return result;
}

const char* parse_float(std::string_view text, float& out) {
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (!text.empty() && (text.front() == '+' || text.front() == '-'))
      return "not a number";
  }
  if (text.empty())
    return "not a number";
  const auto* first = text.data();
  const auto* last = first + text.size();
  auto [ptr, ec] = std::from_chars(first, last, out);
  if (ec == std::errc::result_out_of_range && ptr == last) {
    // Underflow rounds to zero, overflow is an error; strtod tells which.
    std::string copy{text};
    auto value = std::strtod(copy.c_str(), nullptr);
    if (std::abs(value) >= 1.0)
      return "number out of range for float";
    out = static_cast<float>(value);
    return nullptr;
  }
  if (ec != std::errc{} || ptr != last)
    return "not a number";
  if (!std::isfinite(out))
    return "not a finite number";
  return nullptr;
}

} // namespace detail

dataset load_dataset(const std::string& path, std::optional<data_format> fmt,
  const load_options& opts, bool test_split) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw data_error{path + ": no such file or directory"};
  if (!fmt) {
    fmt = guess_format(path);
    if (!fmt)
      throw data_error{path + ": cannot tell the data format from the name "
                       + "(expected a directory, a name containing \"idx\" "
                       + "or a .csv, .svm, .libsvm or .txt suffix); give the "
                       + "format explicitly"};
  }
  switch (*fmt) {
    case data_format::idx: {
      // test_split only picks the files inside a directory; a file path
      // names its split itself.
      if (fs::is_directory(path, ec)) {
        std::string split = test_split ? "t10k" : "train";
        auto images = find_in_dir(path, split + "-images-idx3-ubyte");
        auto labels = find_in_dir(path, split + "-labels-idx1-ubyte");
        return load_idx(images, labels, opts);
      }
      return load_idx(path, labels_for(path), opts);
    }
    case data_format::csv:
      return load_csv(path, opts);
    case data_format::libsvm:
      return load_libsvm(path, opts);
  }
  throw data_error{path + ": unknown data format"};
}

} // namespace paramserv
