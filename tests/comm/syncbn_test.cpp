// SyncBatchNorm2d on 1..N ranks (uneven batch sizes: rank q has 2+q samples) against
// torch::nn::BatchNorm2d on the concatenated batch in one process: outputs, input gradients,
// weight/bias gradients (summed over ranks), running statistics, eval mode; model conversion;
// and a model with BN trained with SyncBatchNorm + GradReducer against one big-batch process.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "comm/grad_reducer.h"
#include "comm/mpi_communicator.h"
#include "comm/sync_batchnorm.h"
#include "comm/watchdog.h"
#include "common/error.h"
#include "models/cpu_backend.h"
#include "models/unet.h"
#include "tests/comm/comm_test_main.h"
#include "tests/comm/reducer_test_util.h"

namespace tessera {
namespace {

using testing::make_batches;
using testing::max_param_diff;
using testing::test_env;

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

// Data-parallel SGD (momentum 0.9) on the MSE loss with GradReducer on `comm`: each rank takes
// its kB rows of every batch (rank r: rows r*kB .. r*kB+kB-1).
template <typename Model>
void train_data_parallel(Model& model, Communicator& comm,
                         const std::vector<std::pair<torch::Tensor, torch::Tensor>>& data, int kB,
                         double lr) {
  ReducerOptions options;
  options.bucket_mb = 1.0 / 1024;  // several buckets, launched between SyncBN's collectives
  GradReducer reducer(*model, comm, options);
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(lr).momentum(0.9));
  const int r = comm.rank();
  for (const auto& batch : data) {
    reducer.zero_grad();
    const auto x = batch.first.narrow(0, r * kB, kB);
    torch::mse_loss(model->forward(x), batch.second.narrow(0, r * kB, kB)).backward();
    reducer.finish();
    sgd.step();
  }
}

struct Layout {
  int n, r, offset, mine, total;
};
Layout uneven(const Communicator& comm) {
  Layout l{comm.size(), comm.rank(), 0, 2 + comm.rank(), 0};
  for (int q = 0; q < l.n; ++q) {
    if (q < l.r) l.offset += 2 + q;
    l.total += 2 + q;
  }
  return l;
}

void check_against_big_batch(MpiCommunicator& comm, const torch::nn::BatchNorm2dOptions& opts) {
  const Layout l = uneven(comm);
  torch::manual_seed(31);
  torch::nn::BatchNorm2d bn(opts);
  if (opts.affine()) {
    torch::NoGradGuard no_grad;
    bn->weight.uniform_(0.5, 1.5);
    bn->bias.uniform_(-0.5, 0.5);
  }
  SyncBatchNorm2d sbn(opts, comm);
  sbn->load_from(*bn);
  for (int step = 0; step < 3; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const auto x_all = torch::randn({l.total, opts.num_features(), 5, 4}) * 2 + 3;
    const auto w_all = torch::randn(x_all.sizes());  // loss = sum(y * w): a sum-type loss
    auto x_ref = x_all.clone().requires_grad_();
    const auto y_ref = bn(x_ref);
    (y_ref * w_all).sum().backward();

    auto x = x_all.narrow(0, l.offset, l.mine).clone().requires_grad_();
    const auto y = sbn(x);
    (y * w_all.narrow(0, l.offset, l.mine)).sum().backward();

    EXPECT_LT(max_diff(y, y_ref.narrow(0, l.offset, l.mine)), 1e-4);
    EXPECT_LT(max_diff(x.grad(), x_ref.grad().narrow(0, l.offset, l.mine)), 1e-4);
    if (l.n > 1) {  // the comparison is sensitive: a local batch norm differs
      const auto y_local = torch::batch_norm(x.detach(), bn->weight, bn->bias, {}, {}, true, 0.1,
                                             opts.eps(), false);
      EXPECT_GT(max_diff(y_local, y_ref.narrow(0, l.offset, l.mine)), 1e-2);
    }
    if (opts.affine()) {
      auto gw = sbn->weight.grad().clone();
      auto gb = sbn->bias.grad().clone();
      comm.allreduce(gw, ReduceOp::sum);
      comm.allreduce(gb, ReduceOp::sum);
      EXPECT_LT(max_diff(gw, bn->weight.grad()), 1e-3 * (1 + bn->weight.grad().abs().max().item<double>()));
      EXPECT_LT(max_diff(gb, bn->bias.grad()), 1e-3 * (1 + bn->bias.grad().abs().max().item<double>()));
      sbn->weight.mutable_grad().zero_();
      sbn->bias.mutable_grad().zero_();
      bn->weight.mutable_grad().zero_();
      bn->bias.mutable_grad().zero_();
    }
  }
  if (opts.track_running_stats()) {
    EXPECT_LT(max_diff(sbn->running_mean, bn->running_mean), 1e-5);
    EXPECT_LT(max_diff(sbn->running_var, bn->running_var), 1e-4);
    EXPECT_EQ(sbn->num_batches_tracked.item<int64_t>(), 3);
  }
  // Eval mode: no communication, running stats (or the local batch without them).
  sbn->eval();
  bn->eval();
  const auto x = torch::randn({2, opts.num_features(), 3, 3});
  EXPECT_LT(max_diff(sbn(x), bn(x)), 1e-5);
}

TEST(SyncBatchNorm, MatchesBatchNormOnTheConcatenatedBatch) {
  MpiCommunicator comm(test_env());
  check_against_big_batch(comm, torch::nn::BatchNorm2dOptions(4));
}

TEST(SyncBatchNorm, CumulativeAverageWhenMomentumIsUnset) {
  MpiCommunicator comm(test_env());
  check_against_big_batch(comm, torch::nn::BatchNorm2dOptions(3).momentum(c10::nullopt).eps(1e-3));
}

TEST(SyncBatchNorm, WithoutAffineParameters) {
  MpiCommunicator comm(test_env());
  check_against_big_batch(comm, torch::nn::BatchNorm2dOptions(2).affine(false));
}

// train.precision bf16: a bf16 activation is normalised with float32 statistics (those of the
// float batch norm on the same bf16-rounded values) and comes back as bf16. Control: statistics
// taken in bf16 (var_mean of the bf16 tensor) are off by far more than the tolerance used.
TEST(SyncBatchNorm, Bf16InputKeepsFloatStatistics) {
  MpiCommunicator comm(test_env());
  const Layout l = uneven(comm);
  const auto opts = torch::nn::BatchNorm2dOptions(3).momentum(1.0);
  torch::nn::BatchNorm2d bn(opts);
  SyncBatchNorm2d sbn(opts, comm);
  torch::manual_seed(5);
  const auto x_all = (torch::randn({l.total, 3, 6, 6}) * 0.1 + 3).to(torch::kBFloat16);
  const auto y_ref = bn(x_all.to(torch::kFloat));
  const auto y = sbn(x_all.narrow(0, l.offset, l.mine));
  EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(sbn->running_mean.scalar_type(), torch::kFloat);
  EXPECT_LT(max_diff(sbn->running_mean, bn->running_mean), 1e-5);
  EXPECT_LT(max_diff(sbn->running_var, bn->running_var), 1e-6);
  EXPECT_LT(max_diff(y.to(torch::kFloat), y_ref.narrow(0, l.offset, l.mine)), 0.05);
  const auto bf16_mean = std::get<1>(torch::var_mean(x_all, {0, 2, 3}, false)).to(torch::kFloat);
  EXPECT_GT(max_diff(bf16_mean, bn->running_mean), 1e-4) << "the control shows nothing";
}

TEST(SyncBatchNorm, RejectsWrongInputShapesBeforeAnyCollective) {
  MpiCommunicator comm(test_env());
  SyncBatchNorm2d sbn(4, comm);
  try {
    sbn(torch::randn({2, 3, 5, 5}));
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected input [N, 4, H, W], got shape [2, 3, 5, 5]"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(sbn(torch::randn({2, 4, 5})), Error);
}

// conv -> BN -> ReLU in a Sequential (convertible), then a 1x1 conv head.
struct BlockNetImpl : torch::nn::Module {
  explicit BlockNetImpl(uint64_t seed) {
    torch::manual_seed(seed);
    block = register_module(
        "block", torch::nn::Sequential(
                     torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 6, 3).padding(1)),
                     torch::nn::BatchNorm2d(6), torch::nn::ReLU()));
    head = register_module("head", torch::nn::Conv2d(torch::nn::Conv2dOptions(6, 3, 1)));
  }
  torch::Tensor forward(const torch::Tensor& x) { return head(block->forward(x)); }
  torch::nn::Sequential block{nullptr};
  torch::nn::Conv2d head{nullptr};
};
TORCH_MODULE(BlockNet);

