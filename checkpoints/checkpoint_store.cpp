#include "checkpoints/checkpoint_store.h"

#include "checkpoints/file_io.h"
#include "checkpoints/store_internal.h"
#include "checkpoints/sha256.h"
#include "common/error.h"

#include <spdlog/spdlog.h>
#include <tessera/version.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <set>
#include <tuple>
#include <system_error>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera::checkpoints {
using namespace detail;
namespace {

// Removes a directory on scope exit unless released (a failed save must not leave its tmp dir).
class DirGuard {
 public:
  explicit DirGuard(std::string dir) : dir_(std::move(dir)) {}
  ~DirGuard() {
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }
  DirGuard(const DirGuard&) = delete;
  DirGuard& operator=(const DirGuard&) = delete;
  void release() { dir_.clear(); }

 private:
  std::string dir_;
};

std::pair<std::string, double> now_utc() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  const double unix_s = std::chrono::duration<double>(now.time_since_epoch()).count();
  return {buf, unix_s};
}

}  // namespace

CheckpointStore::CheckpointStore(std::string run_dir, int keep_last, int keep_best,
                                 std::string mode)
    : run_dir_(std::move(run_dir)),
      keep_last_(keep_last),
      keep_best_(keep_best),
      mode_(std::move(mode)) {
  TESSERA_CHECK(!run_dir_.empty(), "checkpoint store: the run directory is empty");
  TESSERA_CHECK(keep_last_ >= 0, "checkpoint.keep_last must be >= 0 (0 = keep all), got {}",
                keep_last_);
  TESSERA_CHECK(keep_best_ >= 0, "checkpoint.keep_best must be >= 0, got {}", keep_best_);
  TESSERA_CHECK(mode_ == "max" || mode_ == "min",
                "checkpoint.mode must be 'max' or 'min', got '{}'", mode_);
  ckpt_dir_ = join(run_dir_, "checkpoints");
}

void CheckpointStore::phase(const char* name) const {
  spdlog::trace("checkpoint save: {}", name);
  if (hook_) hook_(name);
}

bool CheckpointStore::better(double a, double b) const { return mode_ == "max" ? a > b : a < b; }

std::string CheckpointStore::save(const CheckpointData& d, std::optional<double> metric) {
  TESSERA_CHECK(d.step >= 0, "cannot save a checkpoint: step must be >= 0, got {}", d.step);
  TESSERA_CHECK(d.epoch >= 0, "cannot save checkpoint step {}: epoch must be >= 0, got {}", d.step,
                d.epoch);
  TESSERA_CHECK(d.world_size >= 1, "cannot save checkpoint step {}: world_size must be >= 1, got {}",
                d.step, d.world_size);
  TESSERA_CHECK(d.meta_extra.is_object() || d.meta_extra.is_null(),
                "cannot save checkpoint step {}: meta_extra must be a JSON object, got {}", d.step,
                d.meta_extra.type_name());
  for (const auto& [name, bytes] : d.files) {
    TESSERA_CHECK(is_valid_file_name(name),
                  "cannot save checkpoint step {}: invalid file name '{}' (expected letters, "
                  "digits, '.', '_', '-', starting with a letter or digit; not {})",
                  d.step, name, kMetaFileName);
  }
  const auto start = std::chrono::steady_clock::now();
  // One writer per run directory: before anything in it is touched (leftovers included).
  if (!lock_) lock_ = std::make_shared<RunDirLock>(run_dir_);
  phase("begin");
  const bool existed = fs::is_directory(ckpt_dir_);
  make_dirs(ckpt_dir_);
  if (!existed) fsync_dir(run_dir_);
  remove_leftovers();

  const std::string name = step_dir_name(d.step);
  const std::string tmp = join(ckpt_dir_, kTmpPrefix + name + "-" + std::to_string(::getpid()));
  remove_tree(tmp);
  make_dirs(tmp);
  DirGuard guard(tmp);
  phase("tmp_created");

  CheckpointMeta meta;
  meta.step = d.step;
  meta.epoch = d.epoch;
  meta.world_size = d.world_size;
  meta.tessera_version = TESSERA_VERSION;
  std::tie(meta.created, meta.created_unix) = now_utc();
  if (metric && std::isfinite(*metric)) meta.metric = metric;
  meta.extra = d.meta_extra.is_null() ? nlohmann::json::object() : d.meta_extra;
  std::uint64_t total_bytes = 0;
  for (const auto& [file_name, bytes] : d.files) {
    write_file_durable(join(tmp, file_name), bytes);
    meta.files[file_name] = FileRecord{bytes.size(), sha256_hex(bytes)};
    total_bytes += bytes.size();
    phase("file_written");
  }
  // meta.json last: a directory with a complete meta.json has all its files complete.
  write_file_durable(join(tmp, kMetaFileName), meta_to_json(meta).dump(2) + "\n");
  phase("meta_written");
  fsync_dir(tmp);
  phase("tmp_synced");

  publish_dir(tmp, name);
  guard.release();
  write_pointer("latest", name);
  phase("latest_updated");
  update_best();
  apply_retention();
  phase("done");
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::debug("checkpoint {} saved ({} files, {:.1f} MB, {:.2f} s)", join(ckpt_dir_, name),
                d.files.size(), static_cast<double>(total_bytes) / 1e6, secs);
  return join(ckpt_dir_, name);
}

