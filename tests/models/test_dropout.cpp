// models/dropout.h: the fast dropout has Bernoulli(1-p) keep statistics with 1/(1-p) scaling,
// is reproducible under torch::manual_seed, independent of the thread count, passes gradients
// through the mask, and is the identity when not training.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/dropout.h"
#include "test_util.h"

namespace tessera {
namespace {

TEST(ModelsDropout, KeepFractionAndScale) {
  for (const double p : {0.1, 0.5, 0.9}) {
    const auto m = dropout_mask({1 << 20}, p, 12345);
    const float scale = static_cast<float>(1.0 / (1.0 - p));
    const auto kept = m.ne(0);
    EXPECT_TRUE(torch::all(m.eq(0) | m.eq(scale)).item<bool>()) << "p " << p;
    const double keep = kept.to(torch::kDouble).mean().item<double>();
    // 1M Bernoulli draws: std of the mean <= 0.0005; 6 sigma
    EXPECT_NEAR(keep, 1.0 - p, 0.003) << "p " << p;
    // neighbours (the two halves of one 64-bit draw) are not correlated
    const auto a = kept.slice(0, 0, -1, 2).to(torch::kDouble);
    const auto b = kept.slice(0, 1, {}, 2).to(torch::kDouble);
    const double both = (a * b).mean().item<double>();
    EXPECT_NEAR(both, (1 - p) * (1 - p), 0.004) << "p " << p;
  }
}

TEST(ModelsDropout, SeedDecidesTheMask) {
  EXPECT_TRUE(torch::equal(dropout_mask({3, 5, 7}, 0.3, 9), dropout_mask({3, 5, 7}, 0.3, 9)));
  EXPECT_FALSE(torch::equal(dropout_mask({3, 5, 7}, 0.3, 9), dropout_mask({3, 5, 7}, 0.3, 10)));
  const auto x = torch::ones({4, 8, 16, 16});
  torch::manual_seed(5);
  const auto y1 = fast_dropout(x, 0.2, true);
  torch::manual_seed(5);
  const auto y2 = fast_dropout(x, 0.2, true);
  EXPECT_TRUE(torch::equal(y1, y2));
  EXPECT_FALSE(torch::equal(y1, fast_dropout(x, 0.2, true)));
}

TEST(ModelsDropout, IndependentOfThreadCount) {
  const int before = torch::get_num_threads();
  torch::set_num_threads(1);
  const auto one = dropout_mask({1 << 18}, 0.1, 77);
  torch::set_num_threads(4);
  const auto four = dropout_mask({1 << 18}, 0.1, 77);
  torch::set_num_threads(before);
  EXPECT_TRUE(torch::equal(one, four));
}

TEST(ModelsDropout, GradientIsTheMaskAndEvalIsIdentity) {
  auto x = torch::randn({2, 3, 8, 8}, torch::requires_grad());
  torch::manual_seed(1);
  const auto y = fast_dropout(x, 0.25, true);
  y.sum().backward();
  // y = x * mask and d(sum y)/dx = mask, so y == x * grad exactly
  EXPECT_TRUE(torch::equal(y.detach(), x.detach() * x.grad()));
  const auto mask = x.grad();
  EXPECT_TRUE(torch::all(mask.eq(0) | mask.eq(1.0f / 0.75f)).item<bool>());
  EXPECT_TRUE(fast_dropout(x, 0.25, false).is_same(x));
  EXPECT_TRUE(fast_dropout(x, 0.0, true).is_same(x));
  const auto cl = torch::randn({2, 3, 8, 8}).contiguous(torch::MemoryFormat::ChannelsLast);
  EXPECT_EQ(fast_dropout(cl, 0.5, true).sizes(), cl.sizes());
  EXPECT_NE(test::error_message([] { dropout_mask({4}, 1.0, 0); }).find("[0, 1)"),
            std::string::npos);
}

}  // namespace
}  // namespace tessera
