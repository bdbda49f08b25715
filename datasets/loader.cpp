#include "datasets/loader.h"

#include <chrono>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "common/error.h"
#include "common/log.h"
#include "datasets/augment.h"
#include "datasets/dataset_reader.h"

namespace tessera {

namespace {

struct Job {
  int64_t seq = 0;
  std::vector<int64_t> indices;
  SamplerCursor cursor;  // sampler position once this batch is consumed
};

struct Slot {
  std::optional<Batch> batch;
  std::exception_ptr error;
  SamplerCursor cursor;
};

}  // namespace

struct Loader::Impl {
  DataConfig cfg;
  LoaderOptions opt;
  std::string dir;
  std::unique_ptr<DatasetReader> reader;
  std::optional<Sampler> sampler;
  AugmentGeometry geo;
  int scale = 1;
  int64_t epoch = -1;
  bool started = false;

  SamplerCursor cursor;
  std::optional<SamplerCursor> pending_restore;
  double wait_s = 0.0;
  RawSample sync_raw;  // loader_threads = 0

  // Pipeline (guarded by mu).
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::thread> workers;
  bool stop = false;
  bool exhausted = false;  // the sampler has no more batches this epoch
  int64_t produced = 0, delivered = 0;
  std::map<int64_t, Slot> ready;
  std::exception_ptr failed;  // sticky: the loader stays failed after an error

  Batch build(const std::vector<int64_t>& indices, RawSample& raw) const {
    const DatasetInfo& i = reader->info();
    const int64_t n = static_cast<int64_t>(indices.size());
    const int oh = opt.train ? geo.out_h : i.height, ow = opt.train ? geo.out_w : i.width;
    const bool labels_kind = i.target_kind == "labels";
    Batch b;
    b.indices = indices;
    b.inputs = torch::empty({n, i.in_channels, oh / scale, ow / scale}, torch::kFloat32);
    if (labels_kind) {
      b.targets = torch::empty({n, oh, ow}, torch::kInt64);
    } else {
      b.targets = torch::empty({n, i.target_channels, oh, ow}, torch::kFloat32);
    }
    if (i.has_labels) b.labels = torch::empty({n}, torch::kInt64);
    const bool t_float = i.target_dtype == "float32";
    const int64_t in_numel = int64_t{i.in_channels} * (oh / scale) * (ow / scale);
    const int64_t t_numel = (labels_kind ? 1 : i.target_channels) * int64_t{oh} * ow;
    for (int64_t k = 0; k < n; ++k) {
      const int64_t idx = indices[static_cast<size_t>(k)];
      try {
        reader->read(idx, raw);
        AugmentParams p = opt.train ? draw_augment(cfg.augment, geo, opt.seed, epoch, idx)
                                    : identity_augment(geo);
        float* in_dst = b.inputs.data_ptr<float>() + k * in_numel;
        warp_to_chw(raw.input.data(), i.input_dtype, i.in_channels, i.input_height, i.input_width,
                    p, scale, false, in_dst);
        color_jitter_chw(in_dst, i.in_channels, oh / scale, ow / scale, p);
        if (labels_kind) {
          warp_labels(raw.target.data(), i.height, i.width, p,
                      b.targets.data_ptr<int64_t>() + k * t_numel);
        } else {
          float* t_dst = b.targets.data_ptr<float>() + k * t_numel;
          warp_to_chw(raw.target.data(), t_float, i.target_channels, i.height, i.width, p, 1, false,
                      t_float ? 1.0f : 1.0f / 255.0f, t_dst);
          color_jitter_chw(t_dst, i.target_channels, oh, ow, p);
        }
        if (i.has_labels) b.labels.data_ptr<int64_t>()[k] = raw.label;
      } catch (const std::exception& e) {
        TESSERA_THROW("data loader (rank {}, epoch {}): loading {}: {}", opt.rank, epoch,
                      reader->sample_name(idx), e.what());
      }
    }
    return b;
  }

