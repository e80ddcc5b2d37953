#pragma once

#include <string>
#include <string_view>

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

namespace detail {

/// Fault injection for tests of save_model (after LevelDB's
/// db/fault_injection_test.cc). save_model calls before(step, path) before
/// each step that touches the disk, with `step` one of
/// - "write array" (path: the new .npy file; creates and writes it),
/// - "fsync array" (the same file; fsyncs and closes it),
/// - "write manifest" (the temporary manifest), "fsync manifest" (the same),
/// - "fsync folder" (the model folder; twice: before and after the rename),
/// - "rename manifest" (path: manifest.json),
/// - "remove old file" (a file of the previous save),
/// in the order save_model documents. A hook that throws simulates a crash
/// at that step: save_model stops and lets the exception through, leaving
/// the folder as that crash would.
struct save_faults {
  virtual ~save_faults() = default;

  virtual void before(std::string_view step, const std::string& path) = 0;
};

} // namespace detail

/// Saves a model to directory `dir` (created if missing) in paramserv's
/// model format, version 1:
/// - `manifest.json`: {"format": "paramserv-model", "version": 1,
///   "model": {"kind", "layers", "activation"}, "input": {"scaling",
///   "shift", "scale"}, "tensors": [{"name", "file", "shape", "dtype"}]};
///   "file", "shift" and "scale" are names of files in `dir`;
/// - one NumPy .npy file (float32, little-endian, C order) per tensor.
///   Weight W_l has shape (in, out) so that numpy computes a layer as
///   `x @ W + b` with x of shape (batch, in); biases have shape (out,);
/// - two .npy files (shape (features,)) for the input transform
///   x' = (x - shift) * scale.
///
/// Crash safety: a crash at any moment leaves either the previous model or
/// the new one, whole. Each save draws a fresh save id ID (16 hex digits
/// from std::random_device plus a process-wide counter) and names its files
/// with it: `<tensor>.ID.npy` (e.g. `W1.ID.npy`), `input_shift.ID.npy`,
/// `input_scale.ID.npy`; so it never touches a file of the previous save,
/// which manifest.json keeps naming until the last moment. In order:
/// 1. each array is created (never overwriting a file), written, fsynced;
/// 2. the manifest is written to `manifest.json.ID.tmp` and fsynced;
/// 3. the folder is fsynced (the new names are durable);
/// 4. the temporary manifest is renamed over manifest.json: the commit;
/// 5. the folder is fsynced (the rename is durable);
/// 6. the files the previous manifest named (plain names in `dir` only,
///    e.g. `W1.npy` of saves before save ids) are removed; errors are
///    ignored, since the new model is already saved.
/// A save that fails or crashes before step 4 leaves its own files behind
/// (`*.ID.npy`, `manifest.json.ID.tmp`); nothing removes them, and they do
/// not disturb later saves or loads. Concurrent saves to one directory are
/// not supported.
/// @param faults a fault-injection hook for tests; see detail::save_faults.
/// @throws std::runtime_error naming the file on any I/O error.
void save_model(const std::string& dir, const model_spec& spec,
  const parameter_set& params, scaling input_scaling,
  const feature_transform& transform, detail::save_faults* faults = nullptr);

/// Loads a model saved by save_model, checking every shape against the
/// manifest's model description. Every file the manifest names must be a
/// plain file name in `dir` (no '/', not "." or "..") whose canonical path,
/// symlinks resolved, lies inside `dir`.
/// @throws std::runtime_error naming the file and the problem, e.g.
///         `DIR/manifest.json: tensor 0 ("W1"): file "../x.npy" is not a
///         plain file name inside the model folder`.
saved_model load_model(const std::string& dir);

} // namespace paramserv
