#include "linalg/data/gzip_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <system_error>

#include <zlib.h>

#include "linalg/data/data_error.hpp"

namespace paramserv::detail {

namespace {

// Payloads are read in one gzread when they fit this size, else in chunks
// that double.
constexpr size_t first_chunk = size_t{64} << 20;

// gzread takes an unsigned count.
constexpr size_t max_read = size_t{1} << 30;

gzFile handle(void* f) {
  return static_cast<gzFile>(f);
}

} // namespace

gzip_file::gzip_file(std::string path) : path_(std::move(path)) {
  std::error_code ec;
  if (std::filesystem::is_directory(path_, ec))
    throw data_error{path_ + ": is a directory, expected a file"};
  errno = 0;
  file_ = gzopen(path_.c_str(), "rb");
  if (file_ == nullptr)
    throw data_error{path_ + ": cannot open: "
                     + (errno != 0 ? std::strerror(errno) : "out of memory")};
  gzbuffer(handle(file_), 1u << 18);
}

gzip_file::~gzip_file() {
  gzclose(handle(file_));
}

size_t gzip_file::read(unsigned char* buf, size_t n) {
  size_t total = 0;
  while (total < n) {
    auto want = std::min(n - total, max_read);
    auto got = gzread(handle(file_), buf + total, static_cast<unsigned>(want));
    if (got <= 0) {
      check();
      break;
    }
    total += static_cast<size_t>(got);
  }
  return total;
}

std::vector<unsigned char> gzip_file::read_payload(uint64_t n) {
  // The most the file can hold: a plain file its size on disk, a gzip
  // stream at most 1032 times that (deflate's largest ratio). A header
  // that claims more than that costs no more than the file can hold.
  std::error_code ec;
  auto disk_size = std::filesystem::file_size(path_, ec);
  uint64_t first = first_chunk;
  if (!ec)
    first = std::min<uint64_t>(first,
      (gzdirect(handle(file_)) ? disk_size : 1032 * disk_size) + 1);
  std::vector<unsigned char> buf;
  size_t used = 0;
  while (used < n) {
    auto next = std::min<uint64_t>(n, std::max<uint64_t>(2 * used, first));
    buf.resize(next);
    auto got = read(buf.data() + used, next - used);
    used += got;
    if (used < next)
      break;
  }
  buf.resize(used);
  return buf;
}

std::string gzip_file::read_all() {
  std::error_code ec;
  auto disk_size = std::filesystem::file_size(path_, ec);
  if (ec)
    disk_size = 0;
  // Plain files need exactly their size (+1 to see the end without growing);
  // compressed text usually expands a few times.
  size_t capacity = gzdirect(handle(file_)) ? disk_size + 1 : 4 * disk_size + 1;
  std::string buf;
  buf.resize(std::max<size_t>(capacity, 4096));
  size_t used = 0;
  for (;;) {
    if (used == buf.size())
      buf.resize(buf.size() * 2);
    auto got = read(
      reinterpret_cast<unsigned char*>(buf.data()) + used, buf.size() - used);
    used += got;
    if (used < buf.size())
      break;
  }
  buf.resize(used);
  return buf;
}

void gzip_file::expect_end(uint64_t offset, const char* what) {
  unsigned char extra;
  if (read(&extra, 1) != 0)
    throw data_error{path_ + ": byte " + std::to_string(offset)
                     + ": unexpected data after the " + what
                     + " the header announces"};
}

void gzip_file::check() {
  int errnum = Z_OK;
  const char* msg = gzerror(handle(file_), &errnum);
  if (errnum == Z_OK || errnum == Z_STREAM_END)
    return;
  // zlib prefixes its messages with the path; drop that, we add our own.
  std::string_view text = msg != nullptr ? msg : "unknown error";
  if (text.substr(0, path_.size()) == path_
      && text.substr(path_.size(), 2) == ": ")
    text.remove_prefix(path_.size() + 2);
  if (errnum == Z_ERRNO)
    throw data_error{path_ + ": read error: " + std::string{text}};
  auto where = path_ + ": byte " + std::to_string(gztell(handle(file_))) + ": ";
  if (errnum == Z_BUF_ERROR)
    throw data_error{where + "truncated gzip stream: " + std::string{text}};
  throw data_error{where + "corrupted gzip stream: " + std::string{text}};
}

} // namespace paramserv::detail
