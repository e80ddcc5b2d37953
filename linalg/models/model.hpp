#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <armadillo>

#include "linalg/core/parameter_set.hpp"

#include "linalg/core/names.hpp"

namespace paramserv {

/// Nonlinearity of an MLP's hidden layers.
enum class activation { relu, tanh };

template <>
struct enum_names<activation> {
  static constexpr std::string_view what = "activation";
  static constexpr std::array table{
    std::pair{activation::relu, "relu"},
    std::pair{activation::tanh, "tanh"},
  };
};

/// What a model is: enough to rebuild it (and to save and load it).
struct model_spec {
  /// "softmax" (multinomial logistic regression) or "mlp".
  std::string kind = "mlp";
  size_t inputs = 0;
  /// Hidden layer widths; empty for softmax.
  std::vector<size_t> hidden;
  size_t classes = 0;
  activation act = activation::relu;

  friend bool operator==(const model_spec&, const model_spec&) = default;

  /// Layer widths from input to output, e.g. {784, 200, 10}.
  std::vector<size_t> layers() const;

  /// Throws std::invalid_argument naming the problem (unknown kind, zero
  /// inputs, fewer than two classes, a zero-width layer, softmax with hidden
  /// layers).
  void validate() const;
};

/// Result of evaluating a model on labelled data.
struct evaluation {
  /// Mean cross-entropy loss.
  double loss = 0;
  /// Fraction of correctly classified samples.
  double accuracy = 0;
};

/// A classifier trained by minimising the mean cross-entropy of a batch.
///
/// Shape of every model (cf. ensmallen's differentiable functions):
/// - `x` holds one sample per column (features x batch);
/// - `labels[j]` is the class of column j, in [0, classes);
/// - `gradient` returns the batch's mean loss and overwrites `grad` (same
///   layout as the parameters) with its gradient.
///
/// A model instance owns scratch buffers sized to the last batch, so that
/// the hot path allocates nothing: it is NOT thread-safe. Each thread or
/// actor uses its own instance (see clone()). The parameters are passed in,
/// never owned, so many instances can read one parameter set.
template <class T>
class basic_model {
public:
  using params_type = basic_parameter_set<T>;

  virtual ~basic_model() = default;

  /// What this model is.
  virtual const model_spec& spec() const = 0;

  /// Layout of the parameters this model reads.
  virtual std::vector<tensor_shape> shapes() const = 0;

  /// Seeded initialisation: He-uniform weights for relu, Xavier-uniform for
  /// tanh and for the output layer; biases zero.
  virtual void initialize(params_type& params, uint64_t seed) const = 0;

  /// Mean loss of the batch; writes d loss / d params into `grad`.
  virtual T gradient(const params_type& params, const arma::Mat<T>& x,
    std::span<const uint32_t> labels, params_type& grad)
    = 0;

  /// Mean loss of the batch, without the gradient.
  virtual T loss(const params_type& params, const arma::Mat<T>& x,
    std::span<const uint32_t> labels)
    = 0;

  /// Writes the predicted class of each column of `x` into `out`.
  virtual void predict(
    const params_type& params, const arma::Mat<T>& x, std::span<uint32_t> out)
    = 0;

  /// A fresh instance of the same model (no shared scratch state).
  virtual std::unique_ptr<basic_model> clone() const = 0;

  /// Loss and accuracy over a whole data set, in chunks of `chunk` samples.
  evaluation evaluate(const params_type& params, const arma::Mat<T>& x,
    std::span<const uint32_t> labels, size_t chunk = 2000);
};

using model = basic_model<float>;

/// Builds the model a spec describes (validating it first): a built-in
/// kind, or one registered with register_model (float models only).
/// @throws std::invalid_argument for an invalid spec or an unknown kind.
template <class T = float>
std::unique_ptr<basic_model<T>> make_model(const model_spec& spec);

/// Makes a model of a registered kind from its spec (the spec's inputs,
/// classes and hidden widths are the custom model's to interpret).
using model_factory = std::function<std::unique_ptr<model>(const model_spec&)>;

/// Registers a custom model under `kind`, so that a job naming it (a
/// job_spec carries the name, never code) trains it through the same
/// shards and workers. Every process that builds the model (workers, the
/// scheduler, which evaluates it) must register it before it spawns or
/// joins. Registering a kind again replaces it. Thread-safe.
/// @throws std::invalid_argument for an empty name, a built-in name
///         ("softmax", "mlp") or an empty factory.
void register_model(const std::string& kind, model_factory make);

/// Removes the custom model `kind` (a job naming it is refused from then
/// on); returns whether it was registered. Thread-safe.
bool unregister_model(const std::string& kind);

/// Whether `kind` is a built-in or a registered model.
bool model_known(const std::string& kind);

/// The kinds this process knows, for messages: "softmax, mlp[, ...]".
std::string known_models();

} // namespace paramserv
