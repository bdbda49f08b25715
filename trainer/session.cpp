#include "trainer/session.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "checkpoints/checkpoint_store.h"
#include "checkpoints/state_io.h"
#include "comm/sync_batchnorm.h"
#include "common/error.h"
#include "datasets/degradation.h"
#include "datasets/manifest.h"

namespace tessera {
namespace fs = std::filesystem;

torch::Device select_device(const Config& cfg, const Communicator& comm) {
  if (cfg.train.device == "cpu") return torch::Device(torch::kCPU);
  TESSERA_CHECK(cfg.train.device == "cuda", "train.device: unknown device '{}': expected cpu or cuda",
                cfg.train.device);
  TESSERA_CHECK(torch::cuda::is_available(),
                "train.device is 'cuda' but this LibTorch build has no CUDA or no GPU is visible "
                "(rebuild against a CUDA LibTorch via CMAKE_PREFIX_PATH, or set train.device: cpu)");
  const int64_t gpus = static_cast<int64_t>(torch::cuda::device_count());
  TESSERA_CHECK(comm.local_rank() < gpus,
                "rank {} is local rank {} on its host, but the host has only {} GPU(s): start at "
                "most one rank per GPU",
                comm.rank(), comm.local_rank(), gpus);
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(comm.local_rank()));
}

LoaderOptions loader_options(const Config& cfg, int rank, int size, bool train) {
  LoaderOptions o;
  o.rank = rank;
  o.size = size;
  o.seed = cfg.experiment.seed;
  o.train = train;
  o.scale = cfg.task.kind == TaskKind::super_resolution ? cfg.task.scale : 1;
  if (cfg.task.kind == TaskKind::segmentation) {
    o.classes = cfg.task.classes;
    o.ignore_index = cfg.loss.ignore_index;
  }
  return o;
}

void check_run_degradations(const Config& cfg, const DatasetInfo& train, const DatasetInfo* val) {
  if (cfg.task.kind != TaskKind::super_resolution) return;
  const std::string train_name = fmt::format("data.train ({})", cfg.data.train);
  if (val != nullptr) {
    check_same_degradation(train, train_name, *val, fmt::format("data.val ({})", cfg.data.val));
  }
  std::error_code ec;
  const fs::path test_manifest = fs::path(cfg.data.test) / kManifestName;
  if (!cfg.data.test.empty() && fs::exists(test_manifest, ec)) {
    check_same_degradation(train, train_name, read_manifest_file(test_manifest.string()).info,
                           fmt::format("data.test ({})", cfg.data.test));
  }
}

void to_channels_last(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  int n = 0;
  for (auto& t : model.parameters()) {
    if (t.dim() != 4) continue;
    t.set_data(t.data().contiguous(torch::MemoryFormat::ChannelsLast));
    ++n;
  }
  for (auto& t : model.buffers()) {
    if (t.dim() != 4) continue;
    t.set_data(t.data().contiguous(torch::MemoryFormat::ChannelsLast));
    ++n;
  }
  spdlog::debug("train.channels_last: {} 4-D tensor(s) in the channels-last layout", n);
}

torch::Tensor to_memory_format(const torch::Tensor& x, bool channels_last) {
  if (!channels_last || x.dim() != 4) return x;
  return x.contiguous(torch::MemoryFormat::ChannelsLast);
}

std::shared_ptr<ImageModelImpl> build_model(const Config& cfg, Communicator& comm) {
  if (!(cfg.dist.sync_batchnorm && comm.size() > 1)) return make_model(cfg);
  // SyncBatchNorm gets a communicator of its own (comm/sync_batchnorm.h explains why sharing
  // GradReducer's can mismatch collectives); the layers own it, so it ends with the model.
  std::shared_ptr<Communicator> bn_comm = comm.duplicate();
  auto model = make_model(cfg, sync_batchnorm_factory(bn_comm));
  int64_t layers = 0;
  for (const auto& m : model->modules(/*include_self=*/false)) {
    if (dynamic_cast<const SyncBatchNorm2dImpl*>(m.get()) != nullptr) ++layers;
  }
  spdlog::info("dist.sync_batchnorm: {} batch-norm layers synchronised across {} ranks ({})",
               layers, comm.size(), bn_comm->backend());
  return model;
}

std::string load_weights(const Config& cfg, const std::string& which, torch::nn::Module& model) {
  checkpoints::CheckpointStore store(cfg.run_dir(), cfg.checkpoint.keep_last, cfg.checkpoint.keep_best,
                        cfg.checkpoint.mode);
  checkpoints::CheckpointData data = store.load(which);
  checkpoints::module_from_bytes(model, data.file("model.pt"), data.dir + "/model.pt");
  return data.dir;
}

}  // namespace tessera