  void worker_loop() {
    RawSample raw;
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock,
                [&] { return stop || exhausted || produced - delivered < cfg.prefetch_batches; });
        if (stop || exhausted) return;
        job.seq = produced;
        std::vector<int64_t> idx;
        bool more = false;
        try {
          more = sampler->next_batch(idx);
        } catch (...) {
          ready[job.seq].error = std::current_exception();
          ++produced;
          exhausted = true;
          cv.notify_all();
          return;
        }
        if (!more) {
          exhausted = true;
          cv.notify_all();
          return;
        }
        job.indices = std::move(idx);
        job.cursor = sampler->cursor();
        ++produced;
      }
      Slot slot;
      slot.cursor = job.cursor;
      try {
        slot.batch = build(job.indices, raw);
      } catch (...) {
        slot.error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        ready[job.seq] = std::move(slot);
      }
      cv.notify_all();
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
    stop = false;
    exhausted = false;
    produced = delivered = 0;
    ready.clear();
  }
};

Loader::Loader(const DataConfig& cfg, const std::string& dir, const LoaderOptions& opt)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.cfg = cfg;
  m.opt = opt;
  m.dir = dir;
  TESSERA_CHECK(!dir.empty(), "data loader: no dataset directory given (data.train/val/test)");
  TESSERA_CHECK(cfg.batch_size >= 1, "data.batch_size must be >= 1, not {}", cfg.batch_size);
  TESSERA_CHECK(cfg.loader_threads >= 0, "data.loader_threads must be >= 0, not {}",
                cfg.loader_threads);
  TESSERA_CHECK(cfg.prefetch_batches >= 1, "data.prefetch_batches must be >= 1, not {}",
                cfg.prefetch_batches);
  ShuffleMode mode = parse_shuffle_mode(cfg.shuffle);

  m.reader = std::make_unique<DatasetReader>(dir, reader_options_for_training());
  const DatasetInfo& i = m.reader->info();

  if (opt.classes > 0 && i.target_kind == "labels") {
    TESSERA_CHECK(i.classes == opt.classes,
                  "dataset {} has classes {} but the config's task.classes is {}: set "
                  "task.classes: {} (and the model's output channels follow it)",
                  dir, i.classes, opt.classes, i.classes);
    TESSERA_CHECK(i.ignore_index < 0 || i.ignore_index == opt.ignore_index,
                  "dataset {} marks ignored pixels with label {} (manifest targets.ignore_index) "
                  "but the config's loss.ignore_index is {}: set loss.ignore_index: {} so that "
                  "they are left out of the loss and the metrics",
                  dir, i.ignore_index, opt.ignore_index, i.ignore_index);
  }
  TESSERA_CHECK(!opt.train || cfg.augment.color_jitter == 0.0f || i.in_channels == 1 ||
                    i.in_channels == 3,
                "dataset {} has {} input channels; data.augment.color_jitter ({}) is defined for "
                "grey and RGB images only (brightness, contrast and hue of multispectral bands "
                "would change what the bands measure): set data.augment.color_jitter: 0",
                dir, i.in_channels, cfg.augment.color_jitter);
  m.scale = i.height / i.input_height;
  if (i.task == "super_resolution") {
    TESSERA_CHECK(opt.scale == m.scale,
                  "dataset {} is super-resolution x{} (targets {}x{}, inputs {}x{}) but "
                  "task.scale is {}",
                  dir, m.scale, i.height, i.width, i.input_height, i.input_width, opt.scale);
  }
  m.geo.height = i.height;
  m.geo.width = i.width;
  m.geo.scale = m.scale;
  if (opt.train) {
    const int s = cfg.image_size;
    if (cfg.augment.crop) {
      TESSERA_CHECK(s >= 1 && s <= i.height && s <= i.width,
                    "data.image_size {} does not fit the images of {} ({}x{}): random crops need "
                    "data.image_size <= {}",
                    s, dir, i.height, i.width, std::min(i.height, i.width));
      TESSERA_CHECK(s % m.scale == 0,
                    "data.image_size {} must be a multiple of the super-resolution scale {} ({})",
                    s, m.scale, dir);
      m.geo.out_h = m.geo.out_w = s;
    } else {
      TESSERA_CHECK(i.height == s && i.width == s,
                    "data.augment.crop is off, so the images of {} ({}x{}) must already be "
                    "data.image_size ({}x{})",
                    dir, i.height, i.width, s, s);
      m.geo.out_h = i.height;
      m.geo.out_w = i.width;
    }
  } else {
    m.geo.out_h = i.height;
    m.geo.out_w = i.width;
  }

  SamplerOptions so;
  for (const auto& s : m.reader->manifest().shards) so.shard_sizes.push_back(s.samples);
  so.rank = opt.rank;
  so.size = opt.size;
  so.batch_size = cfg.batch_size;
  so.seed = opt.seed;
  so.train = opt.train;
  so.mode = mode;
  so.shuffle_buffer = cfg.shuffle_buffer;
  try {
    m.sampler.emplace(so);
  } catch (const Error& e) {
    TESSERA_THROW("dataset {}: {}", dir, e.message());
  }
  m.cursor = m.sampler->cursor();
}

