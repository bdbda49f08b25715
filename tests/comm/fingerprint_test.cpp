// Fingerprint on 1..N ranks: equal inputs pass; a rank with a different config, model or data
// manifest is refused on every rank with a message naming the rank, the component and the
// first differing line.
#include <gtest/gtest.h>

#include "comm/fingerprint.h"
#include "comm/mpi_communicator.h"
#include "common/error.h"
#include "tests/comm/comm_test_main.h"

namespace tessera {
namespace {

using testing::test_env;

struct TinyNetImpl : torch::nn::Module {
  explicit TinyNetImpl(int in_channels) {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, 4, 3)));
    bn = register_module("bn", torch::nn::BatchNorm2d(4));
  }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(TinyNet);

FingerprintInput reference_input(int in_channels = 3) {
  FingerprintInput in;
  in.config = "model.arch=unet\noptim.lr=0.001\ntrain.batch_size=4\n";
  in.parameters = describe_module(*TinyNet(in_channels));
  in.data = "shard-000.h5 128\nshard-001.h5 128\n";
  return in;
}

std::string refusal(MpiCommunicator& comm, const FingerprintInput& in) {
  try {
    verify_fingerprint(comm, in);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Fingerprint, Fnv1aKnownValues) {
  // Published FNV-1a 64 test vectors.
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
}

TEST(Fingerprint, DescribesParametersAndBuffers) {
  std::string text = describe_module(*TinyNet(3));
  EXPECT_NE(text.find("conv.weight [4, 3, 3, 3] Float\n"), std::string::npos) << text;
  EXPECT_NE(text.find("conv.bias [4] Float\n"), std::string::npos) << text;
  EXPECT_NE(text.find("buffer bn.running_mean [4] Float\n"), std::string::npos) << text;
  EXPECT_NE(text.find("buffer bn.num_batches_tracked [] Long\n"), std::string::npos) << text;
}

TEST(Fingerprint, EqualInputsPass) {
  MpiCommunicator comm(test_env());
  Fingerprint f = verify_fingerprint(comm, reference_input());
  EXPECT_EQ(f.config, fnv1a64(reference_input().config));
}

// Needs 2+ ranks: the *MultiRank* suites are filtered out of the np 1 run (CMakeLists.txt).
TEST(FingerprintMultiRank, DifferentConfigOnLastRankIsRefusedEverywhere) {
  MpiCommunicator comm(test_env());
  ASSERT_GE(comm.size(), 2)
      << "a *MultiRank* case: tests/comm/CMakeLists.txt runs it at 2+ ranks";
  const int last = comm.size() - 1;
  FingerprintInput in = reference_input();
  if (comm.rank() == last) in.config = "model.arch=unet\noptim.lr=0.01\ntrain.batch_size=4\n";
  std::string msg = refusal(comm, in);
  ASSERT_FALSE(msg.empty()) << "mismatch accepted";
  EXPECT_NE(msg.find("refusing to start"), std::string::npos) << msg;
  EXPECT_NE(msg.find("rank(s) " + std::to_string(last) + " differ from rank 0 in config"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("line 2: rank 0 has 'optim.lr=0.001', rank " + std::to_string(last) +
                     " has 'optim.lr=0.01'"),
            std::string::npos)
      << msg;
  EXPECT_EQ(msg.find("parameters"), std::string::npos) << msg;  // only config differs
}

TEST(FingerprintMultiRank, DifferentModelAndDataAreBothNamed) {
  MpiCommunicator comm(test_env());
  ASSERT_GE(comm.size(), 2)
      << "a *MultiRank* case: tests/comm/CMakeLists.txt runs it at 2+ ranks";
  FingerprintInput in = reference_input(comm.rank() == 1 ? 1 : 3);  // rank 1: 1 input channel
  if (comm.rank() == 1) in.data += "shard-002.h5 64\n";
  std::string msg = refusal(comm, in);
  ASSERT_FALSE(msg.empty()) << "mismatch accepted";
  EXPECT_NE(msg.find("rank(s) 1 differ from rank 0 in parameters; rank 1: line 1: rank 0 has "
                     "'conv.weight [4, 3, 3, 3] Float', rank 1 has 'conv.weight [4, 1, 3, 3] "
                     "Float'"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("rank(s) 1 differ from rank 0 in data; rank 1: rank 0 has 2 lines, rank 1 "
                     "has 3; first extra line 3: 'shard-002.h5 64'"),
            std::string::npos)
      << msg;
  EXPECT_EQ(msg.find("in config"), std::string::npos) << msg;
}

}  // namespace
}  // namespace tessera
