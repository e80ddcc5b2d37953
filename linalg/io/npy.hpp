#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace paramserv {

namespace detail {
class posix_file; // linalg/io/posix_file.hpp
} // namespace detail

/// A float32 array read from a NumPy .npy file: its shape and its elements
/// in C (row-major) order.
struct npy_array {
  std::vector<size_t> shape;
  std::vector<float> data;
};

/// Writes `count` floats at `data` as a NumPy .npy file (format version 1.0,
/// dtype '<f4', C order) with the given shape; the product of `shape` must
/// equal `count`. The data are written as they lie in memory, so a
/// column-major arma::fmat with n_rows r and n_cols c is saved with shape
/// {c, r}. Writes to a temporary file and renames it into place.
/// @throws std::runtime_error naming the file on any I/O failure.
void write_npy(const std::string& path, const float* data, size_t count,
  const std::vector<size_t>& shape);

/// Writes the bytes write_npy would write for the same arguments to `out`,
/// at its current position, and neither syncs nor closes it: for callers
/// that choose the file name and decide when to fsync, such as save_model.
/// @throws std::invalid_argument when the shape does not hold `count`
///         elements, std::runtime_error naming the file on a write error.
void write_npy_to(detail::posix_file& out, const float* data, size_t count,
  const std::vector<size_t>& shape);

/// Reads a .npy file written by write_npy or by numpy.save of a float32
/// C-order array (versions 1.0, 2.0 and 3.0 of the format).
/// @throws std::runtime_error naming the file and the problem: missing file,
///         bad magic, unsupported dtype or Fortran order, truncated data.
npy_array read_npy(const std::string& path);

} // namespace paramserv
