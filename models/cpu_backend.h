// CPU convolution backend check: LibTorch's fast CPU convolutions come from oneDNN, and at least
// one build in the wild computes some of them wrongly. Debian 13's LibTorch 2.6.0 with oneDNN
// 3.7.2 returns garbage (relative error ~1) from conv_transpose2d and from conv2d's gradient with
// respect to its input (oneDNN "deconvolution", jit:avx512_core / jit:avx2) for small channel
// counts (e.g. 2 -> 2 channels, kernel 5, stride 3) on an AMD EPYC with AVX-512; fp64 (never
// oneDNN) and LibTorch with oneDNN off agree with each other. Trained through such a build, a
// model's weights go NaN at random steps. Reproduction with Debian's python3-torch:
// docs/testing.md, "LibTorch's CPU convolutions".
//
// prepare_cpu_backend(threads) sets LibTorch's intra-op threads (the failures depend on them),
// then runs a handful of small probe convolutions (forward and input gradient) in fp32 against
// fp64. If any differs, it turns oneDNN off for this process (at::Context::setUserEnabledMkldnn:
// correct, several times slower), checks again, and logs one warning saying so; if the probes
// still differ it throws. Cost: a few milliseconds. It draws nothing from torch's random
// generator (inputs are closed-form), so seeding before or after it gives the same run.
// Call it where a process sets its threads, before it builds a model (train, eval, predict).
// Thread safety: call from the main thread before training threads start.
#pragma once

#include <string>

namespace tessera {

struct CpuBackendCheck {
  double worst_error = 0;        // largest relative error of the probes as first run
  std::string worst_probe;       // which probe ("conv_transpose2d k5 s3 2->2 3x3", ...)
  bool onednn_disabled = false;  // this call turned oneDNN off
};

// Largest relative error of the probes under the current settings (and which probe).
double cpu_conv_probe_error(std::string* worst_probe = nullptr);

CpuBackendCheck prepare_cpu_backend(int threads);

}  // namespace tessera
