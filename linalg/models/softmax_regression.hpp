#pragma once

#include "linalg/models/mlp.hpp"

namespace paramserv {

/// Multinomial logistic (softmax) regression: logits = W x + b, trained on
/// the mean cross-entropy. It is the MLP with no hidden layer, so it shares
/// that code (and its gradient checks); parameters `W1 b1`.
template <class T>
class basic_softmax_regression : public basic_mlp<T> {
public:
  basic_softmax_regression(size_t inputs, size_t classes)
    : basic_mlp<T>(make_spec(inputs, classes)) {}

  static model_spec make_spec(size_t inputs, size_t classes) {
    model_spec spec;
    spec.kind = "softmax";
    spec.inputs = inputs;
    spec.classes = classes;
    return spec;
  }
};

using softmax_regression = basic_softmax_regression<float>;

} // namespace paramserv
