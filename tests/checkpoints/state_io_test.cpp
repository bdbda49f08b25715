// state_io and file_io: bit-exact round trips of parameters, buffers, optimizer state and RNG
// state; continuing training after a restore reproduces the uninterrupted run bit for bit
// (dropout on), with negative controls showing the test would catch a missing piece.
#include "checkpoints/file_io.h"
#include "checkpoints/state_io.h"
#include "common/error.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <random>

namespace tessera::checkpoints {
namespace {

using testing::TempDir;

struct NetImpl : torch::nn::Module {
  NetImpl() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 4, 3).padding(1)));
    bn = register_module("bn", torch::nn::BatchNorm2d(4));
    drop = register_module("drop", torch::nn::Dropout(0.3));
    head = register_module("head", torch::nn::Sequential(torch::nn::Linear(4 * 8 * 8, 6),
                                                         torch::nn::ReLU(),
                                                         torch::nn::Linear(6, 3)));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = drop(torch::relu(bn(conv(x))));
    return head->forward(x.flatten(1));
  }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Dropout drop{nullptr};
  torch::nn::Sequential head{nullptr};
};
TORCH_MODULE(Net);

// Deterministic data that does not consume the global generator.
void train_steps(Net& net, torch::optim::Optimizer& opt, int from, int count) {
  net->train();
  for (int i = from; i < from + count; ++i) {
    const auto x = torch::sin(torch::arange(5 * 2 * 8 * 8, torch::kFloat) * (0.01 * (i + 1)))
                       .reshape({5, 2, 8, 8});
    const auto y = torch::cos(torch::arange(5 * 3, torch::kFloat) * (0.1 * (i + 1))).reshape({5, 3});
    opt.zero_grad();
    const auto loss = torch::mse_loss(net->forward(x), y);
    loss.backward();
    opt.step();
  }
}

bool bitwise_equal(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const auto ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
}

// Every parameter and buffer of a and b is bit-identical.
bool same_state(const torch::nn::Module& a, const torch::nn::Module& b) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  const auto ba = a.named_buffers(), bb = b.named_buffers();
  if (pa.size() != pb.size() || ba.size() != bb.size()) return false;
  for (const auto& item : pa) {
    if (!bitwise_equal(item.value(), pb[item.key()])) return false;
  }
  for (const auto& item : ba) {
    if (!bitwise_equal(item.value(), bb[item.key()])) return false;
  }
  return true;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(CheckpointStateIo, ModuleRoundTripIsBitExact) {
  torch::manual_seed(1);
  Net a;
  torch::optim::SGD opt(a->parameters(), 0.1);
  train_steps(a, opt, 0, 2);  // BatchNorm running stats and num_batches_tracked move
  const std::string bytes = module_to_bytes(*a);
  torch::manual_seed(2);
  Net b;
  ASSERT_FALSE(same_state(*a, *b));
  const auto* param_before = b->conv->weight.unsafeGetTensorImpl();
  module_from_bytes(*b, bytes, "model.pt");
  EXPECT_TRUE(same_state(*a, *b));
  // Loaded in place: an optimizer holding b's parameters still sees them.
  EXPECT_EQ(b->conv->weight.unsafeGetTensorImpl(), param_before);
  EXPECT_EQ(b->bn->num_batches_tracked.item<int64_t>(), 2);
}

TEST(CheckpointStateIo, ModuleMismatchIsRefusedNamingTheParameter) {
  torch::manual_seed(1);
  Net a;
  const std::string bytes = module_to_bytes(*a);
  auto other = torch::nn::Sequential(torch::nn::Linear(3, 3));
  const std::string e = error_of([&] { module_from_bytes(*other, bytes, "run/model.pt"); });
  EXPECT_NE(e.find("run/model.pt"), std::string::npos) << e;
  EXPECT_NE(e.find("'0'"), std::string::npos) << e;  // the submodule that is missing

  struct Wider : torch::nn::Module {
    Wider() { conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 5, 3))); }
    torch::nn::Conv2d conv{nullptr};
  } wider;
  const std::string e2 = error_of([&] { module_from_bytes(wider, bytes, "model.pt"); });
  EXPECT_NE(e2.find("conv.weight"), std::string::npos) << e2;
  EXPECT_NE(e2.find("4x2x3x3"), std::string::npos) << e2;
  EXPECT_NE(e2.find("5x2x3x3"), std::string::npos) << e2;

  const std::string e3 = error_of([&] { module_from_bytes(*a, "not an archive", "model.pt"); });
  EXPECT_NE(e3.find("not a readable LibTorch archive"), std::string::npos) << e3;
}

