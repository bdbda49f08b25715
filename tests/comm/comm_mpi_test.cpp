// MpiCommunicator on 1..N ranks: every collective's result against values computed locally,
// every supported dtype, async ordering, error propagation and input validation.
#include <gtest/gtest.h>

#include <numeric>

#include "comm/make_communicator.h"
#include "comm/mpi_communicator.h"
#include "common/config.h"
#include "common/error.h"
#include "tests/comm/comm_test_main.h"

namespace tessera {
namespace {

using testing::test_env;

class MpiCommTest : public ::testing::Test {
 protected:
  MpiCommTest() : comm(test_env()) {}
  MpiCommunicator comm;
  int rank() const { return comm.rank(); }
  int size() const { return comm.size(); }
  // Sum over ranks r of (r + 1) * x.
  double rank_weight_sum() const { return size() * (size() + 1) / 2.0; }
};

TEST_F(MpiCommTest, RanksAndSizes) {
  EXPECT_EQ(comm.size(), test_env().size());
  EXPECT_EQ(comm.rank(), test_env().rank());
  EXPECT_EQ(comm.backend(), "mpi");
  EXPECT_GE(comm.local_rank(), 0);
  EXPECT_LT(comm.local_rank(), comm.local_size());
  // Tests run on one host: local == global.
  EXPECT_EQ(comm.local_size(), comm.size());
  EXPECT_EQ(comm.local_rank(), comm.rank());
}

TEST_F(MpiCommTest, AllreduceFloatingOps) {
  for (auto dtype : {torch::kFloat32, torch::kFloat64, torch::kFloat16, torch::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    auto base = torch::arange(0, 6, torch::kFloat64).reshape({2, 3});
    auto mine = (base * (rank() + 1)).to(dtype);

    auto t = mine.clone();
    comm.allreduce(t, ReduceOp::sum);
    EXPECT_TRUE(torch::allclose(t.to(torch::kFloat64), base * rank_weight_sum(), 1e-2, 1e-2));

    t = mine.clone();
    comm.allreduce(t, ReduceOp::avg);
    EXPECT_TRUE(
        torch::allclose(t.to(torch::kFloat64), base * rank_weight_sum() / size(), 1e-2, 1e-2));

    t = mine.clone();
    comm.allreduce(t, ReduceOp::max);
    EXPECT_TRUE(torch::allclose(t.to(torch::kFloat64), base * size(), 1e-2, 1e-2));

    t = mine.clone();
    comm.allreduce(t, ReduceOp::min);
    EXPECT_TRUE(torch::allclose(t.to(torch::kFloat64), base, 1e-2, 1e-2));
  }
}

TEST_F(MpiCommTest, AllreduceIntegerOps) {
  for (auto dtype : {torch::kInt64, torch::kInt32, torch::kInt16, torch::kInt8, torch::kUInt8}) {
    SCOPED_TRACE(c10::toString(dtype));
    auto base = torch::arange(0, 5, torch::kInt64);
    auto mine = (base * (rank() + 1)).to(dtype);
    auto t = mine.clone();
    comm.allreduce(t, ReduceOp::sum);
    EXPECT_TRUE(torch::equal(t.to(torch::kInt64),
                             base * static_cast<int64_t>(rank_weight_sum())));
    t = mine.clone();
    comm.allreduce(t, ReduceOp::max);
    EXPECT_TRUE(torch::equal(t.to(torch::kInt64), base * size()));
    t = mine.clone();
    comm.allreduce(t, ReduceOp::min);
    EXPECT_TRUE(torch::equal(t.to(torch::kInt64), base));
    t = mine.clone();
    EXPECT_THROW(comm.allreduce(t, ReduceOp::avg), Error);  // local check, no collective ran
  }
}

TEST_F(MpiCommTest, AllreduceBoolAnyAll) {
  auto t = torch::tensor({rank() == 0, true, false}, torch::kBool);
  auto any = t.clone();
  comm.allreduce(any, ReduceOp::max);
  EXPECT_TRUE(torch::equal(any, torch::tensor({true, true, false})));
  auto all = t.clone();
  comm.allreduce(all, ReduceOp::min);
  EXPECT_TRUE(torch::equal(all, torch::tensor({size() == 1, true, false})));
  EXPECT_THROW(comm.allreduce(any, ReduceOp::sum), Error);
}

TEST_F(MpiCommTest, RejectsBadTensorsWithClearMessages) {
  auto t = torch::ones({3, 4});
  auto transposed = t.t();
  try {
    comm.allreduce(transposed, ReduceOp::sum);
    FAIL() << "non-contiguous tensor accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not contiguous"), std::string::npos) << e.what();
  }
  auto complex = torch::ones({2}, torch::kComplexFloat);
  try {
    comm.allreduce(complex, ReduceOp::sum);
    FAIL() << "complex tensor accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot be reduced"), std::string::npos) << e.what();
  }
  EXPECT_THROW(comm.allreduce_async(transposed, ReduceOp::sum), Error);
  std::string bytes = "x";
  EXPECT_THROW(comm.broadcast_bytes(bytes, size()), Error);
}

