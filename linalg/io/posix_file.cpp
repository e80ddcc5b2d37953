#include "linalg/io/posix_file.hpp"

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <random>
#include <cstring>
#include <stdexcept>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

namespace paramserv::detail {

namespace {

[[noreturn]] void fail(const std::string& path, const char* what, int err) {
  throw std::runtime_error(path + ": " + what + ": "
                           + (err != 0 ? std::strerror(err) : "unknown error"));
}

} // namespace

posix_file::posix_file(std::string path, mode m) : path_(std::move(path)) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
  flags |= m == mode::create_new ? O_EXCL : O_TRUNC;
  do {
    fd_ = ::open(path_.c_str(), flags, 0666);
  } while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0)
    fail(path_, "cannot open", errno);
}

posix_file::~posix_file() {
  if (fd_ >= 0)
    ::close(fd_);
}

void posix_file::write(const void* data, size_t size) {
  auto bytes = static_cast<const char*>(data);
  while (size > 0) {
    auto n = ::write(fd_, bytes, size);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      fail(path_, "cannot write", errno);
    }
    bytes += n;
    size -= static_cast<size_t>(n);
  }
}

void posix_file::sync() {
  if (::fsync(fd_) != 0)
    fail(path_, "cannot fsync", errno);
}

void posix_file::close() {
  if (fd_ < 0)
    return;
  // The descriptor is gone after close() even when it fails (Linux, POSIX
  // 2024), so it is never retried.
  int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0 && errno != EINTR)
    fail(path_, "cannot close", errno);
}

void sync_directory(const std::string& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0)
    fail(path, "cannot open directory", errno);
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    fail(path, "cannot fsync directory", err);
  }
  ::close(fd);
}

std::string unique_id() {
  static std::atomic<uint64_t> counter{0};
  std::random_device rd;
  uint64_t r = (uint64_t{rd()} << 32) ^ uint64_t { rd() };
  r += counter.fetch_add(1);
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, r);
  return buf;
}

} // namespace paramserv::detail
