#pragma once

#include <cstddef>
#include <string>

namespace paramserv::detail {

/// A file written with POSIX open/write/fsync/close, so that its contents
/// can be forced to disk: the building block of model_io's crash-safe saves.
/// Every error throws std::runtime_error naming the file and the failed call,
/// e.g. "DIR/W1.0123456789abcdef.npy: cannot fsync: No space left on device".
/// The destructor closes a file still open and ignores errors; call close()
/// to see them. Not copyable, not thread-safe.
class posix_file {
public:
  /// How the constructor opens the file.
  enum class mode {
    /// Create a new file; fail if `path` exists (O_EXCL), so that an
    /// existing file is never touched.
    create_new,
    /// Create the file or truncate an existing one.
    truncate,
  };

  /// Opens `path` for writing with permissions 0666 & ~umask.
  posix_file(std::string path, mode m);

  ~posix_file();

  posix_file(const posix_file&) = delete;
  posix_file& operator=(const posix_file&) = delete;

  /// Appends `size` bytes, retrying short writes and EINTR.
  void write(const void* data, size_t size);

  /// Forces the written data and the file's metadata to disk (fsync). The
  /// file's directory entry becomes durable only when the directory is
  /// synced too (sync_directory).
  void sync();

  /// Closes the file; a second call does nothing.
  void close();

  const std::string& path() const {
    return path_;
  }

private:
  std::string path_;
  int fd_ = -1;
};

/// 16 hex digits, different in every call of every process: 64 bits from
/// std::random_device plus a process-wide counter (so that two calls differ
/// even if random_device repeats itself). Names files and registrations
/// that must not collide with another's.
std::string unique_id();

/// Forces the entries of directory `path` (files created, renamed or removed
/// in it) to disk, with fsync on the directory.
/// @throws std::runtime_error naming the directory.
void sync_directory(const std::string& path);

} // namespace paramserv::detail
