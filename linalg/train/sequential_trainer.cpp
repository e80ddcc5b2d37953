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
  // One worker: the whole partition of worker 0 of 1 (the rows not held
  // out for validation).
  rows_ = partition_training_rows(opts_, train_.size(), 1)[0];
  validation_ = validation_set(opts_, train_);
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
  for (size_t k = 0; k < batches && !stop_; ++k) {
    size_t first = k * b;
    size_t m = std::min(b, n - first);
    gather_batch(train_, rows_.data() + first, m, batch_, labels_);
    float loss = model_->gradient(params_, batch_, labels_, grad_);
    optimizer_->update(params_.flat(), grad_.flat(), lr);
    loss_sum += static_cast<double>(loss) * m;
    result.rows += m;
    ++result.updates;
    ++batches_;
    if (on_batch)
      on_batch(epoch, k + 1, batches, loss);
  }
  result.loss = result.rows > 0 ? loss_sum / result.rows : 0.0;
  return result;
}

std::vector<epoch_metrics> sequential_trainer::run(const dataset* test,
  const epoch_hook& on_epoch, const batch_hook& on_batch,
  const eval_hook& on_eval) {
  using clock = std::chrono::steady_clock;
  std::vector<epoch_metrics> result;
  auto start = clock::now();
  auto& v = opts_.validation;
  stop_rule rule{v};
  evaluations_.clear();
  stopped_ = stop_verdict::go_on;
  target_s_ = -1;
  batches_ = 0;
  stop_ = false;
  // Evaluates on the validation set (if any) in epoch `e`, unless this
  // many batches were evaluated already; applies the stopping rules.
  auto evaluate = [&](size_t e) {
    if (validation_.size() == 0
        || (!evaluations_.empty() && evaluations_.back().batches == batches_))
      return;
    auto ev = model_->evaluate(params_, validation_.x, validation_.y);
    evaluation_record rec;
    rec.epoch = e + 1;
    rec.batches = batches_;
    rec.loss = ev.loss;
    rec.accuracy = ev.accuracy;
    rec.elapsed_s = std::chrono::duration<double>(clock::now() - start).count();
    evaluations_.push_back(rec);
    if (on_eval)
      on_eval(rec);
    auto verdict = rule.record(rec.accuracy);
    if (verdict == stop_verdict::go_on)
      return;
    stopped_ = verdict;
    if (verdict == stop_verdict::target)
      target_s_ = rec.elapsed_s;
    stop_ = true;
  };
  auto hook = [&](size_t e, size_t done, size_t total, double loss) {
    if (on_batch)
      on_batch(e, done, total, loss);
    if (v.every > 0 && batches_ % v.every == 0)
      evaluate(e);
  };
  for (size_t e = 0; e < opts_.epochs && !stop_; ++e) {
    auto t0 = clock::now();
    auto r = train_epoch(e, hook);
    double train_s = std::chrono::duration<double>(clock::now() - t0).count();
    if (!stop_)
      evaluate(e);
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
    if (!evaluations_.empty() && evaluations_.back().batches == batches_) {
      m.validation_loss = evaluations_.back().loss;
      m.validation_accuracy = evaluations_.back().accuracy;
    }
    m.elapsed_s = std::chrono::duration<double>(clock::now() - start).count();
    result.push_back(m);
    if (on_epoch)
      on_epoch(m);
  }
  return result;
}

} // namespace paramserv
