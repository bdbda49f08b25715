// ROC-AUC (hand-worked with ties, brute force on random tied data) and the anomaly accumulator.
#include <gtest/gtest.h>

#include <random>

#include "tests/trainer/test_util.h"
#include "trainer/metrics_anomaly.h"

namespace tessera {
namespace {

using namespace tessera::testing;

TEST(RocAuc, HandWorkedWithTies) {
  // Positives {0.35, 0.8, 0.4}, negatives {0.1, 0.4, 0.1}: 0.35 beats 2, 0.8 beats 3, 0.4 beats
  // 2 and ties 1 -> (2 + 3 + 2.5) / 9.
  EXPECT_DOUBLE_EQ(roc_auc({0.1, 0.4, 0.35, 0.8, 0.4, 0.1}, {0, 0, 1, 1, 1, 0}), 7.5 / 9.0);
  EXPECT_DOUBLE_EQ(roc_auc({1, 2, 3, 4}, {0, 0, 1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(roc_auc({1, 2, 3, 4}, {1, 1, 0, 0}), 0.0);
  EXPECT_DOUBLE_EQ(roc_auc({5, 5, 5, 5, 5}, {0, 1, 0, 1, 1}), 0.5);
}

TEST(RocAuc, EqualsPairCountingOnRandomTiedData) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> level(0, 9), bit(0, 1);
  for (int trial = 0; trial < 20; ++trial) {
    const int n = 5 + trial * 7;
    std::vector<double> s(n);
    std::vector<int> l(n);
    for (int i = 0; i < n; ++i) {
      s[i] = level(rng) / 10.0;  // many ties
      l[i] = bit(rng);
    }
    l[0] = 0;
    l[1] = 1;
    double wins = 0, pairs = 0;
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) {
        if (l[i] != 1 || l[j] != 0) continue;
        pairs += 1;
        wins += s[i] > s[j] ? 1.0 : (s[i] == s[j] ? 0.5 : 0.0);
      }
    }
    EXPECT_DOUBLE_EQ(roc_auc(s, l), wins / pairs) << "trial " << trial;
  }
}

TEST(RocAuc, Errors) {
  expect_error([] { roc_auc({1, 2}, {0, 0}); }, {"both anomalous", "got 0 and 2"});
  expect_error([] { roc_auc({1, 2}, {0, 2}); }, {"label 1 is 2"});
  expect_error([] { roc_auc({1, std::nan("")}, {0, 1}); }, {"NaN"});
  expect_error([] { roc_auc({1}, {0, 1}); }, {"1 scores but 2 labels"});
}

TEST(AnomalyMetrics, ErrorsPerImageAndAuc) {
  AnomalyMetrics m(AnomalyOptions{"none"});
  // Reconstruction errors (MSE per image): 0.01, 0.04, 0.09, 0.04 with labels 0, 1, 1, 0.
  auto target = torch::zeros({4, 2, 3, 3});
  auto output = torch::zeros({4, 2, 3, 3});
  const float diff[4] = {0.1f, 0.2f, 0.3f, 0.2f};
  for (int i = 0; i < 4; ++i) output[i].fill_(diff[i]);
  m.update(output, target, torch::tensor({0, 1, 1, 0}, torch::kLong), {3, 1, 2, 0});
  const auto r = m.compute();
  const double e[4] = {0.1 * 0.1, 0.2 * 0.2, 0.3 * 0.3, 0.2 * 0.2};
  EXPECT_NEAR(r.at("error"), (e[0] + e[1] + e[2] + e[3]) / 4, 1e-8);
  EXPECT_NEAR(r.at("error_normal"), (e[0] + e[3]) / 2, 1e-8);
  EXPECT_NEAR(r.at("error_anomalous"), (e[1] + e[2]) / 2, 1e-8);
  // Anomalous {0.04, 0.09} vs normal {0.01, 0.04}: 1 + 0.5 + 1 + 1 of 4 pairs.
  EXPECT_DOUBLE_EQ(r.at("auc"), 3.5 / 4.0);
  ASSERT_EQ(m.per_image().size(), 4u);
  EXPECT_EQ(m.per_image()[0].id, 0);  // ordered by id
  EXPECT_EQ(m.per_image()[0].values[1], 0.0);
  EXPECT_EQ(m.per_image()[3].id, 3);
  EXPECT_NEAR(m.per_image()[3].values[0], e[0], 1e-8);
}

TEST(AnomalyMetrics, AucOnlyWithBothClassesAndUnlabelledImages) {
  AnomalyMetrics m(AnomalyOptions{"sigmoid"});
  m.update(torch::zeros({2, 1, 4, 4}), torch::full({2, 1, 4, 4}, 0.5f),
           torch::tensor({0, 0}, torch::kInt));
  auto r = m.compute();
  EXPECT_EQ(r.count("auc"), 0u);
  EXPECT_EQ(r.count("error_anomalous"), 0u);
  EXPECT_NEAR(r.at("error_normal"), 0.0, 1e-15);                         // sigmoid(0) = 0.5
  m.update(torch::ones({1, 1, 4, 4}), torch::full({1, 1, 4, 4}, 0.5f));  // unlabelled
  r = m.compute();
  EXPECT_EQ(r.at("images"), 3.0);
  EXPECT_EQ(r.count("auc"), 0u);
  EXPECT_EQ(m.per_image()[2].values[1], -1.0);
  m.update(torch::full({1, 1, 4, 4}, 2.0f), torch::full({1, 1, 4, 4}, 0.5f),
           torch::tensor({1}, torch::kLong));
  EXPECT_DOUBLE_EQ(m.compute().at("auc"), 1.0);
}

TEST(AnomalyMetrics, Errors) {
  AnomalyMetrics m(AnomalyOptions{"none"});
  expect_error([&] { m.compute(); }, {"no images"});
  expect_error(
      [&] {
        m.update(torch::zeros({2, 1, 4, 4}), torch::zeros({2, 1, 4, 4}),
                 torch::tensor({0, 2}, torch::kLong));
      },
      {"label 2", "0 (normal) or 1 (anomalous)"});
  expect_error(
      [&] {
        m.update(torch::zeros({2, 1, 4, 4}), torch::zeros({2, 1, 4, 4}),
                 torch::tensor({0.0f, 1.0f}));
      },
      {"labels must be 2 integers"});
}

}  // namespace
}  // namespace tessera
