// trainer/fused_adam.h: FusedAdam follows torch::optim::Adam step for step (with and without
// weight decay, also on non-contiguous parameters that take the fallback path), and its state
// round-trips through Adam's save/load in both directions.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>
#include <vector>

#include "trainer/fused_adam.h"

namespace tessera {
namespace {

std::vector<torch::Tensor> make_params(int64_t seed) {
  torch::manual_seed(seed);
  std::vector<torch::Tensor> ps = {
      torch::randn({64, 32, 3, 3}), torch::randn({64}), torch::randn({40000}),
      torch::randn({6, 5}).t(),  // dense, not contiguous; its gradient is contiguous: fallback
      torch::randn({8, 4, 3, 3}).contiguous(torch::MemoryFormat::ChannelsLast)};  // fused
  for (auto& p : ps) p.set_requires_grad(true);
  return ps;
}

void set_grads(std::vector<torch::Tensor>& ps, int64_t step) {
  torch::manual_seed(1000 + step);
  for (size_t i = 0; i < ps.size(); ++i) {
    auto& p = ps[i];
    // parameter 3: a gradient laid out differently from the parameter (contiguous)
    p.mutable_grad() = (i == 3 ? torch::randn(p.sizes()) : torch::randn_like(p)) * (1.0 + step);
  }
}

double max_rel(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double scale = std::max(1e-3, a[i].abs().max().item<double>());
    worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>() / scale);
  }
  return worst;
}

TEST(FusedAdam, MatchesTorchAdam) {
  for (const double wd : {0.0, 0.01}) {
    auto pa = make_params(3);
    auto pb = make_params(3);
    const auto o = torch::optim::AdamOptions(1e-2).betas({0.9, 0.99}).eps(1e-8).weight_decay(wd);
    torch::optim::Adam ref(pa, o);
    FusedAdam fused(pb, o);
    for (int64_t s = 0; s < 20; ++s) {
      set_grads(pa, s);
      set_grads(pb, s);
      ref.step();
      fused.step();
    }
    EXPECT_EQ(fused.last_fused(), 4u);  // incl. the channels-last one
    EXPECT_EQ(fused.last_fallback(), 1u);
    std::vector<torch::Tensor> da, db;
    for (auto& p : pa) da.push_back(p.detach());
    for (auto& p : pb) db.push_back(p.detach());
    EXPECT_LT(max_rel(da, db), 1e-5) << "weight decay " << wd;
    // and the parameters did move (the comparison is not vacuous)
    auto p0 = make_params(3);
    EXPECT_GT((da[0] - p0[0].detach()).abs().max().item<double>(), 1e-2);
  }
}

TEST(FusedAdam, StateIsAdamState) {
  auto pa = make_params(5);
  auto pb = make_params(5);
  const auto o = torch::optim::AdamOptions(1e-3);
  FusedAdam fused(pa, o);
  for (int64_t s = 0; s < 3; ++s) {
    set_grads(pa, s);
    fused.step();
  }
  std::stringstream buf;
  {
    torch::serialize::OutputArchive out;
    fused.save(out);
    out.save_to(buf);
  }
  torch::optim::Adam plain(pb, o);  // a checkpoint of FusedAdam loads into Adam
  torch::serialize::InputArchive in;
  in.load_from(buf);
  plain.load(in);
  const auto& st = static_cast<torch::optim::AdamParamState&>(
      *plain.state().begin()->second);
  EXPECT_EQ(st.step(), 3);
  // one more identical step on both gives identical parameters up to rounding
  for (size_t i = 0; i < pa.size(); ++i) {
    torch::NoGradGuard ng;
    pb[i].copy_(pa[i]);
  }
  set_grads(pa, 9);
  set_grads(pb, 9);
  fused.step();
  plain.step();
  std::vector<torch::Tensor> da, db;
  for (auto& p : pa) da.push_back(p.detach());
  for (auto& p : pb) db.push_back(p.detach());
  EXPECT_LT(max_rel(da, db), 1e-5);
}

}  // namespace
}  // namespace tessera
