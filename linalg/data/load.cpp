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

#include <zlib.h>

#include "linalg/data/data_error.hpp"

namespace fs = std::filesystem;

namespace paramserv {

std::optional<data_format> parse_data_format(std::string_view str) {
  if (str == "idx")
    return data_format::idx;
  if (str == "csv")
    return data_format::csv;
  if (str == "libsvm")
    return data_format::libsvm;
  return std::nullopt;
}

const char* to_string(data_format fmt) {
  switch (fmt) {
    case data_format::idx:
      return "idx";
    case data_format::csv:
      return "csv";
    case data_format::libsvm:
      return "libsvm";
  }
  return "unknown";
}

namespace {

struct gz_closer {
  void operator()(gzFile_s* f) const {
    gzclose(f);
  }
};

using gz_ptr = std::unique_ptr<gzFile_s, gz_closer>;

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

// Throws a data_error naming the file and the uncompressed position if the
// stream is in an error state.
void check_gz(gzFile f, const std::string& path) {
  int errnum = Z_OK;
  const char* msg = gzerror(f, &errnum);
  if (errnum == Z_OK || errnum == Z_STREAM_END)
    return;
  // zlib prefixes its messages with the path; drop that, we add our own.
  std::string_view text = msg != nullptr ? msg : "unknown error";
  if (text.substr(0, path.size()) == path
      && text.substr(path.size(), 2) == ": ")
    text.remove_prefix(path.size() + 2);
  auto where = path + ": byte " + std::to_string(gztell(f)) + ": ";
  if (errnum == Z_BUF_ERROR)
    throw data_error{where + "truncated gzip stream: " + std::string{text}};
  if (errnum == Z_ERRNO)
    throw data_error{path + ": read error: " + std::string{text}};
  throw data_error{where + "corrupted gzip stream: " + std::string{text}};
}

} // namespace

namespace detail {

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw data_error{path + ": is a directory, expected a file"};
  errno = 0;
  gz_ptr f{gzopen(path.c_str(), "rb")};
  if (!f)
    throw data_error{path + ": cannot open: "
                     + (errno != 0 ? std::strerror(errno) : "out of memory")};
  gzbuffer(f.get(), 1u << 18);
  auto disk_size = fs::file_size(path, ec);
  if (ec)
    disk_size = 0;
  // Plain files need exactly their size (+1 to see the end without growing);
  // compressed text usually expands a few times.
  size_t capacity = gzdirect(f.get()) ? disk_size + 1 : 4 * disk_size + 1;
  std::string buf;
  buf.resize(std::max<size_t>(capacity, 4096));
  size_t used = 0;
  for (;;) {
    if (used == buf.size())
      buf.resize(buf.size() * 2);
    auto want = std::min<size_t>(buf.size() - used, size_t{1} << 30);
    auto got = gzread(f.get(), buf.data() + used, static_cast<unsigned>(want));
    if (got <= 0) {
      check_gz(f.get(), path);
      break;
    }
    used += static_cast<size_t>(got);
  }
  buf.resize(used);
  return buf;
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
