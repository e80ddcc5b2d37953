#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "linalg/core/names.hpp"
#include "linalg/data/dataset.hpp"
#include "linalg/train/train_options.hpp"

// A validation set held out of the training rows, and the rules that stop a
// run on it (--validation-fraction, --target-accuracy, --patience,
// --eval-every). Every backend splits the rows and applies the rules the
// same way; none of them ever reads the test set.

namespace paramserv {

/// Rows held out when --target-accuracy or --patience is given without
/// --validation-fraction (a tenth of the training set if that is fewer).
constexpr size_t default_validation_rows = 5000;

/// How many of `rows` training rows `v` holds out for validation: the
/// fraction (at least 1, at most rows - 1), else default_validation_rows
/// when a stopping rule needs a validation set, else 0.
size_t validation_rows(const validation_options& v, size_t rows);

/// The training rows split in two, each sorted: those trained on and those
/// held out for validation (seeded by the run's seed, drawn from a stream
/// of their own).
struct row_split {
  std::vector<uint32_t> train;
  std::vector<uint32_t> validation;
};

/// Splits [0, rows) as `opts` says. Without a validation set, `train` is
/// every row in order.
row_split split_rows(const train_options& opts, size_t rows);

/// partition_rows over the rows trained on: for each of `workers` workers
/// the indices (into the whole training set) it owns. Without a validation
/// set, exactly partition_rows(rows, workers, opts.scheme, opts.seed).
std::vector<std::vector<uint32_t>> partition_training_rows(
  const train_options& opts, size_t rows, size_t workers);

/// The samples `rows` of `src`, in that order.
dataset select_rows(const dataset& src, const std::vector<uint32_t>& rows);

/// The validation set `opts` holds out of `train` (empty: none).
dataset validation_set(const train_options& opts, const dataset& train);

/// What a stopping rule decided after an evaluation.
enum class stop_verdict : uint8_t {
  go_on,
  /// The validation accuracy reached --target-accuracy.
  target,
  /// --patience evaluations in a row brought no better accuracy.
  patience,
};

template <>
struct enum_names<stop_verdict> {
  static constexpr std::string_view what = "stop verdict";
  static constexpr std::array table{
    std::pair{stop_verdict::go_on, "epochs"},
    std::pair{stop_verdict::target, "target"},
    std::pair{stop_verdict::patience, "patience"},
  };
};

/// The stopping rules of `v`, fed one validation accuracy per evaluation.
class stop_rule {
public:
  explicit stop_rule(const validation_options& v) : v_(v) {}

  /// Records an evaluation's accuracy; says whether the run stops now.
  stop_verdict record(double accuracy);

  /// The best accuracy so far (0 before any).
  double best() const {
    return best_;
  }

private:
  validation_options v_;
  double best_ = 0;
  bool any_ = false;
  size_t since_best_ = 0;
};

/// "target accuracy 0.85 reached" or "no better validation accuracy in 3
/// evaluations", for logs.
std::string describe(stop_verdict verdict, const validation_options& v);

} // namespace paramserv
