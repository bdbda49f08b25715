// Sampler: which samples each rank reads, in which order, for every epoch. Pure arithmetic on
// sample indices (no I/O), identical on every rank, so ranks agree without communicating.
//
// Training (train = true), R ranks, per-rank batch size B, dataset of n samples:
//   global  The epoch order is a uniform random permutation P of 0..n-1 seeded by
//           (seed, epoch). Step s takes P[s*R*B, (s+1)*R*B); rank r gets the r-th B-slice.
//           Drop-last: floor(n / (R*B)) batches per epoch on every rank.
//   shards  The shard order is shuffled per epoch (seed, epoch); the concatenated samples of the
//           shards in that order are dealt to ranks in R contiguous, equal portions of
//           floor(n/R) samples (rank r reads only ~1/R of the shards, front to back), and each
//           rank mixes its portion through a shuffle buffer of `shuffle_buffer` samples seeded by
//           (seed, epoch, rank). Drop-last: floor(floor(n/R) / B) batches on every rank (the
//           same number as global).
// Evaluation (train = false): no shuffling; rank r gets the contiguous slice
//   [r*n/R, (r+1)*n/R) in batches of B with a smaller final batch; no sample is repeated or
//   dropped. Batch counts may differ by one between ranks: reduce eval metrics once at the end.
//
// Cursor semantics (SamplerCursor, stored by checkpoints): `position` counts samples of the
// epoch's global order consumed by all ranks together, i.e. the cursor is identical on every
// rank and after k training steps position = k*R*B. Restoring with the same R, B (and buffer)
// continues exactly where the run stopped: the same remaining batches, in the same order, on the
// same ranks. Restoring with a different rank count, batch size or buffer re-partitions the
// samples NOT yet consumed in this epoch over the new ranks (global: the tail P[position..];
// shards: the not-yet-emitted samples of the same shard order), recorded as a new `segment` in
// the cursor so a later restore can replay the history exactly. No sample is seen twice in an
// epoch and none is lost except by drop-last.
// Memory: global O(n) indices (8 bytes/sample); shards O(#shards + shuffle_buffer), plus an
// n-bit map while replaying a rank-count change.
// Thread safety: none; the loader drives one Sampler from one thread at a time.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tessera {

enum class ShuffleMode { global, shards };
ShuffleMode parse_shuffle_mode(const std::string& s);  // throws naming data.shuffle
std::string to_string(ShuffleMode mode);

struct CursorSegment {
  int64_t start = 0;  // global position at which this partition began
  int ranks = 1;
  int batch_size = 1;
  int64_t shuffle_buffer = 0;  // shards mode only (0 in global mode)
  bool operator==(const CursorSegment& o) const {
    return start == o.start && ranks == o.ranks && batch_size == o.batch_size &&
           shuffle_buffer == o.shuffle_buffer;
  }
};

struct SamplerCursor {
  int64_t epoch = 0;
  int64_t position = 0;                 // samples of the epoch's global order consumed (all ranks)
  std::string mode = "global";          // shuffle mode that produced it
  int64_t dataset_size = 0;             // 0 = not checked on restore
  std::vector<CursorSegment> segments;  // partitions used in this epoch (empty = one, current)
  bool operator==(const SamplerCursor& o) const {
    return epoch == o.epoch && position == o.position && mode == o.mode &&
           dataset_size == o.dataset_size && segments == o.segments;
  }
};

nlohmann::json cursor_to_json(const SamplerCursor& c);
SamplerCursor cursor_from_json(const nlohmann::json& j);  // throws naming the bad key

struct SamplerOptions {
  std::vector<int64_t> shard_sizes;  // samples per shard, in dataset order (sum = n)
  int rank = 0, size = 1;
  int batch_size = 1;
  uint64_t seed = 0;
  bool train = true;
  ShuffleMode mode = ShuffleMode::global;
  int64_t shuffle_buffer = 1024;
};

class Sampler {
 public:
  explicit Sampler(const SamplerOptions& options);
  ~Sampler();
  Sampler(Sampler&&) noexcept;
  Sampler& operator=(Sampler&&) noexcept;

  void start_epoch(int64_t epoch);       // fresh epoch, position 0
  void restore(const SamplerCursor& c);  // resume c.epoch at c.position (training only)
  // This rank's next batch of global sample indices; false at the end of its epoch share.
  bool next_batch(std::vector<int64_t>& out);
  SamplerCursor cursor() const;  // after the last batch returned by next_batch()

  int64_t batches_per_epoch() const;  // for a fresh epoch, this rank (train: same on all ranks)
  int64_t batches_remaining() const;  // in the current epoch, this rank
  int64_t epoch() const;
  int64_t dataset_size() const;
  const SamplerOptions& options() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace tessera
