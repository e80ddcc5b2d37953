#include "tests/fuzz/fuzz_target.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace paramserv::fuzz {

namespace {

struct scratch_dir {
  std::string path;

  scratch_dir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern
      = std::string{tmp && *tmp ? tmp : "/tmp"} + "/paramserv-fuzz-XXXXXX";
    if (!mkdtemp(pattern.data())) {
      std::perror("paramserv fuzz: mkdtemp");
      std::abort();
    }
    path = pattern;
  }

  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

} // namespace

const std::string& scratch_folder() {
  static scratch_dir dir;
  return dir.path;
}

std::string write_file(
  const std::string& name, const uint8_t* data, size_t size) {
  auto path = scratch_folder() + "/" + name;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::perror(("paramserv fuzz: " + path).c_str());
    std::abort();
  }
  size_t done = 0;
  while (done < size) {
    auto n = ::write(fd, data + done, size - done);
    if (n <= 0) {
      std::perror(("paramserv fuzz: " + path).c_str());
      std::abort();
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return path;
}

} // namespace paramserv::fuzz
