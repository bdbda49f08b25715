// The distributed contract: a metric reduced over N partial accumulators (each holding an uneven,
// unpadded share of the split, batched differently) equals one accumulator over everything:
// counts exactly, floats within 1e-12, per-image lists identical. Checked for N = 1, 2, 3 with
// merge() and with all_reduce() over an in-process communicator (one thread per rank).
#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "tests/trainer/fake_communicator.h"
#include "tests/trainer/test_util.h"
#include "trainer/metrics.h"
#include "trainer/metrics_segmentation.h"

namespace tessera {
namespace {

using namespace tessera::testing;

struct Sample {
  torch::Tensor output, target, label;  // batch dimension 1; label undefined if none
  int64_t id;
};
using Factory = std::function<std::unique_ptr<Metrics>()>;

void feed(Metrics& m, const std::vector<Sample>& s, size_t begin, size_t end, size_t batch) {
  for (size_t i = begin; i < end; i += batch) {
    const size_t j = std::min(end, i + batch);
    std::vector<torch::Tensor> out, tgt, lab;
    std::vector<int64_t> ids;
    for (size_t k = i; k < j; ++k) {
      out.push_back(s[k].output);
      tgt.push_back(s[k].target);
      if (s[k].label.defined()) lab.push_back(s[k].label);
      ids.push_back(s[k].id);
    }
    m.update(torch::cat(out), torch::cat(tgt), lab.empty() ? torch::Tensor() : torch::cat(lab),
             ids);
  }
}

void expect_same(const std::map<std::string, double>& got,
                 const std::map<std::string, double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (const auto& [k, v] : want) {
    ASSERT_EQ(got.count(k), 1u) << what << ": " << k;
    if (std::isinf(v)) {
      EXPECT_EQ(got.at(k), v) << what << ": " << k;
    } else {
      EXPECT_NEAR(got.at(k), v, 1e-12) << what << ": " << k;
    }
  }
}

void expect_same_rows(const Metrics& got, const Metrics& want, const std::string& what) {
  ASSERT_EQ(got.per_image().size(), want.per_image().size()) << what;
  for (size_t i = 0; i < want.per_image().size(); ++i) {
    EXPECT_EQ(got.per_image()[i].id, want.per_image()[i].id) << what;
    EXPECT_EQ(got.per_image()[i].values, want.per_image()[i].values) << what << " row " << i;
  }
}

void expect_same_counts(const Metrics& got, const Metrics& want, const std::string& what) {
  const auto* g = dynamic_cast<const SegmentationMetrics*>(&got);
  const auto* w = dynamic_cast<const SegmentationMetrics*>(&want);
  if (!g || !w) return;
  ASSERT_EQ(g->counts().size(), w->counts().size());
  for (size_t c = 0; c < w->counts().size(); ++c) {
    EXPECT_EQ(g->counts()[c].tp, w->counts()[c].tp) << what << " class " << c;
    EXPECT_EQ(g->counts()[c].fp, w->counts()[c].fp) << what << " class " << c;
    EXPECT_EQ(g->counts()[c].fn, w->counts()[c].fn) << what << " class " << c;
    EXPECT_EQ(g->counts()[c].tn, w->counts()[c].tn) << what << " class " << c;
  }
}

const std::vector<std::vector<size_t>> kSplits = {{11}, {3, 8}, {5, 0, 6}, {1, 4, 6}};

void check_contract(const Factory& make, const std::vector<Sample>& samples) {
  ASSERT_EQ(samples.size(), 11u);
  auto single = make();
  feed(*single, samples, 0, samples.size(), 4);
  const auto want = single->compute();
  for (const auto& split : kSplits) {
    const int n = static_cast<int>(split.size());
    const std::string what = "ranks=" + std::to_string(n) + " first=" + std::to_string(split[0]);
    std::vector<size_t> begin(n + 1, 0);
    for (int r = 0; r < n; ++r) begin[r + 1] = begin[r] + split[r];
    // merge(): partial accumulators, batch size 3 (different from the single run's 4).
    auto merged = make();
    for (int r = 0; r < n; ++r) {
      auto part = make();
      feed(*part, samples, begin[r], begin[r + 1], 3);
      merged->merge(*part);
    }
    expect_same(merged->compute(), want, what + " merge");
    expect_same_rows(*merged, *single, what + " merge");
    expect_same_counts(*merged, *single, what + " merge");
    // all_reduce() over n threads.
    ThreadGroup group(n);
    std::vector<std::unique_ptr<Metrics>> ranks(n);
    std::vector<std::string> errors(n);
    std::vector<std::thread> threads;
    for (int r = 0; r < n; ++r) {
      threads.emplace_back([&, r] {
        try {
          FakeCommunicator comm(group, r);
          ranks[r] = make();
          feed(*ranks[r], samples, begin[r], begin[r + 1], 2);
          ranks[r]->all_reduce(comm);
        } catch (const std::exception& e) {
          errors[r] = e.what();
        }
      });
    }
    for (auto& t : threads) t.join();
    for (int r = 0; r < n; ++r) {
      ASSERT_EQ(errors[r], "") << what << " rank " << r;
      expect_same(ranks[r]->compute(), want, what + " all_reduce rank " + std::to_string(r));
      expect_same_rows(*ranks[r], *single, what + " all_reduce");
      expect_same_counts(*ranks[r], *single, what + " all_reduce");
      EXPECT_EQ(ranks[r]->compute(), ranks[0]->compute()) << "ranks disagree";
    }
  }
}

TEST(MetricsDistributed, BinarySegmentationWithIgnore) {
  torch::manual_seed(1);
  std::vector<Sample> s;
  for (int64_t i = 0; i < 11; ++i) {
    auto y = torch::randint(0, 2, {1, 8, 8}, torch::kLong);
    y.masked_fill_(torch::rand({1, 8, 8}) < 0.1, 255);
    s.push_back({torch::randn({1, 1, 8, 8}), y, {}, i});
  }
  TaskConfig task = segmentation_task(1);
  EvalConfig eval;
  eval.threshold = 0.4;
  check_contract([&] { return make_metrics(task, model_with("sigmoid"), eval, 255); }, s);
}

TEST(MetricsDistributed, MulticlassSegmentation) {
  torch::manual_seed(2);
  std::vector<Sample> s;
  for (int64_t i = 0; i < 11; ++i) {
    s.push_back({torch::randn({1, 4, 8, 6}), torch::randint(0, 4, {1, 8, 6}, torch::kLong), {}, i});
  }
  check_contract(
      [] { return make_metrics(segmentation_task(4), model_with("softmax"), EvalConfig{}); }, s);
}

TEST(MetricsDistributed, ImageMetrics) {
  torch::manual_seed(3);
  std::vector<Sample> s;
  for (int64_t i = 0; i < 11; ++i) {
    auto y = torch::rand({1, 3, 16, 16});
    s.push_back({torch::logit(y.clamp(0.02, 0.98)) + 0.3 * torch::randn({1, 3, 16, 16}), y, {}, i});
  }
  EvalConfig eval;
  eval.border_crop = 1;
  check_contract(
      [&] {
        return make_metrics(image_task(TaskKind::super_resolution), model_with("sigmoid"), eval);
      },
      s);
}

TEST(MetricsDistributed, AnomalyAucWithTies) {
  torch::manual_seed(4);
  std::vector<Sample> s;
  for (int64_t i = 0; i < 11; ++i) {
    // Dyadic values and offsets: every error is exactly one of three levels, so many scores
    // tie across ranks.
    auto y = torch::randint(0, 64, {1, 1, 8, 8}).to(torch::kFloat) / 64.0f;
    auto out = y + 0.125f * static_cast<float>(i % 3);
    s.push_back({out, y, torch::tensor({i % 2}, torch::kLong), i});
  }
  check_contract(
      [] { return make_metrics(image_task(TaskKind::anomaly), model_with("none"), EvalConfig{}); },
      s);
}

TEST(MetricsDistributed, FactoryAndNames) {
  EXPECT_EQ(make_metrics(segmentation_task(1), model_with("sigmoid"), EvalConfig{})->kind(),
            "segmentation");
  EXPECT_EQ(
      make_metrics(image_task(TaskKind::denoising), model_with("sigmoid"), EvalConfig{})->kind(),
      "image");
  EXPECT_EQ(
      make_metrics(image_task(TaskKind::anomaly), model_with("sigmoid"), EvalConfig{})->kind(),
      "anomaly");
  check_metric_names({"dice", "iou", "dice/1", "miou"}, segmentation_task(1));
  check_metric_names({"psnr", "ssim_y"}, image_task(TaskKind::super_resolution));
  check_metric_names({"auc"}, image_task(TaskKind::anomaly));
  expect_error(
      [] {
        check_metric_names({"dice", "psnr"}, segmentation_task(2));
      },
      {"eval.metrics[1]", "'psnr'", "segmentation", "dice/c", "0..1"});
  expect_error([] { check_metric_names({"dice/2"}, segmentation_task(1)); },
               {"eval.metrics[0]", "dice/2"});
  expect_error([] { check_metric_names({"dice"}, image_task(TaskKind::denoising)); },
               {"eval.metrics[0]", "denoising", "psnr"});
  // Merging different kinds is refused.
  auto a = make_metrics(segmentation_task(1), model_with("sigmoid"), EvalConfig{});
  auto b = make_metrics(image_task(TaskKind::denoising), model_with("sigmoid"), EvalConfig{});
  expect_error([&] { a->merge(*b); }, {"cannot merge image metrics into segmentation"});
}

}  // namespace
}  // namespace tessera
