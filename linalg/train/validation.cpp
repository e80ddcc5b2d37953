#include "linalg/train/validation.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "linalg/core/random.hpp"
#include "linalg/data/partition.hpp"

namespace paramserv {

namespace {

// The split's own stream of the seed: it never moves with the partition or
// the shuffles.
constexpr uint64_t validation_stream = 0x76616c6964; // "valid"

} // namespace

size_t validation_rows(const validation_options& v, size_t rows) {
  if (rows < 2)
    return 0;
  if (v.fraction > 0) {
    auto n = static_cast<size_t>(std::llround(v.fraction * rows));
    return std::clamp<size_t>(n, 1, rows - 1);
  }
  if (v.target_accuracy > 0 || v.patience > 0)
    return std::min(default_validation_rows, rows / 10);
  return 0;
}

row_split split_rows(const train_options& opts, size_t rows) {
  row_split result;
  std::vector<uint32_t> all(rows);
  std::iota(all.begin(), all.end(), uint32_t{0});
  auto held = validation_rows(opts.validation, rows);
  if (held == 0) {
    result.train = std::move(all);
    return result;
  }
  auto gen = rng::derive(opts.seed, validation_stream);
  gen.shuffle(all);
  result.validation.assign(all.begin(), all.begin() + held);
  result.train.assign(all.begin() + held, all.end());
  std::sort(result.validation.begin(), result.validation.end());
  std::sort(result.train.begin(), result.train.end());
  return result;
}

std::vector<std::vector<uint32_t>> partition_training_rows(
  const train_options& opts, size_t rows, size_t workers) {
  if (validation_rows(opts.validation, rows) == 0)
    return partition_rows(rows, workers, opts.scheme, opts.seed);
  auto kept = split_rows(opts, rows).train;
  auto parts = partition_rows(kept.size(), workers, opts.scheme, opts.seed);
  for (auto& part : parts)
    for (auto& r : part)
      r = kept[r];
  return parts;
}

dataset select_rows(const dataset& src, const std::vector<uint32_t>& rows) {
  dataset result;
  result.classes = src.classes;
  result.x.set_size(src.x.n_rows, rows.size());
  result.y.resize(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    result.x.col(i) = src.x.col(rows[i]);
    result.y[i] = src.y[rows[i]];
  }
  return result;
}

dataset validation_set(const train_options& opts, const dataset& train) {
  auto held = split_rows(opts, train.size()).validation;
  if (held.empty())
    return dataset{{}, {}, train.classes};
  return select_rows(train, held);
}

stop_verdict stop_rule::record(double accuracy) {
  if (!any_ || accuracy > best_) {
    any_ = true;
    best_ = accuracy;
    since_best_ = 0;
  } else {
    ++since_best_;
  }
  if (v_.target_accuracy > 0 && accuracy >= v_.target_accuracy)
    return stop_verdict::target;
  if (v_.patience > 0 && since_best_ >= v_.patience)
    return stop_verdict::patience;
  return stop_verdict::go_on;
}

std::string describe(stop_verdict verdict, const validation_options& v) {
  char buf[96];
  switch (verdict) {
    case stop_verdict::target:
      std::snprintf(
        buf, sizeof buf, "target accuracy %g reached", v.target_accuracy);
      return buf;
    case stop_verdict::patience:
      return "no better validation accuracy in " + std::to_string(v.patience)
             + " evaluations";
    case stop_verdict::go_on:
      break;
  }
  return "training goes on";
}

} // namespace paramserv
