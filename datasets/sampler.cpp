#include "datasets/sampler.h"

#include <algorithm>
#include <numeric>
#include <optional>

#include "common/error.h"
#include "datasets/random.h"

namespace tessera {

namespace {

// Walks the samples of the epoch's shard order (shards mode), skipping consumed ones.
class ShardWalker {
 public:
  ShardWalker(const std::vector<int>& order, const std::vector<int64_t>& sizes,
              const std::vector<int64_t>& offsets, const std::vector<bool>* consumed)
      : order_(order), sizes_(sizes), offsets_(offsets), consumed_(consumed) {}

  bool next(int64_t& out) {
    for (;;) {
      while (shard_ < order_.size() && local_ >= sizes_[static_cast<size_t>(order_[shard_])]) {
        ++shard_;
        local_ = 0;
      }
      if (shard_ >= order_.size()) return false;
      int64_t idx = offsets_[static_cast<size_t>(order_[shard_])] + local_++;
      if (consumed_ && (*consumed_)[static_cast<size_t>(idx)]) continue;
      out = idx;
      return true;
    }
  }
  // Skips k not-consumed samples.
  void skip(int64_t k) {
    if (!consumed_) {  // arithmetic fast path
      while (k > 0 && shard_ < order_.size()) {
        int64_t left = sizes_[static_cast<size_t>(order_[shard_])] - local_;
        if (k < left) {
          local_ += k;
          return;
        }
        k -= left;
        ++shard_;
        local_ = 0;
      }
      return;
    }
    int64_t dummy;
    while (k-- > 0 && next(dummy)) {
    }
  }

 private:
  const std::vector<int>& order_;
  const std::vector<int64_t>& sizes_;
  const std::vector<int64_t>& offsets_;
  const std::vector<bool>* consumed_;
  size_t shard_ = 0;
  int64_t local_ = 0;
};

// One rank's portion of a shards-mode segment, mixed through a bounded shuffle buffer.
class BufferedStream {
 public:
  BufferedStream(ShardWalker walker, int64_t portion, int64_t capacity, uint64_t seed)
      : walker_(std::move(walker)), left_(portion), cap_(capacity), rng_(seed) {}
  bool next(int64_t& out) {
    int64_t x;
    while (static_cast<int64_t>(buf_.size()) < cap_ && left_ > 0 && walker_.next(x)) {
      buf_.push_back(x);
      --left_;
    }
    if (buf_.empty()) return false;
    size_t j = static_cast<size_t>(rng_.uniform(buf_.size()));
    out = buf_[j];
    buf_[j] = buf_.back();
    buf_.pop_back();
    return true;
  }

 private:
  ShardWalker walker_;
  int64_t left_;
  int64_t cap_;
  Rng rng_;
  std::vector<int64_t> buf_;
};

}  // namespace

struct Sampler::State {
  SamplerOptions opt;
  int64_t n = 0;
  std::vector<int64_t> offsets;  // first global index of each shard

  int64_t epoch = 0;
  int64_t position = 0;
  std::vector<CursorSegment> segments;

  // Current segment (training).
  int64_t steps_total = 0;
  int64_t step = 0;
  std::vector<int64_t> perm;  // global mode: the epoch's permutation
  int64_t perm_epoch = -1;
  std::vector<int> shard_order;  // shards mode
  std::vector<bool> consumed;    // shards mode, after a re-partition
  std::optional<BufferedStream> stream;

  // Evaluation.
  int64_t eval_lo = 0, eval_hi = 0, eval_cur = 0;

  int R() const { return opt.size; }
  int B() const { return opt.batch_size; }

  CursorSegment current_config(int64_t start) const {
    return {start, opt.size, opt.batch_size,
            opt.mode == ShuffleMode::shards ? opt.shuffle_buffer : 0};
  }

  void make_order() {
    if (opt.mode == ShuffleMode::global) {
      if (perm_epoch != epoch) {
        Rng rng(mix_seed({opt.seed, static_cast<uint64_t>(epoch), 0x676c6f62ull}));
        perm = random_permutation(n, rng);
        perm_epoch = epoch;
      }
    } else {
      Rng rng(mix_seed({opt.seed, static_cast<uint64_t>(epoch), 0x73686172ull}));
      auto p = random_permutation(static_cast<int64_t>(opt.shard_sizes.size()), rng);
      shard_order.assign(p.begin(), p.end());
    }
  }

  BufferedStream make_stream(size_t seg_index, const CursorSegment& seg, int rank,
                             const std::vector<bool>* used) const {
    int64_t m = n - seg.start;  // samples not consumed before this segment
    int64_t q = m / seg.ranks;
    ShardWalker w(shard_order, opt.shard_sizes, offsets, used);
    w.skip(static_cast<int64_t>(rank) * q);
    uint64_t seed = mix_seed({opt.seed, static_cast<uint64_t>(epoch), seg_index,
                              static_cast<uint64_t>(rank), 0x62756666ull});
    return BufferedStream(std::move(w), q, seg.shuffle_buffer, seed);
  }