Loader::~Loader() {
  if (impl_) impl_->stop_workers();
}

void Loader::start_epoch(int64_t epoch) {
  Impl& m = *impl_;
  m.stop_workers();
  m.failed = nullptr;
  if (m.pending_restore && m.pending_restore->epoch == epoch) {
    m.sampler->restore(*m.pending_restore);
  } else {
    if (m.pending_restore) {
      spdlog::warn("data loader ({}): restored cursor is for epoch {}, starting epoch {} fresh",
                   m.dir, m.pending_restore->epoch, epoch);
    }
    m.sampler->start_epoch(epoch);
  }
  m.pending_restore.reset();
  m.epoch = epoch;
  m.started = true;
  m.cursor = m.sampler->cursor();
  for (int t = 0; t < m.cfg.loader_threads; ++t) {
    m.workers.emplace_back([&m] { m.worker_loop(); });
  }
  spdlog::debug("data loader {}: epoch {}, {} worker thread(s), up to {} batch(es) prefetched",
                m.dir, epoch, m.cfg.loader_threads, m.cfg.prefetch_batches);
}

std::optional<Batch> Loader::next() {
  Impl& m = *impl_;
  TESSERA_CHECK(m.started, "data loader ({}): call start_epoch() before next()", m.dir);
  if (m.failed) std::rethrow_exception(m.failed);
  auto t0 = std::chrono::steady_clock::now();
  auto account = [&] {
    m.wait_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  if (m.cfg.loader_threads == 0) {
    std::vector<int64_t> idx;
    if (!m.sampler->next_batch(idx)) {
      account();
      return std::nullopt;
    }
    try {
      Batch b = m.build(idx, m.sync_raw);
      m.cursor = m.sampler->cursor();
      account();
      return b;
    } catch (...) {
      m.failed = std::current_exception();
      throw;
    }
  }
  Slot slot;
  {
    std::unique_lock<std::mutex> lock(m.mu);
    m.cv.wait(lock, [&] {
      return m.ready.count(m.delivered) > 0 || (m.exhausted && m.delivered >= m.produced);
    });
    auto it = m.ready.find(m.delivered);
    if (it == m.ready.end()) {
      account();
      return std::nullopt;
    }
    slot = std::move(it->second);
    m.ready.erase(it);
    ++m.delivered;
  }
  m.cv.notify_all();
  account();
  if (slot.error) {
    m.failed = slot.error;
    std::rethrow_exception(slot.error);
  }
  m.cursor = slot.cursor;
  return std::move(slot.batch);
}

SamplerCursor Loader::cursor() const {
  return impl_->cursor;
}

void Loader::restore(const SamplerCursor& c) {
  TESSERA_CHECK(impl_->opt.train, "data loader ({}): only training loaders can be restored",
                impl_->dir);
  impl_->pending_restore = c;
}

int64_t Loader::batches_per_epoch() const {
  return impl_->sampler->batches_per_epoch();
}
const DatasetInfo& Loader::info() const {
  return impl_->reader->info();
}
int64_t Loader::size() const {
  return impl_->reader->size();
}
double Loader::wait_seconds() const {
  return impl_->wait_s;
}

}  // namespace tessera
