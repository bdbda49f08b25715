// Shared main() for MPI-enabled GoogleTest programs of tests/comm: creates the MpiEnvironment,
// runs the tests on every rank, and makes the exit status non-zero on every rank when any rank
// had a failure. Tests reach the environment through test_env().
#pragma once

#include "comm/mpi_environment.h"

namespace tessera::testing {
MpiEnvironment& test_env();
}  // namespace tessera::testing