TEST_F(MpiCommTest, AsyncAllreducesCompleteInOrderWithCorrectValues) {
  std::vector<torch::Tensor> tensors;
  std::vector<std::unique_ptr<Work>> works;
  for (int i = 0; i < 40; ++i) {
    // Sizes vary so that small ones would overtake big ones if order were not kept.
    auto t = torch::full({(i % 4) * 50000 + 1}, static_cast<float>(i + rank()));
    tensors.push_back(t);
    works.push_back(comm.allreduce_async(t, i % 2 ? ReduceOp::avg : ReduceOp::sum));
  }
  // A blocking collective in between waits for the queue and must still match across ranks.
  double x = rank();
  comm.allreduce(&x, 1, ReduceOp::sum);
  EXPECT_DOUBLE_EQ(x, size() * (size() - 1) / 2.0);
  for (int i = 39; i >= 0; --i) works[i]->wait();  // wait out of order
  for (int i = 0; i < 40; ++i) {
    EXPECT_TRUE(works[i]->done());
    double sum = i * size() + size() * (size() - 1) / 2.0;
    double expected = i % 2 ? sum / size() : sum;
    EXPECT_FLOAT_EQ(tensors[i][0].item<float>(), static_cast<float>(expected)) << "i=" << i;
    EXPECT_FLOAT_EQ(tensors[i][-1].item<float>(), static_cast<float>(expected)) << "i=" << i;
  }
}

