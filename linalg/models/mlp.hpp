#pragma once

#include <cstddef>
#include <vector>

#include "linalg/models/model.hpp"

namespace paramserv {

/// A multi-layer perceptron with softmax output and cross-entropy loss:
///   a_0 = x,  a_l = act(W_l a_{l-1} + b_l)  (hidden layers),
///   logits = W_L a_{L-1} + b_L,  loss = mean_j -log softmax(logits_j)[y_j].
/// Parameters `W1 b1 W2 b2 ...`; W_l is an Armadillo (out x in) matrix,
/// b_l an (out x 1) column. With no hidden layers this is softmax
/// regression. The loss uses log-sum-exp, so large logits never overflow.
/// Not thread-safe (owns scratch buffers); see basic_model.
template <class T>
class basic_mlp : public basic_model<T> {
public:
  using params_type = typename basic_model<T>::params_type;

  /// @throws std::invalid_argument for an invalid spec.
  explicit basic_mlp(model_spec spec);

  const model_spec& spec() const override {
    return spec_;
  }

  std::vector<tensor_shape> shapes() const override;

  void initialize(params_type& params, uint64_t seed) const override;

  T gradient(const params_type& params, const arma::Mat<T>& x,
    std::span<const uint32_t> labels, params_type& grad) override;

  T loss(const params_type& params, const arma::Mat<T>& x,
    std::span<const uint32_t> labels) override;

  void predict(const params_type& params, const arma::Mat<T>& x,
    std::span<uint32_t> out) override;

  std::unique_ptr<basic_model<T>> clone() const override;

private:
  /// Computes every layer's output into a_ (a_.back() holds the logits).
  void forward(const params_type& params, const arma::Mat<T>& x);

  /// Turns the logits into d loss / d logits in place; returns the mean loss.
  T softmax_cross_entropy(std::span<const uint32_t> labels);

  /// Mean loss of the logits, without touching them.
  T cross_entropy(std::span<const uint32_t> labels) const;

  model_spec spec_;
  size_t depth_; // number of affine layers
  // a_[l] = output of layer l+1 (hidden activations, then logits).
  std::vector<arma::Mat<T>> a_;
  // Backward scratch: gradient w.r.t. the pre-activation of a layer.
  std::vector<arma::Mat<T>> delta_;
};

using mlp = basic_mlp<float>;

} // namespace paramserv
