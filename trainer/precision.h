// Mixed precision for training (train.precision).
//
// fp32: every operation computes in float32 (the default).
// bf16: the model's forward runs under LibTorch's autocast with bfloat16 as the lower precision:
//   convolutions, transposed convolutions and matrix products compute in bf16 (oneDNN on CPU
//   uses AVX512-BF16 / AMX instructions where the CPU has them; cuBLAS/cuDNN on CUDA). What stays
//   in float32: the parameters and their gradients (autocast casts weights per call and the
//   backward of the cast returns float32 gradients), the optimizer state, batch-norm statistics
//   (LibTorch's batch norm takes the bf16 input with float32 parameters and buffers and
//   accumulates in float32; SyncBatchNorm2d upcasts to float32), the loss and the metrics
//   (the model's output is cast to float32 before the loss). So checkpoints are the same files
//   as an fp32 run writes, they load into fp32 `eval`/`predict`, and a bf16 run resumes exactly:
//   autocast adds no state and is deterministic.
// fp16 needs dynamic loss scaling and a CUDA build; refused at config check (common/).
//
// Validation during training, `tessera eval` and `predict` compute in float32.
//
// Thread safety: autocast state is thread-local; an AutocastScope affects only the thread that
// made it, and must be destroyed on that thread (it is a scope guard).
#pragma once

#include <torch/torch.h>

#include <string>

namespace tessera {

// The lower-precision dtype of a train.precision value: kBFloat16 for "bf16", kFloat for "fp32".
// Throws on any other value (config validation refuses them first).
torch::ScalarType autocast_dtype(const std::string& precision);

// True when the CPU advertises native bfloat16 arithmetic (avx512_bf16 or amx_bf16 in
// /proc/cpuinfo's flags). Without it LibTorch still computes bf16, emulated and slower than fp32.
bool cpu_has_native_bf16();

// Enables autocast for `device`'s type with `dtype` for the lifetime of the scope, then restores
// the previous state and (when the outermost scope ends) clears autocast's cache of cast weights,
// so the next step casts the updated parameters. dtype == kFloat: does nothing.
class AutocastScope {
 public:
  AutocastScope(torch::Device device, torch::ScalarType dtype);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

  bool active() const { return active_; }

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool previous_enabled_ = false;
  torch::ScalarType previous_dtype_ = torch::kFloat;
};

}  // namespace tessera
