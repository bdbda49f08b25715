// trainer/task_io: the noise drawn on the fly for denoising (task.noise_std).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "trainer/task_io.h"

namespace tessera {
namespace {

TEST(TrainingNoise, GaussianOfTheGivenStdClippedToEightBitLevels) {
  torch::manual_seed(7);
  const auto clean = torch::full({4, 3, 64, 64}, 0.5);
  const auto noisy = training_noise(clean, 25.0 / 255.0);
  const auto diff = noisy - clean;
  EXPECT_NEAR(diff.mean().item<double>(), 0.0, 2e-3);
  // 8-bit rounding adds 1/12 LSB^2 of variance: sqrt(25^2 + 1/12) = 25.0017.
  EXPECT_NEAR(diff.std().item<double>() * 255.0, 25.0, 0.3);
  EXPECT_TRUE(torch::allclose(noisy * 255.0, (noisy * 255.0).round(), 0.0, 1e-4));
  // Clipped: near black and white, values stay in [0, 1].
  const auto edges = training_noise(torch::cat({torch::zeros({1, 3, 8, 8}),
                                                torch::ones({1, 3, 8, 8})}), 0.2);
  EXPECT_GE(edges.min().item<double>(), 0.0);
  EXPECT_LE(edges.max().item<double>(), 1.0);
}

TEST(TrainingNoise, FreshEveryDrawAndReproducibleFromTheSeed) {
  const auto clean = torch::rand({2, 3, 16, 16});
  torch::manual_seed(11);
  const auto a = training_noise(clean, 0.1);
  const auto b = training_noise(clean, 0.1);
  torch::manual_seed(11);
  const auto a_again = training_noise(clean, 0.1);
  EXPECT_TRUE(torch::equal(a, a_again));  // the trainer's per-step seed makes resume exact
  EXPECT_FALSE(torch::equal(a, b));       // control: the next step draws other noise
  EXPECT_TRUE(torch::equal(training_noise(clean, 0.0), (clean * 255.0).round() / 255.0));
}

}  // namespace
}  // namespace tessera
