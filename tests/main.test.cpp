#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "linalg/core/blas_threads.hpp"

int main(int argc, char** argv) {
  // Tests run beside each other on two cores; OpenBLAS' own threads would
  // only fight them.
  paramserv::set_blas_threads(1);
  doctest::Context ctx;
  ctx.applyCommandLine(argc, argv);
  return ctx.run();
}
