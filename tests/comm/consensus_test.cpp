// StepConsensus and StopSignal on 1..N ranks: every rank must see the same loss, the same
// non-finite decision and the same stop decision at the same step.
#include <gtest/gtest.h>

#include <signal.h>

#include <cmath>
#include <limits>

#include "comm/mpi_communicator.h"
#include "comm/step_consensus.h"
#include "comm/stop_signal.h"
#include "common/error.h"
#include "tests/comm/comm_test_main.h"

namespace tessera {
namespace {

using testing::test_env;

class ConsensusTest : public ::testing::Test {
 protected:
  ConsensusTest() : comm(test_env()) {}
  MpiCommunicator comm;
  int rank() const { return comm.rank(); }
  int size() const { return comm.size(); }
  int last() const { return comm.size() - 1; }
};

TEST_F(ConsensusTest, SameLossEverywhere) {
  StepConsensus consensus(comm, NonfinitePolicy::skip);
  StepReport mine;
  mine.loss_sum = 2.0 * (rank() + 1);  // batch mean (r + 1) over 2 samples
  mine.count = 2;
  mine.extra = {1.0, static_cast<double>(rank())};
  StepDecision d = consensus.agree(0, mine);
  EXPECT_DOUBLE_EQ(d.loss_sum, size() * (size() + 1.0));
  EXPECT_DOUBLE_EQ(d.count, 2.0 * size());
  EXPECT_DOUBLE_EQ(d.loss_mean, (size() + 1.0) / 2.0);
  EXPECT_FALSE(d.skip);
  EXPECT_FALSE(d.stop);
  EXPECT_TRUE(d.nonfinite_ranks.empty());
  ASSERT_EQ(d.extra.size(), 2u);
  EXPECT_DOUBLE_EQ(d.extra[0], size());
  EXPECT_DOUBLE_EQ(d.extra[1], size() * (size() - 1) / 2.0);
}

TEST_F(ConsensusTest, NonfiniteOnOneRankSkipsTheSameStepEverywhere) {
  StepConsensus consensus(comm, NonfinitePolicy::skip);
  std::vector<int64_t> skipped;
  for (int64_t step = 0; step < 6; ++step) {
    StepReport mine;
    mine.loss_sum = 1.0;
    mine.count = 1;
    if (step == 3 && rank() == last()) mine.loss_sum = std::numeric_limits<double>::quiet_NaN();
    if (step == 4 && rank() == 0) mine.nonfinite = true;  // e.g. an infinite gradient
    StepDecision d = consensus.agree(step, mine);
    if (d.skip) {
      skipped.push_back(step);
      EXPECT_EQ(d.nonfinite_ranks, std::vector<int>{step == 3 ? last() : 0});
      // The finite ranks' loss is still reported.
      EXPECT_DOUBLE_EQ(d.count, size() - 1);
      if (size() > 1) {
        EXPECT_DOUBLE_EQ(d.loss_mean, 1.0);
      }
    } else {
      EXPECT_DOUBLE_EQ(d.loss_mean, 1.0);
    }
  }
  EXPECT_EQ(skipped, (std::vector<int64_t>{3, 4}));
  // Every rank skipped exactly the same steps.
  int64_t local[2] = {skipped.size() == 2 ? skipped[0] : -1, skipped.size() == 2 ? skipped[1] : -1};
  int64_t mx[2] = {local[0], local[1]};
  int64_t mn[2] = {local[0], local[1]};
  comm.allreduce(mx, 2, ReduceOp::max);
  comm.allreduce(mn, 2, ReduceOp::min);
  EXPECT_EQ(mx[0], mn[0]);
  EXPECT_EQ(mx[1], mn[1]);
}

TEST_F(ConsensusTest, AbortPolicyThrowsOnEveryRankNamingRankAndStep) {
  StepConsensus consensus(comm, NonfinitePolicy::abort);
  StepReport ok;
  ok.loss_sum = 1;
  ok.count = 1;
  EXPECT_NO_THROW(consensus.agree(0, ok));
  StepReport mine = ok;
  if (rank() == last()) mine.loss_sum = std::numeric_limits<double>::infinity();
  try {
    consensus.agree(1, mine);
    FAIL() << "non-finite loss did not abort";
  } catch (const Error& e) {
    std::string expected = "non-finite loss or gradients at step 1 on rank(s) " + std::to_string(last());
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
}

// Needs 2+ ranks: the *MultiRank* suites are filtered out of the np 1 run (CMakeLists.txt).
using ConsensusMultiRankTest = ConsensusTest;

TEST_F(ConsensusMultiRankTest, StepMismatchIsAnError) {
  ASSERT_GE(size(), 2) << "a *MultiRank* case: tests/comm/CMakeLists.txt runs it at 2+ ranks";
  StepConsensus consensus(comm, NonfinitePolicy::skip);
  StepReport mine;
  int64_t step = rank() == last() ? 8 : 7;
  try {
    consensus.agree(step, mine);
    FAIL() << "diverged step numbers accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ranks disagree on the step number"), std::string::npos)
        << e.what();
  }
}

TEST_F(ConsensusTest, StopSignalOnOneRankStopsAllAtTheSameStep) {
  StopSignal stop;
  StepConsensus consensus(comm, NonfinitePolicy::skip);
  int64_t stopped_at = -1;
  std::vector<int> stop_ranks;
  for (int64_t step = 0; step < 10 && stopped_at < 0; ++step) {
    if (step == 4 && rank() == last()) raise(SIGUSR1);  // as Slurm / mpirun would deliver it
    StepReport mine;
    mine.stop = stop.requested();
    mine.stop_signal = stop.signal_number();
    StepDecision d = consensus.agree(step, mine);
    if (d.stop) {
      stopped_at = step;
      stop_ranks = d.stop_ranks;
    }
  }
  EXPECT_EQ(stopped_at, 4);
  EXPECT_EQ(stop_ranks, std::vector<int>{last()});
  EXPECT_EQ(stop.requested(), rank() == last());
  if (rank() == last()) {
    EXPECT_EQ(stop.signal_number(), SIGUSR1);
  }
}

TEST(StopSignalTest, RaiiInstallsAndRestoresAndRefusesASecondInstance) {
  struct sigaction before;
  sigaction(SIGTERM, nullptr, &before);
  {
    StopSignal stop;
    EXPECT_FALSE(stop.requested());
    EXPECT_THROW(StopSignal second, Error);
    raise(SIGTERM);  // would kill the process without our handler
    EXPECT_TRUE(stop.requested());
    EXPECT_EQ(stop.signal_number(), SIGTERM);
    stop.clear();
    EXPECT_FALSE(stop.requested());
    stop.request();
    EXPECT_TRUE(stop.requested());
    EXPECT_EQ(stop.signal_number(), 0);
  }
  struct sigaction after;
  sigaction(SIGTERM, nullptr, &after);
  EXPECT_EQ(before.sa_handler, after.sa_handler);
  StopSignal again;  // the first one is gone, so this works
  EXPECT_FALSE(again.requested());
}

TEST(ConsensusPolicy, ParsesPolicyNames) {
  EXPECT_EQ(parse_nonfinite_policy("skip"), NonfinitePolicy::skip);
  EXPECT_EQ(parse_nonfinite_policy("abort"), NonfinitePolicy::abort);
  try {
    parse_nonfinite_policy("ignore");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dist.nonfinite"), std::string::npos);
  }
}

}  // namespace
}  // namespace tessera
