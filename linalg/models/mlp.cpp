#include "linalg/models/mlp.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "linalg/core/random.hpp"

namespace paramserv {

namespace {

// Sizes a scratch matrix; Armadillo keeps the memory when the element count
// is unchanged, so a steady batch size allocates nothing.
template <class T>
void ensure_size(arma::Mat<T>& m, size_t rows, size_t cols) {
  if (m.n_rows != rows || m.n_cols != cols)
    m.set_size(rows, cols);
}

template <class T>
void add_bias(arma::Mat<T>& z, const arma::Mat<T>& b) {
  const T* bp = b.memptr();
  for (size_t j = 0; j < z.n_cols; ++j) {
    T* col = z.colptr(j);
    for (size_t i = 0; i < z.n_rows; ++i)
      col[i] += bp[i];
  }
}

template <class T>
void apply_activation(arma::Mat<T>& z, activation act) {
  T* p = z.memptr();
  size_t n = z.n_elem;
  if (act == activation::relu) {
    for (size_t i = 0; i < n; ++i)
      p[i] = p[i] > T{0} ? p[i] : T{0};
  } else {
    for (size_t i = 0; i < n; ++i)
      p[i] = std::tanh(p[i]);
  }
}

// delta *= act'(z), expressed through the activation's output a = act(z).
template <class T>
void multiply_derivative(
  arma::Mat<T>& delta, const arma::Mat<T>& a, activation act) {
  T* d = delta.memptr();
  const T* ap = a.memptr();
  size_t n = delta.n_elem;
  if (act == activation::relu) {
    for (size_t i = 0; i < n; ++i)
      d[i] = ap[i] > T{0} ? d[i] : T{0};
  } else {
    for (size_t i = 0; i < n; ++i)
      d[i] *= T{1} - ap[i] * ap[i];
  }
}

template <class T>
void row_sums(const arma::Mat<T>& m, arma::Mat<T>& out) {
  T* o = out.memptr();
  std::fill(o, o + m.n_rows, T{0});
  for (size_t j = 0; j < m.n_cols; ++j) {
    const T* col = m.colptr(j);
    for (size_t i = 0; i < m.n_rows; ++i)
      o[i] += col[i];
  }
}

} // namespace

template <class T>
basic_mlp<T>::basic_mlp(model_spec spec) : spec_(std::move(spec)) {
  spec_.validate();
  depth_ = spec_.hidden.size() + 1;
  a_.resize(depth_);
  delta_.resize(depth_);
}

template <class T>
std::vector<tensor_shape> basic_mlp<T>::shapes() const {
  std::vector<tensor_shape> result;
  auto widths = spec_.layers();
  for (size_t l = 1; l < widths.size(); ++l) {
    auto n = std::to_string(l);
    result.push_back({"W" + n, widths[l], widths[l - 1]});
    result.push_back({"b" + n, widths[l], 1});
  }
  return result;
}

template <class T>
void basic_mlp<T>::initialize(params_type& params, uint64_t seed) const {
  if (params.shapes() != shapes())
    throw std::invalid_argument("mlp::initialize: parameter layout mismatch");
  auto gen = rng::derive(seed, 0x696e6974); // "init"
  for (size_t l = 0; l < depth_; ++l) {
    auto& w = params[2 * l];
    double fan_in = static_cast<double>(w.n_cols);
    double fan_out = static_cast<double>(w.n_rows);
    bool hidden = l + 1 < depth_;
    // He-uniform keeps the variance of relu layers, Xavier-uniform that of
    // tanh layers and of the (linear) output layer.
    double limit = hidden && spec_.act == activation::relu
                     ? std::sqrt(6.0 / fan_in)
                     : std::sqrt(6.0 / (fan_in + fan_out));
    T* p = w.memptr();
    for (size_t i = 0; i < w.n_elem; ++i)
      p[i] = static_cast<T>(gen.uniform(-limit, limit));
    params[2 * l + 1].zeros();
  }
}

template <class T>
void basic_mlp<T>::forward(const params_type& params, const arma::Mat<T>& x) {
  if (x.n_rows != spec_.inputs)
    throw std::invalid_argument("mlp: batch has " + std::to_string(x.n_rows)
                                + " features, model expects "
                                + std::to_string(spec_.inputs));
  const arma::Mat<T>* in = &x;
  for (size_t l = 0; l < depth_; ++l) {
    auto& w = params[2 * l];
    auto& z = a_[l];
    ensure_size(z, w.n_rows, x.n_cols);
    z = w * *in; // one GEMM into the preallocated buffer
    add_bias(z, params[2 * l + 1]);
    if (l + 1 < depth_)
      apply_activation(z, spec_.act);
    in = &z;
  }
}

template <class T>
T basic_mlp<T>::softmax_cross_entropy(std::span<const uint32_t> labels) {
  auto& z = a_.back();
  size_t classes = z.n_rows;
  T scale = T{1} / static_cast<T>(z.n_cols);
  double total = 0;
  for (size_t j = 0; j < z.n_cols; ++j) {
    T* col = z.colptr(j);
    T mx = *std::max_element(col, col + classes);
    // loss_j = log(sum_i exp(z_i)) - z_y = log(sum_i exp(z_i - max)) - (z_y
    // - max): every exponent is <= 0, so nothing overflows.
    T zy = col[labels[j]] - mx;
    T sum = 0;
    for (size_t i = 0; i < classes; ++i) {
      col[i] = std::exp(col[i] - mx);
      sum += col[i];
    }
    total += static_cast<double>(std::log(sum) - zy);
    T inv = scale / sum;
    for (size_t i = 0; i < classes; ++i)
      col[i] *= inv;
    col[labels[j]] -= scale;
  }
  return static_cast<T>(total / z.n_cols);
}

template <class T>
T basic_mlp<T>::cross_entropy(std::span<const uint32_t> labels) const {
  auto& z = a_.back();
  size_t classes = z.n_rows;
  double total = 0;
  for (size_t j = 0; j < z.n_cols; ++j) {
    const T* col = z.colptr(j);
    T mx = *std::max_element(col, col + classes);
    T sum = 0;
    for (size_t i = 0; i < classes; ++i)
      sum += std::exp(col[i] - mx);
    total += static_cast<double>(std::log(sum) + mx - col[labels[j]]);
  }
  return static_cast<T>(total / z.n_cols);
}

template <class T>
T basic_mlp<T>::gradient(const params_type& params, const arma::Mat<T>& x,
  std::span<const uint32_t> labels, params_type& grad) {
  if (labels.size() != x.n_cols)
    throw std::invalid_argument("mlp::gradient: label count mismatch");
  forward(params, x);
  T result = softmax_cross_entropy(labels);
  // a_.back() now holds d loss / d logits.
  for (size_t l = depth_; l-- > 0;) {
    const arma::Mat<T>& d = l + 1 == depth_ ? a_[l] : delta_[l];
    const arma::Mat<T>& in = l == 0 ? x : a_[l - 1];
    grad[2 * l] = d * in.t();
    row_sums(d, grad[2 * l + 1]);
    if (l > 0) {
      auto& prev = delta_[l - 1];
      ensure_size(prev, in.n_rows, in.n_cols);
      prev = params[2 * l].t() * d;
      multiply_derivative(prev, a_[l - 1], spec_.act);
    }
  }
  return result;
}

template <class T>
T basic_mlp<T>::loss(const params_type& params, const arma::Mat<T>& x,
  std::span<const uint32_t> labels) {
  if (labels.size() != x.n_cols)
    throw std::invalid_argument("mlp::loss: label count mismatch");
  forward(params, x);
  return cross_entropy(labels);
}

template <class T>
void basic_mlp<T>::predict(
  const params_type& params, const arma::Mat<T>& x, std::span<uint32_t> out) {
  forward(params, x);
  auto& z = a_.back();
  for (size_t j = 0; j < z.n_cols; ++j) {
    const T* col = z.colptr(j);
    out[j] = static_cast<uint32_t>(std::max_element(col, col + z.n_rows) - col);
  }
}

template <class T>
std::unique_ptr<basic_model<T>> basic_mlp<T>::clone() const {
  return std::make_unique<basic_mlp<T>>(spec_);
}

template class basic_mlp<float>;
template class basic_mlp<double>;

} // namespace paramserv
