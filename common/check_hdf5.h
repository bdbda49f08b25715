// TESSERA_CHECK_HDF5(expr, context...): HDF5 C API calls return a negative value (herr_t or
// hid_t) on failure. This throws tessera::Error with file:line, the call, the caller's context
// (which file / dataset / sample) and the top of HDF5's own error stack.
#pragma once

#include <hdf5.h>

#include "common/error.h"

namespace tessera {
// Message of the innermost entry on HDF5's current error stack ("" if none).
inline std::string hdf5_error_string() {
  std::string out;
  auto walk = [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
    auto* s = static_cast<std::string*>(data);
    if (n == 0 && e && e->desc) *s = e->desc;
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk, &out);
  return out.empty() ? std::string("no HDF5 error detail") : out;
}
}  // namespace tessera

#define TESSERA_CHECK_HDF5(expr, ...)                                                      \
  ([&]() {                                                                                 \
    auto tessera_h5_rc_ = (expr);                                                          \
    if (tessera_h5_rc_ < 0) {                                                              \
      ::tessera::throw_error(__FILE__, __LINE__,                                           \
                             ::fmt::format("HDF5 call `{}` failed: {} ({})", #expr,        \
                                           ::fmt::format(__VA_ARGS__),                     \
                                           ::tessera::hdf5_error_string()));               \
    }                                                                                      \
    return tessera_h5_rc_;                                                                 \
  }())