// Holds its BatchNorm2d in a member that forward() calls: not convertible in place.
struct MemberNetImpl : torch::nn::Module {
  MemberNetImpl() { bn = register_module("bn", torch::nn::BatchNorm2d(3)); }
  torch::Tensor forward(const torch::Tensor& x) { return bn(x); }
  torch::nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(MemberNet);

// A two-"rank" communicator in one process whose other rank holds the same data (allreduce
// doubles), recording the watchdog's phase at every tensor allreduce.
class PhaseRecordingComm : public Communicator {
 public:
  explicit PhaseRecordingComm(const Watchdog& dog) : dog_(dog) {}
  int rank() const override { return 0; }
  int size() const override { return 2; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 2; }
  std::string backend() const override { return "fake"; }
  void allreduce(torch::Tensor& t, ReduceOp) override {
    phases.push_back(dog_.describe_current());
    t.mul_(2);
  }
  std::unique_ptr<Work> allreduce_async(torch::Tensor, ReduceOp) override { unused(); }
  void broadcast(torch::Tensor&, int) override { unused(); }
  torch::Tensor allgather(const torch::Tensor&) override { unused(); }
  void allreduce(double*, size_t, ReduceOp) override { unused(); }
  void allreduce(int64_t*, size_t, ReduceOp) override { unused(); }
  void broadcast_bytes(std::string&, int) override { unused(); }
  std::vector<std::string> allgather_bytes(const std::string&) override { unused(); }
  void barrier() override { unused(); }
  [[noreturn]] void abort(int, const std::string& why) override { TESSERA_THROW("abort: {}", why); }
  std::vector<std::string> phases;

