#include "linalg/train/sequential_trainer.hpp"

#include <chrono>
#include <stdexcept>
#include <string>

namespace paramserv {

sequential_trainer::sequential_trainer(
  const train_options& opts, const dataset& train)
  : opts_(opts), train_(train) {
  validate(opts_, train_);
  model_ = make_model(opts_.model);
  params_ = parameter_set{model_->shapes()};
  grad_ = parameter_set{model_->shapes()};
  model_->initialize(params_, opts_.seed);
  optimizer_ = make_optimizer(opts_.optimizer, params_.size());
  // One worker: the whole partition of worker 0 of 1.
  rows_ = partition_rows(train_.size(), 1, opts_.scheme, opts_.seed)[0];
}

sequential_trainer::epoch_result sequential_trainer::train_epoch(
  size_t epoch, const batch_hook& on_batch) {
  epoch_result result;
  shuffle_epoch(rows_, opts_.seed, 0, epoch);
  float lr = opts_.schedule.at(epoch);
  size_t n = rows_.size();
  size_t b = opts_.batch_size;
  size_t batches = (n + b - 1) / b;
  double loss_sum = 0;
  for (size_t k = 0; k < batches; ++k) {
    size_t first = k * b;
    size_t m = std::min(b, n - first);
    gather_batch(train_, rows_.data() + first, m, batch_, labels_);
    float loss = model_->gradient(params_, batch_, labels_, grad_);
    optimizer_->update(params_.flat(), grad_.flat(), lr);
    loss_sum += static_cast<double>(loss) * m;
    result.rows += m;
    ++result.updates;
    if (on_batch)
      on_batch(epoch, k + 1, batches, loss);
  }
  result.loss = result.rows > 0 ? loss_sum / result.rows : 0.0;
  return result;
}

std::vector<epoch_metrics> sequential_trainer::run(
  const dataset* test, const epoch_hook& on_epoch, const batch_hook& on_batch) {
  using clock = std::chrono::steady_clock;
  std::vector<epoch_metrics> result;
  auto start = clock::now();
  for (size_t e = 0; e < opts_.epochs; ++e) {
    auto t0 = clock::now();
    auto r = train_epoch(e, on_batch);
    double train_s = std::chrono::duration<double>(clock::now() - t0).count();
    epoch_metrics m;
    m.epoch = e + 1;
    m.train_loss = r.loss;
    m.samples_per_s = train_s > 0 ? r.rows / train_s : 0.0;
    m.rows = r.rows;
    m.lr = opts_.schedule.at(e);
    m.pushes = r.updates;
    if (test != nullptr && test->size() > 0) {
      auto ev = model_->evaluate(params_, test->x, test->y);
      m.test_loss = ev.loss;
      m.test_accuracy = ev.accuracy;
    }
    m.elapsed_s = std::chrono::duration<double>(clock::now() - start).count();
    result.push_back(m);
    if (on_epoch)
      on_epoch(m);
  }
  return result;
}

} // namespace paramserv
