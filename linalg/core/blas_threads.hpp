#pragma once

namespace paramserv {

/// Sets the number of threads OpenBLAS may use, process-wide, if the BLAS
/// that Armadillo resolved to is OpenBLAS; returns whether it could. Each
/// paramserv worker computes on one core, so trainers call this with 1 to
/// keep OpenBLAS' own threads from fighting them for the CPUs.
bool set_blas_threads(int n);

} // namespace paramserv
