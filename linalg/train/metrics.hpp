#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

namespace paramserv {

/// What a run reports after each epoch (a message too: fixed-width
/// integers only). Backends without servers or
/// staleness leave those fields at their natural values (a sequential run
/// pushes once per batch with staleness 0).
struct epoch_metrics {
  /// One-based epoch number.
  uint64_t epoch = 0;
  /// Wall time since training started, including evaluation.
  double elapsed_s = 0;
  /// Mean training loss over the epoch's batches, weighted by rows.
  double train_loss = 0;
  double test_loss = 0;
  double test_accuracy = 0;
  /// Training rows processed per second of training time (evaluation
  /// excluded).
  double samples_per_s = 0;
  /// Learning rate used in this epoch.
  double lr = 0;
  /// Updates applied to the model in this epoch.
  uint64_t pushes = 0;
  double mean_staleness = 0;
  uint64_t max_staleness = 0;
  uint64_t max_clock_gap = 0;
  /// Largest read lag of any unit of the epoch: how many clocks behind the
  /// one before its own the oldest worker's pushes it had read were (0 in
  /// bsp; at most s under ssp:s; unbounded in asp).
  uint64_t max_read_lag = 0;
  /// Updates not applied because they held a NaN or infinity (a worker
  /// checks its whole update before pushing any of it).
  uint64_t skipped = 0;
  /// Workers alive at the end of the epoch, and how many of the job's
  /// workers were lost in it (died, their process killed or their link
  /// cut). 0 and 0 for the sequential trainer.
  uint64_t workers = 0;
  uint64_t workers_lost = 0;
  /// Training rows processed in the epoch, by all workers.
  uint64_t rows = 0;
  /// Rows of lost workers' partitions handed to the survivors in the epoch
  /// (--on-worker-loss reassign).
  uint64_t rows_reassigned = 0;
  /// Server shards lost and restored from a checkpoint while the epoch ran,
  /// and the seconds from the loss until training went on.
  uint64_t shards_restored = 0;
  double recovery_s = 0;
  /// Loss and accuracy on the validation set at the end of the epoch (0
  /// without one).
  double validation_loss = 0;
  double validation_accuracy = 0;

  friend bool operator==(const epoch_metrics&, const epoch_metrics&) = default;
};

/// One evaluation on the validation set (every --eval-every batches and at
/// each epoch's end). A message too.
struct evaluation_record {
  /// One-based epoch it was taken in.
  uint64_t epoch = 0;
  /// Batches trained so far, all workers together.
  uint64_t batches = 0;
  /// Wall time since training started, this evaluation included.
  double elapsed_s = 0;
  double loss = 0;
  double accuracy = 0;

  friend bool operator==(const evaluation_record&, const evaluation_record&)
    = default;
};

/// Writes epoch_metrics as CSV, one row per epoch, flushed as it goes so a
/// running job can be watched. Columns:
/// epoch,elapsed_s,train_loss,test_loss,test_accuracy,samples_per_s,lr,
/// pushes,mean_staleness,max_staleness,max_clock_gap,max_read_lag,skipped,
/// workers,workers_lost,rows,rows_reassigned,shards_restored,recovery_s,
/// validation_loss,validation_accuracy
class metrics_writer {
public:
  /// Opens (truncates) `path` and writes the header.
  /// @throws std::runtime_error naming the file if it cannot be written.
  explicit metrics_writer(const std::string& path);

  /// Appends one row.
  /// @throws std::runtime_error naming the file on a write error.
  void write(const epoch_metrics& m);

private:
  std::string path_;
  std::ofstream out_;
};

} // namespace paramserv
