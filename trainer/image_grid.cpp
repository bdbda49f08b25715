#include "trainer/image_grid.h"

#include <algorithm>
#include <opencv2/imgproc.hpp>

#include "common/error.h"

namespace tessera {

torch::Tensor display_bands(const torch::Tensor& chw, const std::vector<int>& bands) {
  const int64_t c = chw.size(0);
  if (bands.empty()) {
    if (c == 1 || c == 3) return chw;
    return chw.narrow(0, 0, c > 3 ? 3 : 1);
  }
  TESSERA_CHECK(bands.size() == 1 || bands.size() == 3,
                "display bands: {} given; expected 1 (grey) or 3 (R,G,B), e.g. 4,3,2",
                bands.size());
  std::vector<int64_t> index;
  for (int b : bands) {
    TESSERA_CHECK(b >= 1 && b <= c, "display band {} does not exist: the image has {} band(s), "
                  "numbered 1..{}", b, c, c);
    index.push_back(b - 1);
  }
  return chw.index_select(0, torch::tensor(index, torch::kInt64).to(chw.device()));
}

cv::Mat to_bgr_image(const torch::Tensor& chw) {
  if (chw.size(0) != 1 && chw.size(0) != 3) return to_bgr_image(display_bands(chw));
  auto t = chw.detach().to(torch::kCPU).clamp(0, 1).mul(255.0).round().to(torch::kUInt8);
  t = t.permute({1, 2, 0}).contiguous();
  const int c = static_cast<int>(t.size(2));
  cv::Mat m(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), CV_8UC(c), t.data_ptr());
  m = m.clone();
  if (c == 3) cv::cvtColor(m, m, cv::COLOR_RGB2BGR);
  if (c == 1) cv::cvtColor(m, m, cv::COLOR_GRAY2BGR);
  return m;
}

cv::Mat labels_to_color(const torch::Tensor& labels) {
  static const cv::Vec3b palette[] = {{0, 0, 0},      {60, 180, 75},  {200, 130, 0},
                                      {48, 130, 245}, {180, 30, 145}, {240, 240, 70},
                                      {75, 25, 230},  {128, 128, 0},  {0, 128, 128}};
  auto l = labels.to(torch::kCPU).to(torch::kInt64).contiguous();
  cv::Mat out(static_cast<int>(l.size(0)), static_cast<int>(l.size(1)), CV_8UC3);
  auto a = l.accessor<int64_t, 2>();
  for (int y = 0; y < out.rows; ++y) {
    for (int x = 0; x < out.cols; ++x) out.at<cv::Vec3b>(y, x) = palette[a[y][x] % 9];
  }
  return out;
}

cv::Mat hstack(const std::vector<cv::Mat>& parts) {
  std::vector<cv::Mat> same;
  const int h = parts.front().rows;
  for (const auto& p : parts) {
    cv::Mat q = p;
    if (q.rows != h) cv::resize(q, q, cv::Size(q.cols * h / q.rows, h), 0, 0, cv::INTER_NEAREST);
    same.push_back(q);
    same.push_back(cv::Mat(h, 4, CV_8UC3, cv::Scalar(255, 255, 255)));
  }
  same.pop_back();
  cv::Mat out;
  cv::hconcat(same, out);
  return out;
}

cv::Mat vstack(const std::vector<cv::Mat>& rows) {
  int width = 0, height = 0;
  for (const auto& r : rows) {
    width = std::max(width, r.cols);
    height += r.rows + 4;
  }
  cv::Mat out(std::max(height - 4, 1), std::max(width, 1), CV_8UC3, cv::Scalar(255, 255, 255));
  int y = 0;
  for (const auto& r : rows) {
    r.copyTo(out(cv::Rect(0, y, r.cols, r.rows)));
    y += r.rows + 4;
  }
  return out;
}

torch::Tensor predicted_labels(const Config& cfg, const torch::Tensor& prob) {
  return cfg.task.classes > 1 ? prob.argmax(0) : (prob[0] > cfg.eval.threshold).to(torch::kInt64);
}

cv::Mat comparison_grid(const Config& cfg, const torch::Tensor& input, const torch::Tensor& target,
                        const torch::Tensor& prediction, const std::vector<int>& rgb_bands) {
  auto shown = [&](const torch::Tensor& t) {
    return t.size(0) == input.size(0) ? display_bands(t, rgb_bands) : t;
  };
  std::vector<cv::Mat> parts = {to_bgr_image(display_bands(input, rgb_bands))};
  if (cfg.task.kind == TaskKind::segmentation) {
    if (target.defined()) parts.push_back(labels_to_color(target.to(torch::kInt64)));
    parts.push_back(labels_to_color(predicted_labels(cfg, prediction)));
  } else {
    if (target.defined()) parts.push_back(to_bgr_image(shown(target)));
    parts.push_back(to_bgr_image(shown(prediction)));
  }
  return hstack(parts);
}

}  // namespace tessera
