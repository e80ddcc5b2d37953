#include "actors/train.hpp"

#include "linalg/core/registry.hpp"
#include "linalg/io/posix_file.hpp"

#include <string>
#include <utility>

namespace paramserv {

namespace {

// The caller's model with the caller's gradient function in place of its
// own gradient().
class with_gradient final : public model {
public:
  with_gradient(std::unique_ptr<model> inner, gradient_function update)
    : inner_(std::move(inner)), update_(std::move(update)) {}

  const model_spec& spec() const override {
    return inner_->spec();
  }

  std::vector<tensor_shape> shapes() const override {
    return inner_->shapes();
  }

  void initialize(params_type& params, uint64_t seed) const override {
    inner_->initialize(params, seed);
  }

  float gradient(const params_type& params, const arma::fmat& x,
    std::span<const uint32_t> labels, params_type& grad) override {
    return update_(params, x, labels, grad);
  }

  float loss(const params_type& params, const arma::fmat& x,
    std::span<const uint32_t> labels) override {
    return inner_->loss(params, x, labels);
  }

  void predict(const params_type& params, const arma::fmat& x,
    std::span<uint32_t> out) override {
    inner_->predict(params, x, out);
  }

  std::unique_ptr<model> clone() const override {
    return std::make_unique<with_gradient>(inner_->clone(), update_);
  }

private:
  std::unique_ptr<model> inner_;
  gradient_function update_;
};

// A name no other call or registration uses: the job names the caller's
// model and rule by it while the call runs.
std::string private_name(const char* what) {
  return std::string{named_registry<model_factory>::private_prefix} + what + "/"
         + detail::unique_id();
}

// Registers under a private name for the scope of the call, on every exit
// path removed again.
template <class Factory>
class scoped_registration {
public:
  using add_fn = void (*)(const std::string&, Factory);
  using remove_fn = bool (*)(const std::string&);

  scoped_registration(
    const char* what, Factory make, add_fn add, remove_fn remove)
    : name_(private_name(what)), remove_(remove) {
    add(name_, std::move(make));
  }

  scoped_registration(const scoped_registration&) = delete;
  scoped_registration& operator=(const scoped_registration&) = delete;

  ~scoped_registration() {
    remove_(name_);
  }

  const std::string& name() const {
    return name_;
  }

private:
  std::string name_;
  remove_fn remove_;
};

} // namespace

local_result train(const model& net, std::shared_ptr<const dataset> data,
  const train_call_options& options) {
  if (!data)
    throw std::invalid_argument("train: no training data");
  std::shared_ptr<const model> proto = net.clone();
  if (!proto)
    throw std::invalid_argument("train: the model's clone() made nothing");
  model_factory make_net = [proto, update = options.update](const model_spec&) {
    auto made = proto->clone();
    if (update)
      return std::unique_ptr<model>{
        std::make_unique<with_gradient>(std::move(made), update)};
    return made;
  };
  scoped_registration<model_factory> model_name{
    "model", std::move(make_net), &register_model, &unregister_model};
  auto opts = options.train;
  opts.model = proto->spec();
  opts.model.kind = model_name.name();
  std::optional<scoped_registration<update_rule_factory>> rule_name;
  if (options.aggregate) {
    rule_name.emplace("rule", options.aggregate, &register_update_rule,
      &unregister_update_rule);
    opts.optimizer.kind = rule_name->name();
  }
  auto run = options.run;
  run.data = data_source{};
  return train_local(opts, run, std::move(data), options.test, options.hooks);
}

} // namespace paramserv
