// GradReducer on 1..N ranks. The central check: training a small conv net (no batch norm, no
// dropout) for several steps on N ranks with batch B each gives the same parameters as one
// process training on the concatenated N*B batch, for overlapped and after-backward reduction,
// several buckets, SGD and Adam, and gradient accumulation. The single-process reference is
// computed on every rank, without communication. Other tests: gradients live in the buckets
// (no copies), bucket rebuild from the ready order, unused parameters, errors, helpers.
#include <gtest/gtest.h>

#include <string>

#include "comm/grad_reducer.h"
#include "comm/mpi_communicator.h"
#include "common/error.h"
#include "tests/comm/comm_test_main.h"
#include "tests/comm/reducer_test_util.h"

namespace tessera {
namespace {

using testing::ConvNet;
using testing::make_batches;
using testing::make_optimizer;
using testing::max_param_diff;
using testing::ShuffledNet;
using testing::test_env;
using testing::train_local;

struct Case {
  bool overlap;
  double bucket_mb;
  int micro_batches;  // gradient accumulation: micro-batches per step and rank
  std::string optimizer;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return fmt::format("{}_{}KiB_micro{}_{}", c.overlap ? "overlap" : "after", c.bucket_mb * 1024,
                     c.micro_batches, c.optimizer);
}

class ReducerEquivalence : public ::testing::TestWithParam<Case> {};

TEST_P(ReducerEquivalence, NRanksMatchOneRankWithNTimesTheBatch) {
  const Case& c = GetParam();
  MpiCommunicator comm(test_env());
  const int n = comm.size();
  const int r = comm.rank();
  constexpr int kB = 4;  // per rank
  constexpr int kSteps = 4;
  const auto data = make_batches(kSteps, n * kB, /*seed=*/7);

  // Reference: one process, batch N*B, rank 0's initial weights (seed 100).
  ConvNet reference(100);
  train_local(*reference, data, 0, n * kB, c.optimizer);

  // Rank-local training without communication: must differ, or this test could not fail.
  ConvNet local_only(100);
  train_local(*local_only, data, r * kB, kB, c.optimizer);

  // Distributed: every rank starts from different weights; the reducer broadcasts rank 0's.
  ConvNet model(100 + r);
  ReducerOptions options;
  options.overlap = c.overlap;
  options.bucket_mb = c.bucket_mb;
  options.first_bucket_mb = c.bucket_mb;
  GradReducer reducer(*model, comm, options);
  if (c.bucket_mb < 0.01) {
    EXPECT_GE(reducer.num_buckets(), 3u);
  }
  auto optimizer = make_optimizer(*model, c.optimizer);
  for (int s = 0; s < kSteps; ++s) {
    reducer.zero_grad();
    const auto x = data[s].first.narrow(0, r * kB, kB);
    const auto y = data[s].second.narrow(0, r * kB, kB);
    const int m = c.micro_batches;
    for (int k = 0; k < m; ++k) {
      const auto xk = x.narrow(0, k * kB / m, kB / m);
      const auto yk = y.narrow(0, k * kB / m, kB / m);
      const auto loss = torch::mse_loss(model->forward(xk), yk) / m;
      if (k + 1 < m) {
        auto guard = reducer.no_sync();
        loss.backward();
      } else {
        loss.backward();
      }
    }
    reducer.finish();
    optimizer->step();
  }
  const double tol = 2e-5;
  const double diff = max_param_diff(*model, *reference);
  EXPECT_LT(diff, tol) << "rank " << r << " vs the single-process big batch";
  if (n > 1) {
    EXPECT_GT(max_param_diff(*local_only, *reference), 100 * tol)
        << "training on one rank's share alone should differ from the big batch";
  }
  EXPECT_EQ(reducer.stats().steps, static_cast<size_t>(kSteps));
  EXPECT_EQ(reducer.stats().grad_copies, 0u) << "gradients should accumulate in the buckets";
  if (c.overlap && n > 1) {
    EXPECT_GT(reducer.stats().buckets_in_backward, 0u) << "no allreduce overlapped backward";
  }
  if (!c.overlap) {
    EXPECT_EQ(reducer.stats().buckets_in_backward, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Modes, ReducerEquivalence,
    ::testing::Values(Case{true, 1.0 / 1024, 1, "sgd"}, Case{false, 1.0 / 1024, 1, "sgd"},
                      Case{true, 1.0 / 1024, 1, "adam"}, Case{false, 1.0 / 1024, 1, "adam"},
                      Case{true, 1.0 / 1024, 2, "sgd"}, Case{false, 1.0 / 1024, 2, "adam"},
                      Case{true, 25.0, 1, "adam"}),
    case_name);

TEST(Reducer, GradientsAreViewsIntoTheBuckets) {
  MpiCommunicator comm(test_env());
  ConvNet model(3);
  ReducerOptions options;
  options.bucket_mb = 1.0 / 1024;
  GradReducer reducer(*model, comm, options);
  const auto data = make_batches(3, 4, 11);
  auto optimizer = make_optimizer(*model, "sgd");
  for (int s = 0; s < 3; ++s) {
    reducer.zero_grad();
    torch::mse_loss(model->forward(data[s].first), data[s].second).backward();
    reducer.finish();
    // Every .grad shares its bucket's storage, inside the bucket's range, and the buckets
    // cover every parameter exactly once.
    size_t covered = 0;
    const auto named = model->named_parameters();
    const auto layout = reducer.bucket_layout();
    for (size_t b = 0; b < reducer.num_buckets(); ++b) {
      const auto& flat = reducer.bucket_buffer(b);
      const auto* begin = flat.data_ptr<float>();
      const auto* end = begin + flat.numel();
      for (const auto& name : layout[b]) {
        const auto& p = named[name];
        const auto* g = p.grad().data_ptr<float>();
        EXPECT_TRUE(p.grad().is_alias_of(flat)) << name << " in bucket " << b;
        EXPECT_TRUE(g >= begin && g + p.numel() <= end) << name;
        covered += static_cast<size_t>(p.numel());
      }
    }
    size_t total = 0;
    for (const auto& p : model->parameters()) total += static_cast<size_t>(p.numel());
    EXPECT_EQ(covered, total);
    optimizer->step();
  }
  EXPECT_TRUE(reducer.buckets_rebuilt());
  EXPECT_EQ(reducer.stats().grad_copies, 0u);
}

TEST(Reducer, ReplacedGradIsCopiedBackAndStaysCorrect) {
  // LibTorch 2.x's optimizer.zero_grad() sets grads to undefined: the hook must notice that
  // autograd created a fresh .grad and fold it back into the bucket.
  MpiCommunicator comm(test_env());
  const int n = comm.size();
  const int r = comm.rank();
  const auto data = make_batches(2, 2 * n, 5);
  ConvNet reference(9);
  train_local(*reference, data, 0, 2 * n, "sgd");
  ConvNet model(9);
  GradReducer reducer(*model, comm, ReducerOptions{});
  auto optimizer = make_optimizer(*model, "sgd");
  for (int s = 0; s < 2; ++s) {
    for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();  // set_to_none
    const auto x = data[s].first.narrow(0, 2 * r, 2);
    const auto y = data[s].second.narrow(0, 2 * r, 2);
    torch::mse_loss(model->forward(x), y).backward();
    reducer.finish();
    optimizer->step();
  }
  EXPECT_GT(reducer.stats().grad_copies, 0u);
  EXPECT_LT(max_param_diff(*model, *reference), 2e-5);
}

TEST(Reducer, BucketsAreRebuiltInGradientReadyOrder) {
  MpiCommunicator comm(test_env());
  ShuffledNet model(4);  // registered c3, c1, c2; used c1 -> c2 -> c3
  ReducerOptions options;
  options.bucket_mb = 1.0 / 1024;
  options.first_bucket_mb = 1.0 / 1024;
  GradReducer reducer(*model, comm, options);
  // Reverse registration order: c2 first.
  EXPECT_EQ(reducer.bucket_layout().front().front().rfind("c2.", 0), 0u)
      << reducer.bucket_layout().front().front();
  const auto data = make_batches(1, 2, 3);
  reducer.zero_grad();
  torch::mse_loss(model->forward(data[0].first), data[0].second).backward();
  reducer.finish();
  // c3 (the last layer used) gets its gradients first.
  EXPECT_TRUE(reducer.buckets_rebuilt());
  EXPECT_EQ(reducer.bucket_layout().front().front().rfind("c3.", 0), 0u)
      << reducer.bucket_layout().front().front();
  for (const auto& p : model->parameters()) {
    bool inside = false;
    for (size_t b = 0; b < reducer.num_buckets(); ++b) inside |= p.grad().is_alias_of(reducer.bucket_buffer(b));
    EXPECT_TRUE(inside);
  }
}

}  // namespace
}  // namespace tessera
