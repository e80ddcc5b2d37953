#pragma once

#include <optional>
#include <string_view>

#include <armadillo>

#include "linalg/data/dataset.hpp"

#include "linalg/core/names.hpp"

namespace paramserv {

/// How input features are scaled before training.
enum class scaling {
  /// Leave values as they are.
  none,
  /// Divide by 255 (8-bit pixels to [0, 1]).
  pixels,
  /// Per feature to [0, 1] using the training set's min and max.
  minmax,
  /// Per feature to zero mean, unit variance using the training set's
  /// statistics (constant features get scale 1).
  standardize,
};

template <>
struct enum_names<scaling> {
  static constexpr std::string_view what = "scaling";
  static constexpr std::array table{
    std::pair{scaling::none, "none"},
    std::pair{scaling::pixels, "pixels"},
    std::pair{scaling::minmax, "minmax"},
    std::pair{scaling::standardize, "standardize"},
  };
};

/// A per-feature affine map x' = (x - shift) * scale, fitted on the training
/// set and applied unchanged to the test set and at evaluation time, so a
/// saved model carries it.
struct feature_transform {
  arma::fvec shift;
  arma::fvec scale;

  /// Fits the transform of kind `s` on `train`; `none` gives shift 0, scale
  /// 1; `pixels` gives shift 0, scale 1/255.
  static feature_transform fit(scaling s, const dataset& train);

  /// Applies the transform in place to every sample of `x`.
  /// @pre x.n_rows == shift.n_elem
  void apply(arma::fmat& x) const;
};

} // namespace paramserv