std::string CheckpointStore::record_metric(std::int64_t step, double metric) {
  const std::string dir = join(ckpt_dir_, step_dir_name(step));
  if (!std::isfinite(metric)) return dir;  // as in save(): a non-finite metric is none
  if (!lock_) lock_ = std::make_shared<RunDirLock>(run_dir_);
  CheckpointMeta meta = read_meta(dir);  // verifies meta.json's own checksum
  meta.metric = metric;
  write_file_atomic(join(dir, kMetaFileName), meta_to_json(meta).dump(2) + "\n");
  phase("meta_written");
  update_best();
  apply_retention();
  phase("done");
  return dir;
}

void CheckpointStore::publish_dir(const std::string& tmp, const std::string& name) {
  const std::string final_dir = join(ckpt_dir_, name);
  std::error_code ec;
  if (!fs::exists(final_dir, ec)) {
    rename_path(tmp, final_dir);
    fsync_dir(ckpt_dir_);
    phase("published");
    return;
  }
  // Replacing a published checkpoint of the same step (a run resumed from an older one).
  if (use_exchange_ && try_exchange_paths(tmp, final_dir)) {
    // One atomic swap: final_dir never stops being a complete checkpoint. tmp now holds the old
    // one; the caller's guard or the next save removes it.
    fsync_dir(ckpt_dir_);
    phase("published");
    remove_tree(tmp);
    return;
  }
  // No RENAME_EXCHANGE: first point latest/best elsewhere, so that during the short window in
  // which final_dir is missing they name a complete checkpoint.
  std::optional<std::string> other;
  for (const std::string& dir : list()) {
    const std::string n = fs::path(dir).filename().string();
    if (n != name) other = n;
  }
  for (const char* p : {"latest", "best"}) {
    std::optional<std::string> target;
    try {
      target = read_pointer_name(p);
    } catch (const Error&) {
    }
    if (target == name && other) write_pointer(p, *other);
  }
  const std::string old = join(ckpt_dir_, kOldPrefix + name + "-" + std::to_string(::getpid()));
  remove_tree(old);
  rename_path(final_dir, old);
  phase("old_moved_aside");
  rename_path(tmp, final_dir);
  fsync_dir(ckpt_dir_);
  phase("published");
  remove_tree(old);
}

std::optional<std::string> CheckpointStore::read_pointer_name(const std::string& pointer_name) const {
  return read_pointer_file(join(ckpt_dir_, pointer_name));
}

void CheckpointStore::write_pointer(const std::string& pointer_name, const std::string& target) {
  const std::string path = join(ckpt_dir_, pointer_name);
  const std::string tmp = path + ".tmp";
  write_file_durable(tmp, pointer_file_text(target), /*replace_existing=*/true);
  phase("pointer_tmp_written");
  rename_path(tmp, path);
  fsync_dir(ckpt_dir_);
}

