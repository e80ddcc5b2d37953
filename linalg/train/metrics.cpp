#include "linalg/train/metrics.hpp"

#include <stdexcept>

namespace paramserv {

metrics_writer::metrics_writer(const std::string& path)
  : path_(path), out_(path, std::ios::trunc) {
  if (!out_)
    throw std::runtime_error(path + ": cannot open metrics file for writing");
  out_ << "epoch,elapsed_s,train_loss,test_loss,test_accuracy,samples_per_s,"
          "lr,pushes,mean_staleness,max_staleness,max_clock_gap,"
          "max_read_lag,skipped,workers,workers_lost,rows,rows_reassigned,"
          "shards_restored,recovery_s,validation_loss,validation_accuracy\n";
  out_.flush();
  if (!out_)
    throw std::runtime_error(path + ": write failed");
}

void metrics_writer::write(const epoch_metrics& m) {
  out_.precision(8);
  out_ << m.epoch << ',' << m.elapsed_s << ',' << m.train_loss << ','
       << m.test_loss << ',' << m.test_accuracy << ',' << m.samples_per_s << ','
       << m.lr << ',' << m.pushes << ',' << m.mean_staleness << ','
       << m.max_staleness << ',' << m.max_clock_gap << ',' << m.max_read_lag
       << ',' << m.skipped << ',' << m.workers << ',' << m.workers_lost << ','
       << m.rows << ',' << m.rows_reassigned << ',' << m.shards_restored << ','
       << m.recovery_s << ',' << m.validation_loss << ','
       << m.validation_accuracy << '\n';
  out_.flush();
  if (!out_)
    throw std::runtime_error(path_ + ": write failed");
}

} // namespace paramserv
