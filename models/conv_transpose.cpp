#include "models/conv_transpose.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "common/error.h"
#include "models/layers.h"

namespace tessera {

namespace {

// The decomposition along one axis (see conv_transpose.h).
struct AxisPlan {
  std::vector<int64_t> taps;  // s * D entries: tap u of phase r at offset d, or k (= zero)
  int64_t size = 0;           // D
  int64_t pad_before = 0;     // zero rows before the input (-min offset)
  int64_t pad_after = 0;      // zero rows after it (max offset)
};

AxisPlan plan_axis(int64_t kernel, int64_t stride, int64_t top) {
  struct Tap {
    int64_t phase, offset, u;
  };
  std::vector<Tap> taps;
  int64_t lo = 0, hi = 0;
  bool first = true;
  for (int64_t r = 0; r < stride; ++r) {
    const int64_t c = r + top;
    for (int64_t u = c % stride; u < kernel; u += stride) {
      const int64_t offset = c / stride - (u - c % stride) / stride;
      taps.push_back({r, offset, u});
      lo = first ? offset : std::min(lo, offset);
      hi = first ? offset : std::max(hi, offset);
      first = false;
    }
  }
  AxisPlan p;
  p.size = hi - lo + 1;
  p.pad_before = -lo;
  p.pad_after = hi;
  p.taps.assign(static_cast<size_t>(stride * p.size), kernel);
  for (const Tap& t : taps) p.taps[static_cast<size_t>(t.phase * p.size + t.offset - lo)] = t.u;
  return p;
}

}  // namespace

torch::Tensor keras_conv_transpose2d_direct(const torch::Tensor& x, const torch::Tensor& weight,
                                            const torch::Tensor& bias, int64_t kernel,
                                            int64_t stride) {
  namespace F = torch::nn::functional;
  const int64_t h = x.size(2) * stride;
  const int64_t w = x.size(3) * stride;
  // The equivalent forward conv maps h -> x.size(2) with 'same' padding (before, after); the
  // transposed conv's full output starts `before` rows above that conv's padded input.
  const int64_t top = keras::tf_same_padding(h, kernel, stride).first;
  const int64_t left = keras::tf_same_padding(w, kernel, stride).first;
  torch::Tensor full =
      F::conv_transpose2d(x, weight, F::ConvTranspose2dFuncOptions().bias(bias).stride(stride));
  return full.narrow(2, top, h).narrow(3, left, w);
}

torch::Tensor keras_conv_transpose2d_polyphase(const torch::Tensor& x, const torch::Tensor& weight,
                                               const torch::Tensor& bias, int64_t kernel,
                                               int64_t stride) {
  namespace F = torch::nn::functional;
  TESSERA_CHECK(x.dim() == 4 && weight.dim() == 4 && weight.size(2) == kernel &&
                    weight.size(3) == kernel && x.size(1) == weight.size(0) && kernel >= stride &&
                    stride >= 1,
                "keras_conv_transpose2d: input [{}] / weight [{}] do not match kernel {} stride {}",
                fmt::join(x.sizes(), ", "), fmt::join(weight.sizes(), ", "), kernel, stride);
  const int64_t s = stride;
  const AxisPlan py = plan_axis(kernel, s, keras::tf_same_padding(x.size(2) * s, kernel, s).first);
  const AxisPlan px = plan_axis(kernel, s, keras::tf_same_padding(x.size(3) * s, kernel, s).first);
  if (py.pad_before < 0 || py.pad_after < 0 || px.pad_before < 0 || px.pad_after < 0) {
    return keras_conv_transpose2d_direct(x, weight, bias, kernel, stride);
  }
  const int64_t in = weight.size(0);
  const int64_t out = weight.size(1);
  const auto index = [&](const std::vector<int64_t>& v) {
    return torch::tensor(v, torch::kLong).to(weight.device());
  };
  // Index `kernel` of the padded weight is a zero tap.
  torch::Tensor sub = F::pad(weight, F::PadFuncOptions({0, 1, 0, 1}))
                          .index_select(2, index(py.taps))
                          .index_select(3, index(px.taps))
                          .view({in, out, s, py.size, s, px.size})
                          .permute({1, 2, 4, 0, 3, 5})
                          .reshape({out * s * s, in, py.size, px.size});
  torch::Tensor xp = x;
  if (py.pad_before || py.pad_after || px.pad_before || px.pad_after) {
    xp = F::pad(x, F::PadFuncOptions({px.pad_before, px.pad_after, py.pad_before, py.pad_after}));
  }
  torch::Tensor b = bias.defined() ? bias.repeat_interleave(s * s) : torch::Tensor();
  torch::Tensor phases = F::conv2d(xp, sub, F::Conv2dFuncOptions().bias(b));
  return F::pixel_shuffle(phases, s);
}

}  // namespace tessera
