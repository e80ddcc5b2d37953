#include "linalg/core/blas_threads.hpp"

#include <dlfcn.h>

namespace paramserv {

bool set_blas_threads(int n) {
  // Looked up at run time: Armadillo links the generic libblas.so.3, which
  // Debian's alternatives may point at OpenBLAS or at the reference BLAS.
  using setter = void (*)(int);
  auto fn
    = reinterpret_cast<setter>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (fn == nullptr)
    return false;
  fn(n);
  return true;
}

} // namespace paramserv