// What the model lacks is refused too, so that nothing in a checkpoint is dropped silently (e.g.
// data.normalize's input statistics evaluated with a config that says none). The control is
// ModuleRoundTripIsBitExact: the same structure loads.
TEST(CheckpointStateIo, ExtraTensorsAndSubmodulesAreRefusedNamingThem) {
  torch::manual_seed(1);
  Net plain;
  Net with_stats;
  with_stats->register_buffer("input_mean", torch::zeros({2}));
  std::string e = error_of([&] { module_from_bytes(*plain, module_to_bytes(*with_stats), "m.pt"); });
  EXPECT_NE(e.find("m.pt: tensor 'input_mean' is in the checkpoint but not in this model"),
            std::string::npos) << e;
  EXPECT_NE(e.find("trained with data.normalize: dataset"), std::string::npos) << e;
  // The other way round: the model's buffer is missing from the checkpoint.
  e = error_of([&] { module_from_bytes(*with_stats, module_to_bytes(*plain), "m.pt"); });
  EXPECT_NE(e.find("buffer 'input_mean' is missing"), std::string::npos) << e;
  EXPECT_NE(e.find("the checkpoint was trained without it"), std::string::npos) << e;
  // A nested extra parameter and an extra submodule are named with their path.
  Net nested;
  nested->conv->register_parameter("gain", torch::ones({1}));
  e = error_of([&] { module_from_bytes(*plain, module_to_bytes(*nested), "m.pt"); });
  EXPECT_NE(e.find("tensor 'conv.gain' is in the checkpoint"), std::string::npos) << e;
  Net bigger;
  bigger->register_module("extra", torch::nn::Linear(2, 2));
  e = error_of([&] { module_from_bytes(*plain, module_to_bytes(*bigger), "m.pt"); });
  EXPECT_NE(e.find("submodule 'extra' is in the checkpoint"), std::string::npos) << e;
}

using OptimizerFactory =
    std::function<std::unique_ptr<torch::optim::Optimizer>(Net&, double lr)>;

struct OptimizerCase {
  const char* name;
  OptimizerFactory make;
};

void PrintTo(const OptimizerCase& c, std::ostream* os) { *os << c.name; }

class CheckpointExactResume : public ::testing::TestWithParam<OptimizerCase> {};

// Uninterrupted: 3 steps, snapshot, 3 more. Resumed: a different model and optimizer restore
// the snapshot and run the same 3 steps. Dropout is on, so the RNG state matters.
TEST_P(CheckpointExactResume, ContinuingAfterRestoreIsBitIdentical) {
  const OptimizerFactory& make = GetParam().make;
  torch::manual_seed(11);
  Net a;
  auto opt_a = make(a, 0.01);
  train_steps(a, *opt_a, 0, 3);
  const std::string model = module_to_bytes(*a);
  const std::string optim = optimizer_to_bytes(*opt_a);
  const std::string rng = torch_rng_to_bytes();
  train_steps(a, *opt_a, 3, 3);

  auto resumed = [&](bool restore_optimizer, bool restore_rng) {
    torch::manual_seed(999);
    Net b;
    auto opt_b = make(b, 0.5);
    module_from_bytes(*b, model, "model.pt");
    if (restore_optimizer) {
      optimizer_from_bytes(*opt_b, optim, "optim.pt");
      EXPECT_DOUBLE_EQ(opt_b->param_groups()[0].options().get_lr(), 0.01);
    }
    if (restore_rng) torch_rng_from_bytes(rng, "rng.bin");
    train_steps(b, *opt_b, 3, 3);
    return same_state(*a, *b);
  };
  EXPECT_TRUE(resumed(true, true));
  // Negative controls: without the optimizer state or the RNG state the runs diverge.
  EXPECT_FALSE(resumed(false, true));
  EXPECT_FALSE(resumed(true, false));
}

INSTANTIATE_TEST_SUITE_P(
    Optimizers, CheckpointExactResume,
    ::testing::Values(
        OptimizerCase{"AdamAmsgrad",
                      [](Net& n, double lr) -> std::unique_ptr<torch::optim::Optimizer> {
                        return std::make_unique<torch::optim::Adam>(
                            n->parameters(),
                            torch::optim::AdamOptions(lr).amsgrad(true).weight_decay(1e-4));
                      }},
        OptimizerCase{"AdamW",
                      [](Net& n, double lr) -> std::unique_ptr<torch::optim::Optimizer> {
                        return std::make_unique<torch::optim::AdamW>(
                            n->parameters(), torch::optim::AdamWOptions(lr).weight_decay(0.01));
                      }},
        OptimizerCase{"SgdNesterov",
                      [](Net& n, double lr) -> std::unique_ptr<torch::optim::Optimizer> {
                        return std::make_unique<torch::optim::SGD>(
                            n->parameters(),
                            torch::optim::SGDOptions(lr).momentum(0.9).nesterov(true));
                      }}),
    [](const ::testing::TestParamInfo<OptimizerCase>& info) { return info.param.name; });

