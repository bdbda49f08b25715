// make_communicator: picks and builds the Communicator for a run from `dist.backend`:
//   auto -> NCCL when cuda_tensors and this build has NCCL, else MPI (CPU tensors);
//   mpi  -> MpiCommunicator (refused for CUDA tensors: the MPI backend reduces CPU memory);
//   nccl -> NcclCommunicator (refused when not built with NCCL, or for CPU tensors).
// Every refusal is a tessera::Error naming `dist.backend`, what was asked and what to do.
// The returned communicator must be destroyed before `env`.
#pragma once

#include <memory>

#include "comm/communicator.h"
#include "comm/mpi_environment.h"

namespace tessera {

struct DistConfig;

// True when this build has the NCCL backend (TESSERA_HAVE_NCCL).
bool nccl_backend_built();

// The backend `dist.backend` resolves to ("mpi" or "nccl"), or throws as described above.
std::string resolve_backend(const std::string& requested, bool cuda_tensors);

std::unique_ptr<Communicator> make_communicator(const DistConfig& dist, MpiEnvironment& env,
                                                bool cuda_tensors);

}  // namespace tessera
