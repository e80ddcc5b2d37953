#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace paramserv {

/// Writes `payload` to `path` as a checked file, atomically: to a temporary
/// name beside it, fsynced, renamed over `path`, the folder fsynced. A
/// checked file is the 8 bytes "PSCKPT\0\1", the payload's length (8 bytes,
/// little-endian), the payload, and the CRC-32 (zlib's) of everything
/// before it (4 bytes, little-endian).
/// @throws std::runtime_error naming the file on any I/O error.
void write_checked_file(const std::string& path, std::string_view payload);

/// Reads a file write_checked_file wrote and returns its payload.
/// @throws data_error with one line naming the file and what is wrong
///         (missing, not a checked file, truncated, trailing bytes, checksum
///         mismatch); never returns a payload that did not verify.
std::string read_checked_file(const std::string& path);

/// One checkpoint: a sequence number (larger is newer) and named parts, for
/// example the job's state and each shard's, as bytes.
struct checkpoint {
  uint64_t sequence = 0;
  std::map<std::string, std::string> parts;
};

/// What load_latest found: the newest checkpoint that verified, and why
/// each newer one was refused (one line each, naming the file).
struct checkpoint_load {
  std::optional<checkpoint> found;
  std::vector<std::string> refused;
};

/// A folder of checkpoints. Each is a subfolder `ckpt-SEQUENCE` (20 digits)
/// holding one checked file per part (`PART.part`) and, written last, the
/// checked file `MANIFEST` naming the sequence and every part: a
/// checkpoint without a manifest that verifies is incomplete and never
/// loaded. A commit keeps the previous complete checkpoint until the new
/// one is complete, then removes all but those two. Crash safety: a crash
/// at any moment leaves the previous checkpoint loadable. One writer at a
/// time per folder.
class checkpoint_store {
public:
  /// Uses `dir`, creating it if missing.
  /// @throws std::runtime_error naming the folder if it cannot be created.
  explicit checkpoint_store(std::string dir);

  const std::string& dir() const {
    return dir_;
  }

  /// Writes `c` as a complete checkpoint and makes it durable, then removes
  /// the checkpoints older than the previous complete one, and incomplete
  /// ones. Part names are 1 to 64 characters of [a-z0-9_-].
  /// @throws std::invalid_argument for a bad part name or a sequence not
  ///         above the newest complete one, std::runtime_error naming the
  ///         file on an I/O error (the previous checkpoint stays).
  void commit(const checkpoint& c);

  /// The newest checkpoint whose manifest and every part verify; each
  /// newer one that does not is refused with the reason, and the next
  /// older one tried.
  checkpoint_load load_latest() const;

private:
  std::string dir_;
};

} // namespace paramserv