std::optional<std::string> CheckpointStore::pointer(const std::string& name) const {
  TESSERA_CHECK(name == "latest" || name == "best",
                "unknown checkpoint pointer '{}' (expected 'latest' or 'best')", name);
  const auto target = read_pointer_name(name);
  if (!target) return std::nullopt;
  return join(ckpt_dir_, *target);
}

std::vector<std::string> CheckpointStore::list() const {
  std::vector<std::pair<std::int64_t, std::string>> found;
  std::error_code ec;
  if (!fs::is_directory(ckpt_dir_, ec)) return {};
  for (const auto& entry : fs::directory_iterator(ckpt_dir_, ec)) {
    const std::string n = entry.path().filename().string();
    const auto step = parse_step_dir_name(n);
    std::error_code ec2;
    if (step && entry.is_directory(ec2)) found.emplace_back(*step, entry.path().string());
  }
  TESSERA_CHECK(!ec, "cannot list {}: {}", ckpt_dir_, ec.message());
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  out.reserve(found.size());
  for (auto& [step, path] : found) out.push_back(std::move(path));
  return out;
}

std::string CheckpointStore::resolve(const std::string& which) const {
  if (which == "latest" || which == "best") {
    const auto target = read_pointer_name(which);
    TESSERA_CHECK(target.has_value(),
                  "no '{}' checkpoint in {}: the pointer file {} does not exist (nothing {} yet)",
                  which, run_dir_, join(ckpt_dir_, which),
                  which == "best" ? "saved with a metric" : "saved");
    return join(ckpt_dir_, *target);
  }
  std::error_code ec;
  TESSERA_CHECK(fs::exists(which, ec),
                "checkpoint '{}' does not exist (expected 'latest', 'best', a step directory, a "
                "checkpoints directory or a run directory)",
                which);
  TESSERA_CHECK(fs::is_directory(which, ec),
                "checkpoint '{}' is a file; expected a step directory (with {}), a checkpoints "
                "directory or a run directory",
                which, kMetaFileName);
  if (fs::is_directory(join(which, "checkpoints"), ec)) {
    return CheckpointStore(which).resolve("latest");
  }
  if (fs::exists(join(which, "latest"), ec) && !fs::exists(join(which, kMetaFileName), ec)) {
    // A checkpoints directory: its latest.
    return join(which, *read_pointer_file(join(which, "latest")));
  }
  return which;
}

CheckpointData CheckpointStore::load(const std::string& which) const {
  return load_checkpoint_dir(resolve(which));
}

std::optional<CheckpointData> CheckpointStore::load_auto() const {
  std::vector<std::string> candidates = list();
  std::reverse(candidates.begin(), candidates.end());  // newest first
  // Last resort: a checkpoint moved aside by a replacement that crashed before publishing its
  // successor (fallback path only; the next save() puts it back).
  std::vector<std::pair<std::int64_t, std::string>> aside;
  std::error_code ec;
  if (fs::is_directory(ckpt_dir_, ec)) {
    for (const auto& entry : fs::directory_iterator(ckpt_dir_, ec)) {
      const auto original = aside_original(entry.path().filename().string(), kOldPrefix);
      if (original) aside.emplace_back(*parse_step_dir_name(*original), entry.path().string());
    }
  }
  std::sort(aside.rbegin(), aside.rend());
  for (const auto& [step, dir] : aside) candidates.push_back(dir);

  std::vector<std::string> skipped;
  for (const std::string& dir : candidates) {
    try {
      CheckpointData d = load_checkpoint_dir(dir);
      if (!skipped.empty()) {
        spdlog::warn("resuming from {} (step {}), the newest valid checkpoint; {} newer invalid "
                     "checkpoint(s) skipped",
                     dir, d.step, skipped.size());
      }
      return d;
    } catch (const Error& e) {
      spdlog::warn("--resume auto: skipping invalid checkpoint: {}", e.message());
      skipped.push_back(dir);
    }
  }
  TESSERA_CHECK(skipped.empty(),
                "--resume auto: none of the {} checkpoints in {} verifies (see the warnings "
                "above); refusing to restart from scratch over them. Resume from an explicit "
                "path, or move the checkpoints directory away to start over",
                skipped.size(), ckpt_dir_);
  return std::nullopt;
}

}  // namespace tessera::checkpoints
