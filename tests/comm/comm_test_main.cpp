#include <gtest/gtest.h>

#include <cstdio>

#include "comm/mpi_environment.h"
#include "tests/comm/comm_test_main.h"

namespace tessera::testing {
namespace {
MpiEnvironment* g_env = nullptr;
}
MpiEnvironment& test_env() { return *g_env; }
}  // namespace tessera::testing

int main(int argc, char** argv) {
  tessera::MpiEnvironment env(&argc, &argv);
  tessera::testing::g_env = &env;
  ::testing::InitGoogleTest(&argc, argv);
  int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  int any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (any_failed && !failed) {
    std::fprintf(stderr, "rank %d: passed, but another rank failed\n", env.rank());
  }
  return any_failed;
}
