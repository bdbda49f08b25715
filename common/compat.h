// Library version differences, in one place.
//
// tessera builds and passes its suite on Debian 12 (bookworm: LibTorch/PyTorch 1.13, OpenMPI 4.1,
// HDF5 1.10.8, gcc 12) and Debian 13 (trixie: LibTorch/PyTorch 2.6, OpenMPI 5.0 whose `mpirun`
// is PRRTE's `prterun`, HDF5 1.14.5, gcc 14); scripts/check-fresh.sh checks both. Every place
// where the code depends on which version it runs with asks a function of this header, so the
// differences are listed here and nowhere else (shell tests: tests/compat.sh; docs/testing.md).
//
//  - HDF5 >= 1.14.4 reports chunk addresses (H5Dget_chunk_info*, H5Dchunk_iter) as absolute
//    file offsets; older releases report them relative to the base address, i.e. without the
//    user block (HDFGroup/hdf5 issue 3003, fixed by pull request 4236). Decided at run time,
//    from the library actually loaded.
//  - Files written for Python never carry TorchScript type tags (models/export.cpp), which works
//    the same way on both LibTorch versions and needs no switch here.
//  - LibTorch 2.4 replaced the per-device autocast functions (at::autocast::set_cpu_enabled,
//    set_enabled, get_autocast_cpu_dtype, ...) by ones taking a DeviceType and deprecated the old
//    ones; 1.13 has only the old. TESSERA_TORCH_AUTOCAST_DEVICE_API says which to call
//    (trainer/precision.cpp). Decided at compile time, from the headers.
//  - OpenMPI: see launcher's use of mpirun_flavour(); the option spellings tessera generates are
//    accepted by both OpenMPI 4's orterun and OpenMPI 5's prterun.
//
// Header-only. Each section compiles only where its library's headers are on the include path
// (like common/check_hdf5.h), so common itself links nothing new.
#pragma once

#include <string>
#include <tuple>

#if __has_include(<hdf5.h>)
#include <hdf5.h>

namespace tessera::compat {

// True when H5Dget_chunk_info_by_coord's address already includes the user block.
inline bool hdf5_chunk_address_includes_userblock() {
  unsigned major = 0, minor = 0, release = 0;
  if (H5get_libversion(&major, &minor, &release) < 0) return H5_VERSION_GE(1, 14, 4);
  return std::make_tuple(major, minor, release) >= std::make_tuple(1u, 14u, 4u);
}

}  // namespace tessera::compat
#endif

#if __has_include(<torch/version.h>)
#include <torch/version.h>
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define TESSERA_TORCH_AUTOCAST_DEVICE_API 1
#else
#define TESSERA_TORCH_AUTOCAST_DEVICE_API 0
#endif
#endif
