#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace paramserv::detail {

/// An input file that is plain or gzip-compressed (zlib decides by the
/// first bytes), read through zlib's gz* functions. The one place paramserv
/// opens gzip streams; every data loader reads through it. Every failure
/// throws a data_error whose one line names the file and, for a damaged
/// stream, the uncompressed byte offset ("truncated gzip stream",
/// "corrupted gzip stream"). Not thread-safe; owns its handle.
class gzip_file {
public:
  /// Opens `path`.
  /// @throws data_error if it is a directory or cannot be opened.
  explicit gzip_file(std::string path);

  ~gzip_file();

  gzip_file(const gzip_file&) = delete;
  gzip_file& operator=(const gzip_file&) = delete;

  /// Reads up to `n` bytes into `buf`; fewer means the data ended.
  size_t read(unsigned char* buf, size_t n);

  /// Reads up to `n` bytes into a new buffer whose size says how many came.
  /// The buffer grows in doubling steps from 64 MiB, so a header that
  /// claims more data than exists costs at most twice what is there.
  std::vector<unsigned char> read_payload(uint64_t n);

  /// Reads everything that is left, sized for the file on disk.
  std::string read_all();

  /// Throws unless the data end exactly here (`offset` is where, for the
  /// message; `what` names the part the header announced). Reading past
  /// the end also makes zlib check the gzip trailer's CRC.
  void expect_end(uint64_t offset, const char* what);

  const std::string& path() const {
    return path_;
  }

private:
  // Throws if the stream is in an error state.
  void check();

  std::string path_;
  void* file_ = nullptr; // gzFile, kept out of this header
};

} // namespace paramserv::detail
