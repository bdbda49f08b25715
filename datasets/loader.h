// Loader: the prefetching data loader the trainer pulls batches from.
//
// One Loader per (rank, split). It opens the dataset with DatasetReader (all up-front checks:
// missing directory, shard shapes/dtypes, sizes, checksums when the dataset is at most
// kFullVerifyBytes, labels range when recorded) and validates the data config against the data
// (crop size vs image size, super-resolution scale) in the constructor, so bad data fails
// before training starts. The Sampler decides which samples this rank gets (see sampler.h for
// the partition and cursor semantics).
//
// data.loader_threads background threads read (short HDF5 calls), decode, augment and assemble
// batches into a bounded queue: at most data.prefetch_batches batches exist beyond the one last
// returned (being built or ready), so memory is bounded by the config and independent of the
// dataset size. loader_threads = 0 loads synchronously inside next(). Batch contents and order
// are deterministic and identical for any thread count: the sampler assigns batches in order,
// augmentations are seeded by (seed, epoch, sample index), and batches are handed out in
// sequence. An error in a worker (corrupt chunk, label out of range, ...) is rethrown by next()
// in batch order, naming the file and sample; the loader stays failed afterwards.
//
// Training (opt.train): data.image_size crops with the configured augmentations (crop off: the
// stored images must already be data.image_size); evaluation: full images, no augmentation.
// Thread safety: a Loader is used by one thread (the trainer); it owns its worker threads.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "datasets/dataset_reader.h"
#include "datasets/sampler.h"
#include "datasets/shard_format.h"

namespace tessera {

// Datasets up to this size get a full CRC32C verification when a Loader opens them; larger
// ones only a size check (use inspect_dataset(dir, true) / `tessera inspect`).
inline constexpr int64_t kFullVerifyBytes = int64_t{1} << 30;

// The reader options a Loader opens its dataset with (the corruption sweep tests exactly these).
inline ReaderOptions reader_options_for_training() {
  ReaderOptions ro;
  ro.verify = VerifyMode::full;
  ro.full_verify_limit = kFullVerifyBytes;
  ro.probe_unverified = true;
  return ro;
}

struct Batch {
  torch::Tensor inputs;          // N,C,h,w float32 in [0,1] (super-resolution: low-res)
  torch::Tensor targets;         // labels: N,H,W int64 ; images: N,C,H,W float32 in [0,1]
  torch::Tensor labels;          // N int64 image-level labels (empty if dataset has none)
  std::vector<int64_t> indices;  // global sample indices
};

struct LoaderOptions {
  int rank = 0, size = 1;
  uint64_t seed = 0;
  bool train = true;
  int scale = 1;  // task.scale; checked against super-resolution datasets (input = target/scale)
  // Segmentation only (classes > 0): the dataset's classes must equal task.classes, and a
  // dataset with ignored pixels (manifest targets.ignore_index) needs loss.ignore_index equal to
  // it, or those pixels would be trained on as a class. 0 = not checked.
  int classes = 0;
  int ignore_index = -1;  // loss.ignore_index
};

class Loader {
 public:
  Loader(const DataConfig& cfg, const std::string& dir, const LoaderOptions& opt);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  void start_epoch(int64_t epoch);  // begins (or resumes, after restore) an epoch
  std::optional<Batch> next();      // nullopt at end of this rank's epoch share
  SamplerCursor cursor() const;     // position after the last batch RETURNED (not prefetched)
  // Takes effect at the next start_epoch(c.epoch) (a different epoch starts fresh).
  void restore(const SamplerCursor& c);

  int64_t batches_per_epoch() const;
  const DatasetInfo& info() const;
  int64_t size() const;
  double wait_seconds() const;  // time next() spent blocked (data-wait fraction)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera
