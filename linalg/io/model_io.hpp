#pragma once

#include <string>

#include "linalg/data/feature_transform.hpp"
#include "linalg/models/model.hpp"
#include "linalg/core/parameter_set.hpp"

namespace paramserv {

/// A model as saved on disk: what it is, its parameters, and the input
/// transform it was trained with (applied to raw features before predict).
struct saved_model {
  model_spec spec;
  parameter_set params;
  scaling input_scaling = scaling::none;
  feature_transform transform;
};

/// Saves a model to directory `dir` (created if missing) in paramserv's
/// model format, version 1:
/// - `manifest.json`: {"format": "paramserv-model", "version": 1,
///   "model": {"kind", "layers", "activation"}, "input": {"scaling",
///   "shift", "scale"}, "tensors": [{"name", "file", "shape", "dtype"}]};
/// - one NumPy .npy file (float32, little-endian, C order) per tensor.
///   Weight W_l has shape (in, out) so that numpy computes a layer as
///   `x @ W + b` with x of shape (batch, in); biases have shape (out,);
/// - `input_shift.npy` and `input_scale.npy` (shape (features,)): the input
///   transform x' = (x - shift) * scale.
/// Every file is written to a temporary name and renamed; the manifest
/// goes last, so a crash never leaves a manifest pointing at missing data.
/// @throws std::runtime_error naming the file on any I/O error.
void save_model(const std::string& dir, const model_spec& spec,
  const parameter_set& params, scaling input_scaling,
  const feature_transform& transform);

/// Loads a model saved by save_model, checking every shape against the
/// manifest's model description.
/// @throws std::runtime_error naming the file and the problem.
saved_model load_model(const std::string& dir);

} // namespace paramserv