 private:
  [[noreturn]] static void unused() { TESSERA_THROW("not used by SyncBatchNorm"); }
  const Watchdog& dog_;
};

// Issue 13, finding 5: a rank waiting in SyncBatchNorm's allreduce for a straggler is in a
// waiting phase (collective), not in forward/backward, so the watchdog blames the straggler.
// Control: the same layer without the watchdog set leaves the outer phases.
TEST(SyncBatchNormWatchdog, AllreducesRunInTheCollectivePhase) {
  Watchdog::Options opts;
  opts.start_thread = false;
  Watchdog dog(0, opts, [](int, const std::string&) {});
  for (bool watched : {true, false}) {
    PhaseRecordingComm comm(dog);
    SyncBatchNorm2d bn(3, comm);
    if (watched) EXPECT_EQ(set_sync_batchnorm_watchdog(*bn, &dog), 1);
    const auto x = torch::randn({2, 3, 4, 4}).requires_grad_(true);
    torch::Tensor y;
    {
      auto scope = dog.enter(Phase::forward);
      y = bn->forward(x);
    }
    {
      auto scope = dog.enter(Phase::backward);
      y.sum().backward();
    }
    const std::vector<std::string> want =
        watched ? std::vector<std::string>{"phase collective", "phase collective"}
                : std::vector<std::string>{"phase forward", "phase backward"};
    EXPECT_EQ(comm.phases, want) << (watched ? "watched" : "control");
  }
}

TEST(ConvertSyncBatchNorm, SwapsSequentialSlotsAndRefusesMemberHeldLayers) {
  MpiCommunicator comm(test_env());
  BlockNet net(1);
  std::vector<std::string> keys_before;
  for (const auto& item : net->named_parameters()) keys_before.push_back(item.key());
  for (const auto& item : net->named_buffers()) keys_before.push_back(item.key());
  const auto running_var = net->block[1]->as<torch::nn::BatchNorm2dImpl>()->running_var.clone();

  EXPECT_EQ(convert_sync_batchnorm(*net, comm), std::vector<std::string>{"block.1"});
  auto* sbn = net->block[1]->as<SyncBatchNorm2dImpl>();
  ASSERT_NE(sbn, nullptr);
  EXPECT_TRUE(torch::equal(sbn->running_var, running_var));
  std::vector<std::string> keys_after;
  for (const auto& item : net->named_parameters()) keys_after.push_back(item.key());
  for (const auto& item : net->named_buffers()) keys_after.push_back(item.key());
  EXPECT_EQ(keys_before, keys_after);  // checkpoints stay interchangeable
  EXPECT_EQ(convert_sync_batchnorm(*net, comm).size(), 0u);

  MemberNet member;
  try {
    convert_sync_batchnorm(*member, comm);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("BatchNorm2d 'bn'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("sync_batchnorm_factory"), std::string::npos);
  }
  EXPECT_NE(member->named_children()["bn"]->as<torch::nn::BatchNorm2dImpl>(), nullptr);

  const auto factory = sync_batchnorm_factory(comm);
  auto any = factory(torch::nn::BatchNorm2dOptions(5).eps(1e-3));
  ASSERT_NE(any.ptr()->as<SyncBatchNorm2dImpl>(), nullptr);
  EXPECT_DOUBLE_EQ(any.ptr()->as<SyncBatchNorm2dImpl>()->options.eps(), 1e-3);
  EXPECT_EQ(any.forward(torch::randn({2, 5, 2, 2})).sizes(), (std::vector<int64_t>{2, 5, 2, 2}));
}

TEST(ConvertSyncBatchNorm, TrainingWithSyncBatchNormAndReducerMatchesOneBigBatch) {
  MpiCommunicator comm(test_env());
  const int n = comm.size();
  constexpr int kB = 3;
  const auto data = make_batches(3, n * kB, 17);
  BlockNet reference(2);
  {
    torch::optim::SGD sgd(reference->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    for (const auto& batch : data) {
      sgd.zero_grad();
      torch::mse_loss(reference->forward(batch.first), batch.second).backward();
      sgd.step();
    }
  }
  // SyncBatchNorm on the reducer's communicator, and on a communicator of its own.
  for (bool own_comm : {false, true}) {
    SCOPED_TRACE(own_comm ? "own communicator" : "shared communicator");
    std::unique_ptr<MpiCommunicator> bn_comm;
    if (own_comm) bn_comm = std::make_unique<MpiCommunicator>(test_env());
    BlockNet model(2);
    convert_sync_batchnorm(*model, own_comm ? *bn_comm : comm);
    train_data_parallel(model, comm, data, kB, 0.1);
    EXPECT_LT(max_param_diff(*model, *reference), 5e-5);  // parameters and running stats
  }
}

// A parameter only rank 0 uses delays the reducer's bucket launches on the other ranks, so the
// order of bucket allreduces relative to SyncBatchNorm's backward collectives differs between
// ranks. With SyncBatchNorm on its own communicator that is harmless: no hang, and the averaged
// gradients equal (1/N) d/dtheta of sum over ranks of the local losses, computed in one process.
TEST(ConvertSyncBatchNorm, RankDependentUnusedParameterWithSyncBatchNormOnItsOwnCommunicator) {
  MpiCommunicator comm(test_env());
  MpiCommunicator bn_comm(test_env());
  const int n = comm.size();
  const int r = comm.rank();
  constexpr int kB = 2;
  const auto data = make_batches(1, n * kB, 23);
  // Registered last, so first in the reducer's (reverse) order.
  auto gain = [](torch::nn::Module& m) { return m.named_parameters()["extra.gain"]; };
  auto build = [](BlockNet& net) {
    auto extra = std::make_shared<torch::nn::Module>();
    extra->register_parameter("gain", torch::full({2}, 0.75));
    net->register_module("extra", extra);
  };
  BlockNet reference(6);
  build(reference);
  BlockNet model(6);
  build(model);
  convert_sync_batchnorm(*model, bn_comm);
  ReducerOptions options;
  options.bucket_mb = 1.0 / 1024;
  options.first_bucket_mb = 8.0 / (1024 * 1024);  // gain alone in the first bucket
  GradReducer reducer(*model, comm, options);
  ASSERT_EQ(reducer.bucket_layout().front(), std::vector<std::string>{"extra.gain"});

  // Reference: batch norm over all ranks' rows; the loss of rank q's rows scaled by gain.sum()
  // only for q == 0.
  const auto out = reference->forward(data[0].first);
  torch::Tensor total = torch::zeros({});
  for (int q = 0; q < n; ++q) {
    auto o = out.narrow(0, q * kB, kB);
    if (q == 0) o = o * gain(*reference).sum();
    total = total + torch::mse_loss(o, data[0].second.narrow(0, q * kB, kB));
  }
  (total / n).backward();

  for (int step = 0; step < 2; ++step) {  // the second step runs on the rebuilt buckets
    reducer.zero_grad();
    auto o = model->forward(data[0].first.narrow(0, r * kB, kB));
    if (r == 0) o = o * gain(*model).sum();
    torch::mse_loss(o, data[0].second.narrow(0, r * kB, kB)).backward();
    reducer.finish();
    const auto expected = reference->named_parameters();
    for (const auto& item : model->named_parameters()) {
      EXPECT_LT(max_diff(item.value().grad(), expected[item.key()].grad()), 1e-5)
          << item.key() << " step " << step;
    }
  }
}

// The article's U-Net with dist.sync_batchnorm's wiring (trainer/session.cpp): norm layers from
// sync_batchnorm_factory on a duplicate communicator that the layers own, gradients averaged by
// GradReducer on the original. N ranks x batch B must train like one process with batch N*B.
TEST(SyncBatchNormModels, UNetWithSyncBatchNormMatchesOneBigBatch) {
  MpiCommunicator comm(test_env());
  prepare_cpu_backend(1);  // as tessera train does (a wrong oneDNN trains to NaN)
  const int n = comm.size();
  const int r = comm.rank();
  constexpr int kB = 2;
  const auto data = make_batches(3, n * kB, 41);
  UNetOptions o;
  o.in_channels = 3;
  o.out_channels = 3;
  o.filters = 4;
  o.depth = 1;  // 6x6 inputs: one pooling
  o.dropout = 0.0;
  torch::manual_seed(7);
  UNet reference(o);
  {
    torch::optim::SGD sgd(reference->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
    for (const auto& batch : data) {
      sgd.zero_grad();
      torch::mse_loss(reference->forward(batch.first), batch.second).backward();
      sgd.step();
    }
  }
  std::shared_ptr<Communicator> bn_comm = comm.duplicate();
  EXPECT_EQ(bn_comm->size(), n);
  EXPECT_EQ(bn_comm->rank(), r);
  o.norm = sync_batchnorm_factory(bn_comm);
  torch::manual_seed(7);
  UNet model(o);
  int64_t synced = 0;
  for (const auto& m : model->modules(/*include_self=*/false)) {
    if (dynamic_cast<const SyncBatchNorm2dImpl*>(m.get()) != nullptr) ++synced;
  }
  EXPECT_EQ(synced, 6);  // 2 per ConvBlock: encoder.0, bottleneck, decoder.0
  std::vector<std::string> ref_keys, keys;
  for (const auto& item : reference->named_parameters()) ref_keys.push_back(item.key());
  for (const auto& item : model->named_parameters()) keys.push_back(item.key());
  EXPECT_EQ(keys, ref_keys);  // checkpoints interchangeable with the plain model

  train_data_parallel(model, comm, data, kB, 0.05);
  EXPECT_LT(max_param_diff(*model, *reference), 5e-5);  // parameters and running stats
  if (n > 1) {
    // Plain (unsynchronised) batch norm would differ: per-rank statistics.
    o.norm = nullptr;
    torch::manual_seed(7);
    UNet local(o);
    train_data_parallel(local, comm, data, kB, 0.05);
    EXPECT_GT(max_param_diff(*local, *reference), 1e-3);
  }
}

}  // namespace
}  // namespace tessera