TEST(CheckpointStateIo, OptimizerMismatchIsRefused) {
  torch::manual_seed(1);
  Net a;
  torch::optim::Adam opt(a->parameters(), 0.01);
  train_steps(a, opt, 0, 1);
  const std::string bytes = optimizer_to_bytes(opt);
  auto small = torch::nn::Linear(3, 3);
  torch::optim::Adam other(small->parameters(), 0.01);
  const std::string e = error_of([&] { optimizer_from_bytes(other, bytes, "optim.pt"); });
  EXPECT_NE(e.find("optim.pt"), std::string::npos) << e;
}

TEST(CheckpointStateIo, RngRestoreReproducesDropoutAndSamples) {
  torch::manual_seed(5);
  (void)torch::randn({3});  // leaves a cached normal sample in some versions
  const std::string state = torch_rng_to_bytes();
  auto draw = [] {
    const auto ones = torch::ones({64, 64});
    const auto mask = torch::dropout(ones, 0.5, /*train=*/true);
    const auto n1 = torch::randn({1});  // scalar path (uses the normal cache)
    const auto n2 = torch::randn({101});
    const auto u = torch::rand({17});
    const auto i = torch::randint(1000, {9});
    const auto p = torch::randperm(50);
    return std::vector<torch::Tensor>{mask, n1, n2, u, i, p};
  };
  const auto first = draw();
  torch::manual_seed(6);
  const auto other = draw();
  torch_rng_from_bytes(state, "rng.bin");
  const auto again = draw();
  ASSERT_EQ(first.size(), again.size());
  for (std::size_t k = 0; k < first.size(); ++k) {
    EXPECT_TRUE(bitwise_equal(first[k], again[k])) << k;
  }
  EXPECT_FALSE(bitwise_equal(first[0], other[0]));  // a different seed gives a different mask

  EXPECT_NE(error_of([] { torch_rng_from_bytes("garbage", "rng.bin"); }).find("rng.bin"),
            std::string::npos);
  EXPECT_NE(error_of([] { torch_rng_from_bytes(tensors_to_bytes({{"x", torch::ones({2})}}),
                                               "rng.bin"); })
                .find("no CPU generator state"),
            std::string::npos);
}

TEST(CheckpointStateIo, StdEnginesRoundTrip) {
  std::mt19937 a(123);
  std::mt19937_64 b(456);
  for (int i = 0; i < 777; ++i) {
    (void)a();
    (void)b();
  }
  const std::string sa = engine_to_string(a), sb = engine_to_string(b);
  std::mt19937 a2(1);
  std::mt19937_64 b2(1);
  engine_from_string(a2, sa, "rng.json");
  engine_from_string(b2, sb, "rng.json");
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(a(), a2());
    ASSERT_EQ(b(), b2());
  }
  EXPECT_NE(error_of([&] { engine_from_string(a2, "12 x", "shuffle_rng"); }).find("shuffle_rng"),
            std::string::npos);
}

TEST(CheckpointStateIo, NamedTensorsRoundTrip) {
  std::map<std::string, torch::Tensor> in = {
      {"scale", torch::tensor({65536.0f})},
      {"growth", torch::tensor({int64_t{2000}})},
      {"ema", torch::randn({4, 5}, torch::kDouble).t()},  // non-contiguous
      {"flags", torch::tensor({1, 0, 1}, torch::kUInt8)},
      {"half", torch::randn({7}).to(torch::kBFloat16)},
  };
  const auto out = tensors_from_bytes(tensors_to_bytes(in), "scaler.pt");
  ASSERT_EQ(out.size(), in.size());
  for (const auto& [name, t] : in) EXPECT_TRUE(bitwise_equal(t, out.at(name))) << name;
  EXPECT_THROW(tensors_to_bytes({{"bad.name", torch::ones({1})}}), Error);
}

TEST(CheckpointFileIo, ReadWriteAtomic) {
  TempDir tmp;
  const std::string path = tmp / "state.json";
  write_file_atomic(path, "one");
  EXPECT_EQ(read_file(path), "one");
  write_file_atomic(path, std::string("t\0wo", 4));
  EXPECT_EQ(read_file(path), std::string("t\0wo", 4));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_NE(error_of([&] { write_file_durable(path, "x"); }).find(path), std::string::npos);
  write_file_durable(path, "three", /*replace_existing=*/true);
  EXPECT_EQ(read_file(path), "three");
  EXPECT_NE(error_of([&] { (void)read_file(tmp / "absent"); }).find(tmp / "absent"),
            std::string::npos);
  EXPECT_NE(error_of([&] { write_file_atomic(tmp / "no/such/dir/f", "x"); }).find("no/such/dir"),
            std::string::npos);
  // A large file crosses the read chunking.
  const std::string big(5 * 1024 * 1024 + 3, 'z');
  write_file_atomic(path, big);
  EXPECT_EQ(read_file(path), big);
}

}  // namespace
}  // namespace tessera::checkpoints