TEST(MpiCommErrors, AsyncErrorIsRethrownAndPoisonsLaterCollectives) {
  MpiCommunicator comm(test_env());  // its own: the poisoned state must not leak into others
  auto t = torch::ones({4}, torch::kInt64);
  auto work = comm.allreduce_async(t, ReduceOp::avg);  // fails on the communication thread
  try {
    work->wait();
    FAIL() << "wait() did not rethrow";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("avg of a Long tensor"), std::string::npos) << e.what();
  }
  EXPECT_THROW(work->wait(), Error);  // every wait rethrows
  try {
    comm.barrier();
    FAIL() << "collective after a failed async one was run";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("earlier asynchronous collective failed"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(MpiCommTest, BroadcastTensorFromEveryRoot) {
  for (int root = 0; root < size(); ++root) {
    auto t = torch::full({3, 2}, static_cast<double>(rank() * 10 + 1), torch::kFloat64);
    comm.broadcast(t, root);
    EXPECT_TRUE(torch::equal(t, torch::full({3, 2}, static_cast<double>(root * 10 + 1),
                                            torch::kFloat64)));
  }
}

TEST_F(MpiCommTest, AllgatherTensorInRankOrder) {
  auto t = torch::full({2, 3}, rank(), torch::kInt32);
  auto all = comm.allgather(t);
  ASSERT_EQ(all.sizes(), (std::vector<int64_t>{size(), 2, 3}));
  for (int r = 0; r < size(); ++r) {
    EXPECT_TRUE(torch::equal(all[r], torch::full({2, 3}, r, torch::kInt32))) << "rank " << r;
  }
}

TEST_F(MpiCommTest, HostBufferAllreduce) {
  std::vector<double> d{1.0 * rank(), 2.0, -1.0 * rank()};
  comm.allreduce(d.data(), d.size(), ReduceOp::avg);
  EXPECT_DOUBLE_EQ(d[0], (size() - 1) / 2.0);
  EXPECT_DOUBLE_EQ(d[1], 2.0);
  std::vector<int64_t> i{rank(), rank(), (int64_t{1} << 40) + rank()};
  comm.allreduce(i.data(), 1, ReduceOp::sum);
  comm.allreduce(i.data() + 1, 1, ReduceOp::max);
  comm.allreduce(i.data() + 2, 1, ReduceOp::min);
  EXPECT_EQ(i[0], size() * (size() - 1) / 2);
  EXPECT_EQ(i[1], size() - 1);
  EXPECT_EQ(i[2], int64_t{1} << 40);
  EXPECT_THROW(comm.allreduce(i.data(), 1, ReduceOp::avg), Error);
}

TEST_F(MpiCommTest, BytesBroadcastAndVariableLengthAllgather) {
  for (int root = 0; root < size(); ++root) {
    std::string s = rank() == root ? std::string(1000 + root, static_cast<char>('a' + root))
                                   : std::string("stale");
    comm.broadcast_bytes(s, root);
    EXPECT_EQ(s, std::string(1000 + root, static_cast<char>('a' + root)));
  }
  // Rank 0 sends nothing: zero-length contributions must work.
  std::string mine(static_cast<size_t>(rank() * 3), static_cast<char>('0' + rank()));
  auto all = comm.allgather_bytes(mine);
  ASSERT_EQ(static_cast<int>(all.size()), size());
  for (int r = 0; r < size(); ++r) {
    EXPECT_EQ(all[r], std::string(static_cast<size_t>(r * 3), static_cast<char>('0' + r)));
  }
  comm.barrier();
}

TEST(MpiEnvironmentTest, ASecondEnvironmentIsRefused) {
  try {
    MpiEnvironment second;
    FAIL() << "second MpiEnvironment accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already initialised"), std::string::npos) << e.what();
  }
  EXPECT_EQ(test_env().thread_level(), MPI_THREAD_MULTIPLE);
  EXPECT_FALSE(test_env().hostname().empty());
}

TEST(MakeCommunicator, ResolvesBackendsAndRefusesImpossibleRequests) {
  EXPECT_EQ(resolve_backend("auto", false), "mpi");
  EXPECT_EQ(resolve_backend("mpi", false), "mpi");
  auto message = [](const std::string& backend, bool cuda) {
    try {
      resolve_backend(backend, cuda);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message("mpi", true).find("dist.backend: mpi reduces CPU tensors only"),
            std::string::npos);
  EXPECT_NE(message("gloo", false).find("dist.backend: unknown value 'gloo'"), std::string::npos);
  if (nccl_backend_built()) {
    EXPECT_EQ(resolve_backend("auto", true), "nccl");
    EXPECT_EQ(resolve_backend("nccl", true), "nccl");
    EXPECT_NE(message("nccl", false).find("needs CUDA tensors"), std::string::npos);
  } else {
    EXPECT_NE(message("nccl", true).find("built without NCCL"), std::string::npos);
    EXPECT_NE(message("auto", true).find("built without NCCL"), std::string::npos);
  }
  DistConfig dist;
  dist.backend = "auto";
  auto comm = make_communicator(dist, test_env(), /*cuda_tensors=*/false);
  EXPECT_EQ(comm->backend(), "mpi");
  EXPECT_EQ(comm->size(), test_env().size());
  double x = 1;
  comm->allreduce(&x, 1, ReduceOp::sum);
  EXPECT_DOUBLE_EQ(x, test_env().size());
}

}  // namespace
}  // namespace tessera
