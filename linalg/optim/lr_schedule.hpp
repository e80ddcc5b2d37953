#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "linalg/core/names.hpp"

namespace paramserv {

/// How the learning rate changes over epochs.
enum class lr_schedule_kind {
  /// lr(e) = base.
  constant,
  /// lr(e) = base * gamma ^ floor(e / step_epochs).
  step,
  /// lr(e) = base * (1 + cos(pi * e / epochs)) / 2 (Loshchilov & Hutter
  /// 2017, without restarts).
  cosine,
};

template <>
struct enum_names<lr_schedule_kind> {
  static constexpr std::string_view what = "schedule";
  static constexpr std::array table{
    std::pair{lr_schedule_kind::constant, "constant"},
    std::pair{lr_schedule_kind::step, "step"},
    std::pair{lr_schedule_kind::cosine, "cosine"},
  };
};

/// A learning-rate schedule over zero-based epochs. Plain struct.
struct lr_schedule {
  lr_schedule_kind kind = lr_schedule_kind::constant;
  /// Base learning rate. Default: 0.01.
  float base = 0.01f;
  /// step: epochs between decays. Default: 5.
  size_t step_epochs = 5;
  /// step: decay factor. Default: 0.1.
  float gamma = 0.1f;
  /// cosine: length of the run in epochs. Default: 10.
  size_t epochs = 10;

  friend bool operator==(const lr_schedule&, const lr_schedule&) = default;

  /// The learning rate of zero-based epoch `epoch`.
  float at(size_t epoch) const;

  /// Throws std::invalid_argument("lr schedule: ...") for a non-positive or
  /// non-finite base rate, step_epochs 0, gamma outside (0, 1], epochs 0.
  void validate() const;
};

} // namespace paramserv
