#include "trainer/tiling.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/error.h"

namespace tessera {
namespace F = torch::nn::functional;

int64_t size_multiple(const ModelConfig& model) {
  if (model.arch == "autoencoder") return 16;
  return int64_t{1} << std::max(model.depth, 0);
}

namespace {

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Pads a 1 x C x H x W tensor at the bottom/right to (h, w): reflect where the image is large
// enough, replicate otherwise (reflect needs pad < size).
torch::Tensor pad_to(const torch::Tensor& x, int64_t h, int64_t w) {
  const int64_t ph = h - x.size(2), pw = w - x.size(3);
  if (ph == 0 && pw == 0) return x;
  F::PadFuncOptions opt({0, pw, 0, ph});
  if (ph < x.size(2) && pw < x.size(3)) {
    opt.mode(torch::kReflect);
  } else {
    opt.mode(torch::kReplicate);
  }
  return F::pad(x, opt);
}

// Separable weight window: 1 at the centre falling to ~0.1 at the border.
torch::Tensor blend_window(int64_t tile) {
  auto r = torch::arange(tile, torch::kFloat32);
  auto d = (r + 0.5) / static_cast<double>(tile) - 0.5;  // -0.5 .. 0.5
  auto w1 = 0.1 + 0.9 * torch::cos(d * M_PI).pow(2);
  return w1.unsqueeze(1) * w1.unsqueeze(0);  // tile x tile
}

std::vector<int64_t> tile_starts(int64_t size, int64_t tile, int64_t stride) {
  std::vector<int64_t> s;
  if (size <= tile) return {0};
  for (int64_t p = 0;; p += stride) {
    if (p + tile >= size) {
      s.push_back(size - tile);
      break;
    }
    s.push_back(p);
  }
  return s;
}

}  // namespace

torch::Tensor infer_image(ImageModelImpl& model, const torch::Tensor& image,
                          const TilingOptions& opt) {
  TESSERA_CHECK(image.dim() == 3, "infer_image: expected C x H x W, got {} dims", image.dim());
  torch::NoGradGuard no_grad;
  const int64_t H = image.size(1), W = image.size(2);
  auto x = image.unsqueeze(0);
  const int64_t tile = opt.tile > 0 ? round_up(opt.tile, opt.multiple) : 0;

  if (tile == 0 || (H <= tile && W <= tile)) {
    auto padded = pad_to(x, round_up(H, opt.multiple), round_up(W, opt.multiple));
    auto out = apply_activation(opt.activation, model.forward(padded));
    return out.slice(2, 0, H).slice(3, 0, W).squeeze(0);
  }

  TESSERA_CHECK(opt.overlap >= 0 && opt.overlap < 0.95, "eval.tile_overlap {} outside [0, 0.95)",
                opt.overlap);
  // Images smaller than a tile along one axis are padded up to the tile on that axis.
  auto padded = pad_to(x, std::max(H, tile), std::max(W, tile));
  const int64_t PH = padded.size(2), PW = padded.size(3);
  const int64_t stride = std::max<int64_t>(1, static_cast<int64_t>(tile * (1.0 - opt.overlap)));
  const auto ys = tile_starts(PH, tile, stride);
  const auto xs = tile_starts(PW, tile, stride);
  const auto window = blend_window(tile).to(image.device());

  torch::Tensor acc, weight = torch::zeros({1, 1, PH, PW}, image.options());
  std::vector<std::pair<int64_t, int64_t>> pending;
  std::vector<torch::Tensor> crops;
  auto flush = [&]() {
    if (crops.empty()) return;
    auto out = apply_activation(opt.activation, model.forward(torch::cat(crops, 0)));
    if (!acc.defined()) acc = torch::zeros({1, out.size(1), PH, PW}, out.options());
    for (size_t i = 0; i < pending.size(); ++i) {
      auto [ty, tx] = pending[i];
      acc.slice(2, ty, ty + tile).slice(3, tx, tx + tile) += out[static_cast<int64_t>(i)] * window;
      weight.slice(2, ty, ty + tile).slice(3, tx, tx + tile) += window;
    }
    crops.clear();
    pending.clear();
  };
  for (int64_t ty : ys) {
    for (int64_t tx : xs) {
      crops.push_back(padded.slice(2, ty, ty + tile).slice(3, tx, tx + tile));
      pending.emplace_back(ty, tx);
      if (static_cast<int64_t>(crops.size()) >= opt.batch) flush();
    }
  }
  flush();
  return (acc / weight).slice(2, 0, H).slice(3, 0, W).squeeze(0);
}

}  // namespace tessera
