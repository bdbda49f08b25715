// Inverted dropout with a fast counter-based mask generator (CPU), for the models' Dropout
// layers.
//
// fast_dropout(x, p, training): training -> x * mask / (1 - p) with mask ~ Bernoulli(1 - p) per
// element; not training or p == 0 -> x itself. Same distribution and scaling as
// torch::nn::functional::dropout; the gradient flows through the multiplication.
//
// Why: LibTorch's CPU dropout draws every element from the mt19937 generator through
// bernoulli_ (about 50-90 ns per element, one thread); for the article's U-Net that is ~7% of a
// training step. Here a single 64-bit seed is drawn from LibTorch's default generator (so
// torch::manual_seed governs the masks, as before) and each element's keep/drop decision is
// splitmix64(seed, element index) compared with a 32-bit threshold: stateless per element, so
// masks are identical for any thread count (at::parallel_for) and reproducible. Non-CPU
// tensors use torch's own dropout (fused on GPUs).
//
// Thread-safety: as torch::nn::functional::dropout (draws from the default generator).
#pragma once

#include <torch/torch.h>

namespace tessera {

torch::Tensor fast_dropout(const torch::Tensor& x, double p, bool training);

// The mask fast_dropout() multiplies by for `seed`: float32, 0 or 1/(1-p), elements filled in
// memory order of `format`. Throws tessera::Error unless 0 <= p < 1.
torch::Tensor dropout_mask(torch::IntArrayRef sizes, double p, uint64_t seed,
                           torch::MemoryFormat format = torch::MemoryFormat::Contiguous);

}  // namespace tessera
