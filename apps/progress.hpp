#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>

#include "linalg/train/metrics.hpp"

namespace paramserv::app {

/// Prints training progress to stdout: on a terminal a live line (epoch,
/// batches done, samples/s, loss, ETA) redrawn at most ten times a second,
/// and a plain line per epoch either way. Not thread-safe.
class progress {
public:
  /// `rows_per_epoch` and `batch_size` are used for the live samples/s,
  /// batch count and ETA.
  progress(size_t epochs, size_t rows_per_epoch, size_t batch_size);

  /// After a batch: zero-based epoch, batches done in it and batches in it.
  void batch(size_t epoch, size_t done, size_t total, double loss);

  /// Rows trained so far in the whole run and the sum of their losses
  /// (backends that report rows rather than batches).
  void rows(uint64_t done, double loss_sum);

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
  size_t batch_size_;
  uint64_t last_rows_ = 0;
  double last_loss_sum_ = 0;
  double loss_ = 0;
  bool drawn_ = false;
};

} // namespace paramserv::app
