#include "linalg/models/model.hpp"

#include <algorithm>
#include <stdexcept>
#include <type_traits>

#include "linalg/core/registry.hpp"
#include "linalg/models/mlp.hpp"
#include "linalg/models/softmax_regression.hpp"

namespace paramserv {

std::vector<size_t> model_spec::layers() const {
  std::vector<size_t> result;
  result.push_back(inputs);
  result.insert(result.end(), hidden.begin(), hidden.end());
  result.push_back(classes);
  return result;
}

namespace {

named_registry<model_factory>& models() {
  static named_registry<model_factory> instance{"model", {"softmax", "mlp"}};
  return instance;
}

bool built_in(const std::string& kind) {
  return models().built_in(kind);
}

} // namespace

void register_model(const std::string& kind, model_factory make) {
  models().add(kind, std::move(make));
}

bool unregister_model(const std::string& kind) {
  return models().remove(kind);
}

std::string known_models() {
  return models().names();
}

bool model_known(const std::string& kind) {
  return models().known(kind);
}

void model_spec::validate() const {
  if (!model_known(kind))
    throw std::invalid_argument("model: unknown kind \"" + kind
                                + "\" (this process knows " + known_models()
                                + ")");
  if (inputs == 0)
    throw std::invalid_argument("model: zero inputs");
  if (classes < 2)
    throw std::invalid_argument("model: needs at least 2 classes");
  if (!built_in(kind))
    return; // the rest is the custom model's to check
  if (kind == "softmax" && !hidden.empty())
    throw std::invalid_argument("model: softmax has no hidden layers");
  if (std::find(hidden.begin(), hidden.end(), size_t{0}) != hidden.end())
    throw std::invalid_argument("model: a hidden layer has width 0");
}

template <class T>
evaluation basic_model<T>::evaluate(const params_type& params,
  const arma::Mat<T>& x, std::span<const uint32_t> labels, size_t chunk) {
  evaluation result;
  size_t n = x.n_cols;
  if (n == 0)
    return result;
  std::vector<uint32_t> predicted(std::min(chunk, n));
  double loss_sum = 0;
  size_t correct = 0;
  for (size_t first = 0; first < n; first += chunk) {
    size_t m = std::min(chunk, n - first);
    // A view of the columns, no copy.
    const arma::Mat<T> part(
      const_cast<T*>(x.colptr(first)), x.n_rows, m, false, true);
    auto part_labels = labels.subspan(first, m);
    loss_sum += static_cast<double>(loss(params, part, part_labels)) * m;
    predict(params, part, std::span<uint32_t>{predicted.data(), m});
    for (size_t j = 0; j < m; ++j)
      correct += predicted[j] == part_labels[j] ? 1 : 0;
  }
  result.loss = loss_sum / n;
  result.accuracy = static_cast<double>(correct) / n;
  return result;
}

template <class T>
std::unique_ptr<basic_model<T>> make_model(const model_spec& spec) {
  spec.validate();
  if (!built_in(spec.kind)) {
    if constexpr (std::is_same_v<T, float>) {
      auto make = models().find(spec.kind);
      if (!make)
        throw std::invalid_argument(
          "model: \"" + spec.kind + "\" is not registered any more");
      auto made = make(spec);
      if (!made)
        throw std::invalid_argument(
          "model: the factory of \"" + spec.kind + "\" made nothing");
      return made;
    } else {
      throw std::invalid_argument(
        "model: \"" + spec.kind + "\" is registered for float only");
    }
  }
  if (spec.kind == "softmax")
    return std::make_unique<basic_softmax_regression<T>>(
      spec.inputs, spec.classes);
  return std::make_unique<basic_mlp<T>>(spec);
}

template class basic_model<float>;
template class basic_model<double>;
template std::unique_ptr<basic_model<float>> make_model(const model_spec&);
template std::unique_ptr<basic_model<double>> make_model(const model_spec&);

} // namespace paramserv
