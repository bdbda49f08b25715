// loss.class_weighting's formulas (trainer/class_weights.h) on known counts, with the properties
// that define them: inverse_frequency weights average to 1 over the labelled pixels, the median
// class of median_frequency gets weight 1, and a class absent from train gets 1.
#include <gtest/gtest.h>

#include "common/error.h"
#include "trainer/class_weights.h"

namespace tessera {
namespace {

TEST(ClassWeights, InverseAndMedianFrequency) {
  const std::vector<int64_t> n = {100, 300, 600, 0};
  const auto inv = class_weights_from_counts(n, "inverse_frequency");
  ASSERT_EQ(inv.size(), 4u);
  EXPECT_NEAR(inv[0], 2.5, 1e-6);
  EXPECT_NEAR(inv[1], 1000.0 / 1200, 1e-6);
  EXPECT_NEAR(inv[2], 1000.0 / 2400, 1e-6);
  EXPECT_EQ(inv[3], 1.0f);
  double mean = 0;  // over pixels: sum_c f_c w_c = (present classes) / K
  for (size_t c = 0; c < 3; ++c) mean += n[c] / 1000.0 * inv[c];
  EXPECT_NEAR(mean, 3.0 / 4.0, 1e-6);

  const auto med = class_weights_from_counts(n, "median_frequency");
  EXPECT_NEAR(med[0], 3.0, 1e-6);
  EXPECT_NEAR(med[1], 1.0, 1e-6);
  EXPECT_NEAR(med[2], 0.5, 1e-6);
  EXPECT_EQ(med[3], 1.0f);
  // Even count of present classes: the median is the mean of the middle two.
  const auto even = class_weights_from_counts({100, 300}, "median_frequency");
  EXPECT_NEAR(even[0], 2.0, 1e-6);
  EXPECT_NEAR(even[1], 200.0 / 300, 1e-6);

  EXPECT_THROW(class_weights_from_counts({0, 0}, "inverse_frequency"), Error);
  EXPECT_THROW(class_weights_from_counts({1, 2}, "balanced"), Error);
}

}  // namespace
}  // namespace tessera
