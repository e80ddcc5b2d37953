#include "apps/progress.hpp"

#include <algorithm>

#include <unistd.h>

namespace paramserv::app {

progress::progress(size_t epochs, size_t rows_per_epoch, size_t batch_size)
  : tty_(isatty(STDOUT_FILENO) == 1), epochs_(epochs),
    rows_per_epoch_(rows_per_epoch), start_(clock::now()), epoch_start_(start_),
    last_draw_(start_), batch_size_(std::max<size_t>(batch_size, 1)) {}

void progress::batch(size_t epoch, size_t done, size_t total, double loss) {
  if (!tty_)
    return;
  auto now = clock::now();
  if (epoch != last_epoch_) {
    last_epoch_ = epoch;
    epoch_start_ = now;
  }
  if (now - last_draw_ < std::chrono::milliseconds(100) && done != total)
    return;
  last_draw_ = now;
  double in_epoch = std::chrono::duration<double>(now - epoch_start_).count();
  double frac = total > 0 ? static_cast<double>(done) / total : 0.0;
  double rate = in_epoch > 0 ? frac * rows_per_epoch_ / in_epoch : 0.0;
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double progress_all = (epoch + frac) / epochs_;
  double eta = progress_all > 0 ? elapsed / progress_all - elapsed : 0.0;
  std::printf("\r\033[Kepoch %zu/%zu  batch %zu/%zu  %.0f samples/s  "
              "loss %.4f  ETA %.0fs",
    epoch + 1, epochs_, done, total, rate, loss, eta);
  std::fflush(stdout);
  drawn_ = true;
}

void progress::rows(uint64_t done, double loss_sum) {
  if (done > last_rows_) {
    // Mean training loss of the rows since the last redraw.
    loss_
      = (loss_sum - last_loss_sum_) / static_cast<double>(done - last_rows_);
    last_rows_ = done;
    last_loss_sum_ = loss_sum;
  }
  if (!tty_ || rows_per_epoch_ == 0)
    return;
  auto now = clock::now();
  size_t epoch = std::min<size_t>(done / rows_per_epoch_, epochs_ - 1);
  if (epoch != last_epoch_) {
    last_epoch_ = epoch;
    epoch_start_ = now;
    epoch_rows_start_ = done;
  }
  double in_epoch = std::chrono::duration<double>(now - epoch_start_).count();
  double rate = in_epoch > 0 ? (done - epoch_rows_start_) / in_epoch : 0.0;
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double frac = static_cast<double>(done) / (rows_per_epoch_ * epochs_);
  double eta = frac > 0 ? elapsed / frac - elapsed : 0.0;
  size_t in_rows = static_cast<size_t>(done - epoch_rows_start_);
  size_t batches = (rows_per_epoch_ + batch_size_ - 1) / batch_size_;
  std::printf("\r\033[Kepoch %zu/%zu  batch %zu/%zu  %.0f samples/s  "
              "loss %.4f  ETA %.0fs",
    epoch + 1, epochs_, std::min(in_rows / batch_size_, batches), batches, rate,
    loss_, eta);
  std::fflush(stdout);
  drawn_ = true;
}

void progress::note(const std::string& line) {
  clear_line();
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void progress::clear_line() {
  if (drawn_) {
    std::printf("\r\033[K");
    drawn_ = false;
  }
}

void progress::epoch(const epoch_metrics& m) {
  clear_line();
  std::printf("epoch %zu/%zu  train_loss %.4f  test_loss %.4f  "
              "test_accuracy %.4f  %.0f samples/s  elapsed %.1fs\n",
    m.epoch, epochs_, m.train_loss, m.test_loss, m.test_accuracy,
    m.samples_per_s, m.elapsed_s);
  std::fflush(stdout);
}

} // namespace paramserv::app
