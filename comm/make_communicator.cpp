#include "comm/make_communicator.h"

#include "comm/mpi_communicator.h"
#include "common/config.h"
#include "common/error.h"
#ifdef TESSERA_HAVE_NCCL
#include "comm/nccl_communicator.h"
#endif

namespace tessera {

bool nccl_backend_built() {
#ifdef TESSERA_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

std::string resolve_backend(const std::string& requested, bool cuda_tensors) {
  if (requested == "auto") {
    if (!cuda_tensors) return "mpi";
    TESSERA_CHECK(nccl_backend_built(),
                  "dist.backend: auto with CUDA tensors needs the NCCL backend, but this tessera "
                  "was built without NCCL (CUDA toolkit or NCCL not found at configure time). "
                  "Rebuild with NCCL (see docs/distributed.md) or train on the CPU");
    return "nccl";
  }
  if (requested == "mpi") {
    TESSERA_CHECK(!cuda_tensors,
                  "dist.backend: mpi reduces CPU tensors only, but the model is on a CUDA device; "
                  "use dist.backend: nccl (or auto)");
    return "mpi";
  }
  if (requested == "nccl") {
    TESSERA_CHECK(nccl_backend_built(),
                  "dist.backend: nccl was requested, but this tessera was built without NCCL "
                  "(CUDA toolkit or NCCL not found at configure time); use dist.backend: mpi or "
                  "auto, or rebuild with NCCL (see docs/distributed.md)");
    TESSERA_CHECK(cuda_tensors,
                  "dist.backend: nccl needs CUDA tensors, but the model is on the CPU; use "
                  "dist.backend: mpi (or auto)");
    return "nccl";
  }
  TESSERA_THROW("dist.backend: unknown value '{}'; expected auto, mpi or nccl", requested);
}

std::unique_ptr<Communicator> make_communicator(const DistConfig& dist, MpiEnvironment& env,
                                                bool cuda_tensors) {
  const std::string backend = resolve_backend(dist.backend, cuda_tensors);
#ifdef TESSERA_HAVE_NCCL
  if (backend == "nccl") return std::make_unique<NcclCommunicator>(env);
#endif
  return std::make_unique<MpiCommunicator>(env);
}

std::unique_ptr<Communicator> Communicator::duplicate() const {
  TESSERA_THROW("the {} communicator cannot be duplicated (needed for a second, independent "
                "stream of collectives such as dist.sync_batchnorm's)",
                backend());
}

}  // namespace tessera
