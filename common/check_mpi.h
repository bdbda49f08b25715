// TESSERA_CHECK_MPI(call): runs an MPI call and throws tessera::Error with file:line, the call's
// text and MPI's own error string when it does not return MPI_SUCCESS. Communicators that use
// it must have MPI_ERRORS_RETURN set (comm/ does this), otherwise MPI aborts before we see it.
#pragma once

#include <mpi.h>

#include "common/error.h"

namespace tessera {
inline std::string mpi_error_string(int code) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, buf, &len) != MPI_SUCCESS) return "unknown MPI error";
  return std::string(buf, static_cast<size_t>(len));
}
}  // namespace tessera

#define TESSERA_CHECK_MPI(call)                                                            \
  do {                                                                                     \
    int tessera_mpi_rc_ = (call);                                                          \
    if (tessera_mpi_rc_ != MPI_SUCCESS) {                                                  \
      ::tessera::throw_error(__FILE__, __LINE__,                                           \
                             ::fmt::format("MPI call `{}` failed: {} (code {})", #call,    \
                                           ::tessera::mpi_error_string(tessera_mpi_rc_),   \
                                           tessera_mpi_rc_));                              \
    }                                                                                      \
  } while (0)
