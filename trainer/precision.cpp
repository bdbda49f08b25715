// Mixed precision: see precision.h.
#include "trainer/precision.h"

#include <ATen/autocast_mode.h>

#include <fstream>
#include <sstream>

#include "common/compat.h"  // TESSERA_TORCH_AUTOCAST_DEVICE_API
#include "common/error.h"

#ifndef TESSERA_TORCH_AUTOCAST_DEVICE_API
#error "common/compat.h did not find <torch/version.h>"
#endif

namespace tessera {

namespace {

bool autocast_enabled(bool cuda) {
#if TESSERA_TORCH_AUTOCAST_DEVICE_API
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

void set_autocast_enabled(bool cuda, bool on) {
#if TESSERA_TORCH_AUTOCAST_DEVICE_API
  at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, on);
#else
  if (cuda) {
    at::autocast::set_enabled(on);
  } else {
    at::autocast::set_cpu_enabled(on);
  }
#endif
}

torch::ScalarType autocast_dtype_of(bool cuda) {
#if TESSERA_TORCH_AUTOCAST_DEVICE_API
  return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}

void set_autocast_dtype_of(bool cuda, torch::ScalarType dtype) {
#if TESSERA_TORCH_AUTOCAST_DEVICE_API
  at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, dtype);
#else
  if (cuda) {
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
}

}  // namespace

torch::ScalarType autocast_dtype(const std::string& precision) {
  if (precision == "fp32") return torch::kFloat;
  if (precision == "bf16") return torch::kBFloat16;
  TESSERA_THROW("train.precision: `{}` has no autocast dtype here (expected fp32 or bf16)",
                precision);
}

bool cpu_has_native_bf16() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line);
    std::string w;
    while (words >> w) {
      if (w == "avx512_bf16" || w == "amx_bf16") return true;
    }
    return false;  // the first CPU's flags stand for all of them
  }
  return false;
}

AutocastScope::AutocastScope(torch::Device device, torch::ScalarType dtype) {
  if (dtype == torch::kFloat) return;
  cuda_ = device.is_cuda();
  previous_enabled_ = autocast_enabled(cuda_);
  previous_dtype_ = autocast_dtype_of(cuda_);
  set_autocast_dtype_of(cuda_, dtype);
  set_autocast_enabled(cuda_, true);
  at::autocast::increment_nesting();
  active_ = true;
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // The cache holds this scope's bf16 copies of the weights; after the optimizer step they are
  // stale, so the outermost scope drops them (as torch.autocast's __exit__ does).
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast_enabled(cuda_, previous_enabled_);
  set_autocast_dtype_of(cuda_, previous_dtype_);
}

}  // namespace tessera
