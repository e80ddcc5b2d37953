#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>

#include "linalg/metrics.hpp"

namespace paramserv::app {

/// Prints training progress to stdout: on a terminal a live line (epoch,
/// batches done, samples/s, loss, ETA) redrawn at most ten times a second,
/// and a plain line per epoch either way. Not thread-safe.
class progress {
public:
  /// `rows_per_epoch` is used for the live samples/s and the ETA.
  progress(size_t epochs, size_t rows_per_epoch);

  /// After a batch: zero-based epoch, batches done in it and batches in it.
  void batch(size_t epoch, size_t done, size_t total, double loss);

  /// Rows trained so far in the whole run (backends that report rows rather
  /// than batches).
  void rows(uint64_t done);

  /// A notice (e.g. a mode switch), printed on its own line.
  void note(const std::string& line);

  /// After an epoch.
  void epoch(const epoch_metrics& m);

private:
  using clock = std::chrono::steady_clock;

  void clear_line();

  bool tty_;
  size_t epochs_;
  size_t rows_per_epoch_;
  clock::time_point start_;
  clock::time_point epoch_start_;
  clock::time_point last_draw_;
  size_t last_epoch_ = static_cast<size_t>(-1);
  uint64_t epoch_rows_start_ = 0;
  uint64_t rows_done_ = 0;
  bool drawn_ = false;
};

} // namespace paramserv::app
