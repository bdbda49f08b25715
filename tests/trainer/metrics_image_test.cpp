// Image metrics (BasicSR conventions) against scikit-image's PSNR/SSIM computed by
// tools/reference/losses_metrics.py on the closed-form inputs of reference_inputs.h, plus
// hand checks (identical images, Y conversion, border crop) and errors.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/trainer/reference_inputs.h"
#include "tests/trainer/test_util.h"
#include "trainer/metrics_image.h"

namespace tessera {
namespace {

using namespace tessera::testing;

// Pasted from `/usr/bin/python3 tools/reference/losses_metrics.py`: psnr ssim psnr_y ssim_y mae
// mse.
constexpr double kRgbSigmoidCrop2Image0[6] = {6.667054227137216,   0.019757902940127896,
                                              11.277120992918164,  -0.025339451243407401,
                                              0.38194035947712418, 0.21542424388055875};
constexpr double kRgbSigmoidCrop2Image1[6] = {6.6791815251601259,  -0.00022988472241858293,
                                              11.110276232827802,  -0.03041052475540711,
                                              0.38111928104575166, 0.21482352941176469};
constexpr double kRgbNearCrop3Image0[6] = {23.217520242656448,   0.97227149093446152,
                                           30.780822845776331,   0.97134162257028778,
                                           0.059124390496939516, 0.0047670309954046981};
constexpr double kRgbNearCrop3Image1[6] = {23.217223732662291,   0.97225880871221426,
                                           30.797460584681691,   0.97533432320680635,
                                           0.059114015976761074, 0.0047673564705475509};
constexpr double kRgbNearNoQuantImage0[6] = {23.222248772581967,  0.97241423573534214,
                                             30.810279949602336,  0.97333352819204377,
                                             0.05903049994861552, 0.004761843551644919};
constexpr double kRgbNearNoQuantImage1[6] = {23.212344578857017,   0.97244721660080158,
                                             30.793832319089908,   0.97407344814666252,
                                             0.059177558800244397, 0.0047727154464544596};
constexpr double kGrayNearImage0[6] = {23.166805050957414,  0.97171585260829318,
                                       23.166805050957414,  0.97171585260829318,
                                       0.05949754901960784, 0.0048230247981545559};
constexpr double kGrayNearImage1[6] = {23.219102454073099,   0.9711336685051033,
                                       23.219102454073099,   0.9711336685051033,
                                       0.059206495098039214, 0.0047652945982314494};

ImageMetrics image_metrics(int channels, const std::string& act, int crop, bool quantize = true) {
  ImageOptions o;
  o.channels = channels;
  o.activation = act;
  o.border_crop = crop;
  o.quantize = quantize;
  return ImageMetrics(o);
}

void expect_rows(const ImageMetrics& m, const double (&i0)[6], const double (&i1)[6]) {
  ASSERT_EQ(m.per_image().size(), 2u);
  const char* names[6] = {"psnr", "ssim", "psnr_y", "ssim_y", "mae", "mse"};
  for (int j = 0; j < 6; ++j) {
    EXPECT_NEAR(m.per_image()[0].values[j], i0[j], 1e-10) << names[j] << " image 0";
    EXPECT_NEAR(m.per_image()[1].values[j], i1[j], 1e-10) << names[j] << " image 1";
  }
  const auto r = m.compute();
  for (int j = 0; j < 6; ++j) EXPECT_NEAR(r.at(names[j]), (i0[j] + i1[j]) / 2, 1e-10) << names[j];
  EXPECT_EQ(r.at("images"), 2.0);
}

TEST(ImageMetrics, RgbSigmoidOutputsCropMatchScikitImage) {
  auto m = image_metrics(3, "sigmoid", 2);
  m.update(ref_logits({2, 3, 24, 20}, 41, 3), ref_image({2, 3, 24, 20}));
  expect_rows(m, kRgbSigmoidCrop2Image0, kRgbSigmoidCrop2Image1);
}

TEST(ImageMetrics, NearImagesClampedAndQuantizedMatchScikitImage) {
  auto m = image_metrics(3, "none", 3);
  m.update(ref_near_image({2, 3, 24, 20}), ref_image({2, 3, 24, 20}));
  expect_rows(m, kRgbNearCrop3Image0, kRgbNearCrop3Image1);
}

TEST(ImageMetrics, WithoutQuantizationMatchesScikitImage) {
  auto m = image_metrics(3, "none", 0, false);
  m.update(ref_near_image({2, 3, 24, 20}), ref_image({2, 3, 24, 20}));
  expect_rows(m, kRgbNearNoQuantImage0, kRgbNearNoQuantImage1);
}

TEST(ImageMetrics, GrayscaleYIsTheImage) {
  auto m = image_metrics(1, "none", 0);
  m.update(ref_near_image({2, 1, 16, 16}), ref_image({2, 1, 16, 16}));
  expect_rows(m, kGrayNearImage0, kGrayNearImage1);
}

TEST(ImageMetrics, HandChecks) {
  // BT.601 luma: white -> 235, black -> 16, pure red -> 16 + 65.481.
  const auto white = torch::full({3, 1, 1}, 255.0, torch::kDouble);
  EXPECT_NEAR(rgb_to_y_255(white).item<double>(), 235.0, 1e-12);
  EXPECT_NEAR(rgb_to_y_255(torch::zeros({3, 1, 1}, torch::kDouble)).item<double>(), 16.0, 1e-12);
  auto red = torch::zeros({3, 1, 1}, torch::kDouble);
  red[0] = 255.0;
  EXPECT_NEAR(rgb_to_y_255(red).item<double>(), 16.0 + 65.481, 1e-12);
  // PSNR: a constant error of 1 level -> 10 log10(255^2) = 48.1308...
  const auto a = torch::full({3, 16, 16}, 100.0, torch::kDouble);
  EXPECT_NEAR(psnr_255(a, a + 1.0), 20.0 * std::log10(255.0), 1e-12);
  EXPECT_EQ(psnr_255(a, a), std::numeric_limits<double>::infinity());
  EXPECT_NEAR(ssim_255(a, a), 1.0, 1e-15);
  // Identical images through the accumulator: PSNR +inf (BasicSR), SSIM 1, errors 0.
  auto m = image_metrics(3, "none", 0);
  const auto img = ref_image({1, 3, 12, 12});
  m.update(img, img);
  const auto r = m.compute();
  EXPECT_TRUE(std::isinf(r.at("psnr")));
  EXPECT_NEAR(r.at("ssim"), 1.0, 1e-15);
  EXPECT_EQ(r.at("mae"), 0.0);
}

TEST(ImageMetrics, BorderCropRemovesTheBorder) {
  // Errors only in a 2-pixel frame: with border_crop 2 the images are identical.
  const auto y = ref_image({1, 3, 20, 20});
  auto x = y.clone();
  x.index_put_({torch::indexing::Slice(), torch::indexing::Slice(), torch::indexing::Slice(0, 2)},
               0.0f);
  auto cropped = image_metrics(3, "none", 2);
  cropped.update(x, y);
  EXPECT_TRUE(std::isinf(cropped.compute().at("psnr")));
  auto full = image_metrics(3, "none", 0);
  full.update(x, y);
  EXPECT_LT(full.compute().at("psnr"), 40.0);
}

TEST(ImageMetrics, OtherChannelCountsHaveNoY) {
  auto m = image_metrics(4, "sigmoid", 0);
  EXPECT_EQ(m.score_names(), (std::vector<std::string>{"psnr", "ssim", "mae", "mse"}));
  m.update(ref_logits({1, 4, 12, 12}, 41, 3), ref_image({1, 4, 12, 12}));
  EXPECT_EQ(m.compute().count("psnr_y"), 0u);
  EXPECT_EQ(m.per_image()[0].values.size(), 4u);
}

TEST(ImageMetrics, Errors) {
  auto m = image_metrics(3, "sigmoid", 4);
  expect_error(
      [&] {
        m.update(torch::zeros({1, 3, 16, 16}), torch::zeros({1, 3, 16, 16}));
      },
      {"16x16", "eval.border_crop = 4", "8x8", "11x11"});
  expect_error(
      [&] {
        m.update(torch::zeros({1, 1, 32, 32}), torch::zeros({1, 1, 32, 32}));
      },
      {"1 channels", "task.out_channels = 3"});
  expect_error(
      [&] {
        m.update(torch::zeros({1, 3, 32, 32}), torch::zeros({1, 3, 16, 16}));
      },
      {"output's shape [1,3,32,32]"});
  expect_error(
      [&] {
        m.update(torch::zeros({1, 3, 32, 32}), torch::zeros({1, 3, 32, 32}),
                 torch::zeros({1}, torch::kLong));
      },
      {"no image labels"});
  expect_error([] { image_metrics(3, "tanh", 0); }, {"model.activation", "tanh"});
  expect_error([] { image_metrics(3, "none", -1); }, {"eval.border_crop"});
}

}  // namespace
}  // namespace tessera