  // Shards mode: marks the samples consumed by segments [0, upto) (they end where the next
  // begins).
  void replay(size_t upto) {
    consumed.assign(static_cast<size_t>(n), false);
    for (size_t k = 0; k < upto; ++k) {
      const CursorSegment& seg = segments[k];
      int64_t steps = (segments[k + 1].start - seg.start) / (int64_t{seg.ranks} * seg.batch_size);
      std::vector<int64_t> taken;
      for (int r = 0; r < seg.ranks; ++r) {
        BufferedStream s = make_stream(k, seg, r, k == 0 ? nullptr : &consumed);
        int64_t x;
        for (int64_t i = 0; i < steps * seg.batch_size && s.next(x); ++i) taken.push_back(x);
      }
      for (int64_t x : taken) consumed[static_cast<size_t>(x)] = true;
    }
  }

  // Sets up the last segment, already `skip_steps` steps into it.
  void begin_segment(int64_t skip_steps) {
    const CursorSegment& seg = segments.back();
    int64_t m = n - seg.start;
    steps_total = (m / seg.ranks) / seg.batch_size;
    step = std::min(skip_steps, steps_total);
    make_order();
    if (opt.mode == ShuffleMode::shards) {
      size_t k = segments.size() - 1;
      if (k > 0) {
        replay(k);
      } else {
        consumed.clear();
      }
      stream.emplace(make_stream(k, seg, opt.rank, k == 0 ? nullptr : &consumed));
      int64_t x;
      for (int64_t i = 0; i < step * B(); ++i) stream->next(x);
    }
    position = seg.start + step * int64_t{R()} * B();
  }
};

Sampler::Sampler(const SamplerOptions& options) : s_(std::make_unique<State>()) {
  const SamplerOptions& o = options;
  TESSERA_CHECK(!o.shard_sizes.empty(), "Sampler: the dataset has no shards");
  TESSERA_CHECK(o.size >= 1 && o.rank >= 0 && o.rank < o.size, "Sampler: rank {} of {} is invalid",
                o.rank, o.size);
  TESSERA_CHECK(o.batch_size >= 1, "Sampler: data.batch_size must be >= 1, not {}", o.batch_size);
  TESSERA_CHECK(o.shuffle_buffer >= 1, "Sampler: data.shuffle_buffer must be >= 1, not {}",
                o.shuffle_buffer);
  s_->opt = o;
  for (auto sz : o.shard_sizes) {
    TESSERA_CHECK(sz > 0, "Sampler: empty shard (0 samples)");
    s_->offsets.push_back(s_->n);
    s_->n += sz;
  }
  if (o.train) {
    TESSERA_CHECK(s_->n >= int64_t{o.size} * o.batch_size,
                  "training set has {} samples, fewer than one global batch ({} ranks x "
                  "data.batch_size {} = {}): every epoch would be empty",
                  s_->n, o.size, o.batch_size, int64_t{o.size} * o.batch_size);
  }
  start_epoch(0);
}

Sampler::~Sampler() = default;
Sampler::Sampler(Sampler&&) noexcept = default;
Sampler& Sampler::operator=(Sampler&&) noexcept = default;

void Sampler::start_epoch(int64_t epoch) {
  State& s = *s_;
  TESSERA_CHECK(epoch >= 0, "Sampler: epoch {} must be >= 0", epoch);
  s.epoch = epoch;
  if (!s.opt.train) {
    s.eval_lo = s.opt.rank * s.n / s.opt.size;
    s.eval_hi = (s.opt.rank + 1) * s.n / s.opt.size;
    s.eval_cur = s.eval_lo;
    s.position = 0;
    return;
  }
  s.segments = {s.current_config(0)};
  s.begin_segment(0);
}

void Sampler::restore(const SamplerCursor& c) {
  State& s = *s_;
  TESSERA_CHECK(s.opt.train, "Sampler::restore: evaluation samplers are not resumable");
  TESSERA_CHECK(c.epoch >= 0, "sampler cursor: epoch {} must be >= 0", c.epoch);
  TESSERA_CHECK(c.position >= 0 && c.position <= s.n,
                "sampler cursor: position {} is outside the epoch (dataset has {} samples)",
                c.position, s.n);
  TESSERA_CHECK(c.dataset_size == 0 || c.dataset_size == s.n,
                "sampler cursor was written for a dataset of {} samples, this one has {}: the "
                "training data changed since the checkpoint",
                c.dataset_size, s.n);
  if (c.position == 0) {  // at an epoch boundary any configuration may resume
    start_epoch(c.epoch);
    return;
  }
  TESSERA_CHECK(c.mode == to_string(s.opt.mode),
                "sampler cursor was written with data.shuffle={} and cannot resume the middle of "
                "epoch {} with data.shuffle={}",
                c.mode, c.epoch, to_string(s.opt.mode));
  std::vector<CursorSegment> segs = c.segments;
  if (segs.empty()) {
    TESSERA_CHECK(s.opt.mode == ShuffleMode::global,
                  "sampler cursor has no segment history, required to resume shards mode "
                  "mid-epoch");
    segs = {s.current_config(0)};
    segs[0].batch_size = 1;  // position alone defines the remaining tail of the permutation
    segs[0].ranks = 1;
  }
  TESSERA_CHECK(segs.front().start == 0, "sampler cursor: first segment must start at 0");
  for (size_t k = 0; k < segs.size(); ++k) {
    const auto& g = segs[k];
    TESSERA_CHECK(g.ranks >= 1 && g.batch_size >= 1,
                  "sampler cursor: segment {} has ranks {} and batch_size {}", k, g.ranks,
                  g.batch_size);
    TESSERA_CHECK(s.opt.mode == ShuffleMode::global || g.shuffle_buffer >= 1,
                  "sampler cursor: segment {} lacks its shuffle_buffer", k);
    int64_t end = k + 1 < segs.size() ? segs[k + 1].start : c.position;
    int64_t span = int64_t{g.ranks} * g.batch_size;
    TESSERA_CHECK(end >= g.start && (end - g.start) % span == 0 &&
                      (end - g.start) / span <= ((s.n - g.start) / g.ranks) / g.batch_size,
                  "sampler cursor: position {} is not a whole number of steps of segment {} "
                  "(start {}, {} ranks x batch {})",
                  end, k, g.start, g.ranks, g.batch_size);
  }
  s.epoch = c.epoch;
  s.segments = segs;
  CursorSegment now = s.current_config(c.position);
  CursorSegment last = s.segments.back();
  bool same = last.ranks == now.ranks && last.batch_size == now.batch_size &&
              last.shuffle_buffer == now.shuffle_buffer;
  if (same) {
    s.begin_segment((c.position - last.start) / (int64_t{now.ranks} * now.batch_size));
  } else {
    s.segments.push_back(now);  // re-partition the not-yet-consumed samples
    s.begin_segment(0);
  }
}

bool Sampler::next_batch(std::vector<int64_t>& out) {
  State& s = *s_;
  out.clear();
  if (!s.opt.train) {
    if (s.eval_cur >= s.eval_hi) return false;
    int64_t end = std::min(s.eval_hi, s.eval_cur + s.B());
    for (int64_t i = s.eval_cur; i < end; ++i) out.push_back(i);
    s.position += end - s.eval_cur;
    s.eval_cur = end;
    return true;
  }
  if (s.step >= s.steps_total) return false;
  const CursorSegment& seg = s.segments.back();
  if (s.opt.mode == ShuffleMode::global) {
    int64_t base = seg.start + s.step * int64_t{s.R()} * s.B() + int64_t{s.opt.rank} * s.B();
    out.assign(s.perm.begin() + base, s.perm.begin() + base + s.B());
  } else {
    int64_t x;
    for (int i = 0; i < s.B(); ++i) {
      bool ok = s.stream->next(x);
      TESSERA_CHECK(ok, "Sampler: internal error: shard stream ended early");
      out.push_back(x);
    }
  }
  ++s.step;
  s.position = seg.start + s.step * int64_t{s.R()} * s.B();
  return true;
}

SamplerCursor Sampler::cursor() const {
  SamplerCursor c;
  c.epoch = s_->epoch;
  c.position = s_->position;
  c.mode = to_string(s_->opt.mode);
  c.dataset_size = s_->n;
  c.segments = s_->segments;
  return c;
}

int64_t Sampler::batches_per_epoch() const {
  const State& s = *s_;
  if (s.opt.train) return (s.n / s.R()) / s.B();
  int64_t lo = s.opt.rank * s.n / s.R(), hi = (s.opt.rank + 1) * s.n / s.R();
  return (hi - lo + s.B() - 1) / s.B();
}

int64_t Sampler::batches_remaining() const {
  const State& s = *s_;
  if (s.opt.train) return s.steps_total - s.step;
  return (s.eval_hi - s.eval_cur + s.B() - 1) / s.B();
}

int64_t Sampler::epoch() const {
  return s_->epoch;
}
int64_t Sampler::dataset_size() const {
  return s_->n;
}
const SamplerOptions& Sampler::options() const {
  return s_->opt;
}

}  // namespace tessera
