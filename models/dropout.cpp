#include "models/dropout.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "common/error.h"

namespace tessera {

namespace {

inline uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

torch::Tensor dropout_mask(torch::IntArrayRef sizes, double p, uint64_t seed,
                           torch::MemoryFormat format) {
  TESSERA_CHECK(p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1); got {}", p);
  torch::Tensor mask =
      torch::empty(sizes, torch::TensorOptions().dtype(torch::kFloat32).memory_format(format));
  float* m = mask.data_ptr<float>();
  const int64_t n = mask.numel();
  // keep when the 32-bit draw is >= p * 2^32
  const uint64_t threshold = static_cast<uint64_t>(std::llround(p * 4294967296.0));
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  // Two decisions per 64-bit draw: elements 2k and 2k+1 use draw k.
  at::parallel_for(0, (n + 1) / 2, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const uint64_t r = splitmix64(seed ^ (static_cast<uint64_t>(k) * 0xD1B54A32D192ED03ULL));
      const int64_t i = 2 * k;
      m[i] = (r & 0xFFFFFFFFULL) >= threshold ? scale : 0.0f;
      if (i + 1 < n) m[i + 1] = (r >> 32) >= threshold ? scale : 0.0f;
    }
  });
  return mask;
}

torch::Tensor fast_dropout(const torch::Tensor& x, double p, bool training) {
  if (!training || p == 0.0) return x;
  const bool cpu_float = x.scalar_type() == torch::kFloat32 || x.scalar_type() == torch::kBFloat16;
  if (!x.device().is_cpu() || !cpu_float) {
    return torch::nn::functional::dropout(
        x, torch::nn::functional::DropoutFuncOptions().p(p).training(true));
  }
  // One draw from the default generator per call: torch::manual_seed decides the masks.
  const uint64_t seed = static_cast<uint64_t>(
      torch::randint(std::numeric_limits<int64_t>::max(), {1}, torch::kLong).item<int64_t>());
  // Same memory layout as x (channels-last stays channels-last); the draws are i.i.d., so which
  // element gets which draw does not matter.
  // Under bf16 autocast (trainer/precision.h) x is bfloat16: the same float mask (same draws as
  // an fp32 run), applied in bf16.
  const torch::Tensor mask = dropout_mask(x.sizes(), p, seed, x.suggest_memory_format());
  return x * (x.scalar_type() == torch::kFloat32 ? mask : mask.to(x.scalar_type()));
}

}  // namespace tessera
