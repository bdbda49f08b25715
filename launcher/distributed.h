// run_distributed(): the MPI side of main for the distributed commands (train, eval). Brings
// MPI up (RAII MpiEnvironment), sets up rank-aware logging from the config, builds the
// communicator for dist.backend, and runs `body`. If `body` throws on any rank of a multi-rank
// job, that rank logs the error prefixed with its rank and calls MPI_Abort, so no other rank is
// left waiting in a collective; in a single process the exception propagates to main.
#pragma once

#include <functional>

#include "comm/communicator.h"
#include "common/config.h"

namespace tessera::cli {

void run_distributed(const Config& cfg, const std::function<void(Communicator&)>& body);

}  // namespace tessera::cli
