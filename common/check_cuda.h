// TESSERA_CHECK_CUDA(call) and TESSERA_CHECK_NCCL(call): throw tessera::Error with file:line,
// the call and the library's error string. Only usable in targets built with CUDA/NCCL
// (TESSERA_HAVE_NCCL). The NCCL backend aborts its communicator before letting the error
// propagate (see comm/nccl_communicator.cpp).
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

#include "common/error.h"

#define TESSERA_CHECK_CUDA(call)                                                              \
  do {                                                                                        \
    cudaError_t tessera_cuda_rc_ = (call);                                                    \
    if (tessera_cuda_rc_ != cudaSuccess) {                                                    \
      ::tessera::throw_error(__FILE__, __LINE__,                                              \
                             ::fmt::format("CUDA call `{}` failed: {} ({}). Hint: check "     \
                                           "nvidia-smi and CUDA_VISIBLE_DEVICES",             \
                                           #call, cudaGetErrorString(tessera_cuda_rc_),       \
                                           static_cast<int>(tessera_cuda_rc_)));              \
    }                                                                                         \
  } while (0)

#define TESSERA_CHECK_NCCL(call)                                                              \
  do {                                                                                        \
    ncclResult_t tessera_nccl_rc_ = (call);                                                   \
    if (tessera_nccl_rc_ != ncclSuccess) {                                                    \
      ::tessera::throw_error(__FILE__, __LINE__,                                              \
                             ::fmt::format("NCCL call `{}` failed: {} ({}). Hint: rerun with " \
                                           "NCCL_DEBUG=INFO",                                 \
                                           #call, ncclGetErrorString(tessera_nccl_rc_),       \
                                           static_cast<int>(tessera_nccl_rc_)));              \
    }                                                                                         \
  } while (0)
