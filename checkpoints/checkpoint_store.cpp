#include "checkpoints/checkpoint_store.h"

#include "checkpoints/file_io.h"
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
namespace {

constexpr const char* kTmpPrefix = ".tmp-";
constexpr const char* kTrashPrefix = ".trash-";
constexpr const char* kOldPrefix = ".old-";

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::string join(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

// A published checkpoint as seen by best/retention: its metric, when meta.json is readable.
struct Published {
  std::string name;
  std::int64_t step = 0;
  std::optional<double> metric;
};

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

// The step directory name a pointer file (`latest`, `best`) holds; nullopt if there is no file.
std::optional<std::string> read_pointer_file(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  std::string text = read_file(path);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  TESSERA_CHECK(parse_step_dir_name(text).has_value(),
                "checkpoint pointer {} is corrupt: it contains '{}', expected a step directory "
                "name like step-0000200",
                path, text.substr(0, 64));
  return text;
}

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
  write_file_durable(tmp, target + "\n", /*replace_existing=*/true);
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

namespace {

std::vector<Published> scan_published(const std::vector<std::string>& dirs) {
  std::vector<Published> out;
  for (const std::string& dir : dirs) {
    Published p;
    p.name = fs::path(dir).filename().string();
    p.step = parse_step_dir_name(p.name).value_or(0);
    try {
      p.metric = read_meta(dir).metric;
    } catch (const Error& e) {
      spdlog::debug("checkpoint {}: no readable metric ({})", dir, e.message());
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

void CheckpointStore::update_best() {
  // `best` names the checkpoint with the best metric among those present; ties keep the older.
  const std::vector<Published> all = scan_published(list());
  const Published* best = nullptr;
  for (const Published& p : all) {
    if (p.metric && (!best || better(*p.metric, *best->metric))) best = &p;
  }
  if (!best) return;
  std::optional<std::string> current;
  try {
    current = read_pointer_name("best");
  } catch (const Error& e) {
    spdlog::warn("{}; rewriting it", e.message());
  }
  if (current == best->name) return;
  write_pointer("best", best->name);
  phase("best_updated");
}

void CheckpointStore::apply_retention() {
  if (keep_last_ == 0) return;
  std::vector<Published> all = scan_published(list());  // oldest first
  std::set<std::string> keep;
  for (std::size_t i = all.size() > static_cast<std::size_t>(keep_last_)
                           ? all.size() - static_cast<std::size_t>(keep_last_)
                           : 0;
       i < all.size(); ++i) {
    keep.insert(all[i].name);
  }
  std::vector<const Published*> ranked;
  for (const Published& p : all) {
    if (p.metric) ranked.push_back(&p);
  }
  std::stable_sort(ranked.begin(), ranked.end(), [this](const Published* a, const Published* b) {
    return better(*a->metric, *b->metric);
  });
  for (std::size_t i = 0; i < ranked.size() && i < static_cast<std::size_t>(keep_best_); ++i) {
    keep.insert(ranked[i]->name);
  }
  for (const char* p : {"latest", "best"}) {
    try {
      if (const auto target = read_pointer_name(p)) keep.insert(*target);
    } catch (const Error& e) {
      // A corrupt pointer protects nothing; deleting by the other rules is still safe because
      // latest (written by this save) was readable a moment ago.
      spdlog::warn("{}", e.message());
    }
  }
  std::vector<std::string> trash;
  for (const Published& p : all) {
    if (keep.count(p.name)) continue;
    const std::string t = join(ckpt_dir_, kTrashPrefix + p.name + "-" + std::to_string(::getpid()));
    try {
      rename_path(join(ckpt_dir_, p.name), t);
      trash.push_back(t);
    } catch (const Error& e) {
      spdlog::warn("checkpoint retention: cannot remove old checkpoint ({}); keeping it",
                   e.message());
    }
  }
  if (trash.empty()) return;
  try {
    fsync_dir(ckpt_dir_);
  } catch (const Error& e) {
    spdlog::warn("checkpoint retention: {}", e.message());
  }
  phase("retention_renamed");
  for (const std::string& t : trash) {
    try {
      remove_tree(t);
    } catch (const Error& e) {
      spdlog::warn("checkpoint retention: {} (the next save retries)", e.message());
    }
  }
}

void CheckpointStore::remove_leftovers() const {
  std::error_code ec;
  std::vector<fs::path> entries;
  for (const auto& entry : fs::directory_iterator(ckpt_dir_, ec)) entries.push_back(entry.path());
  TESSERA_CHECK(!ec, "cannot list {}: {}", ckpt_dir_, ec.message());
  for (const fs::path& path : entries) {
    const std::string n = path.filename().string();
    if (starts_with(n, kOldPrefix)) {
      // A replaced checkpoint moved aside by a writer that crashed before publishing its
      // successor: put it back if its name is free, else it is obsolete.
      const std::string rest = n.substr(std::string(kOldPrefix).size());
      const std::string original = rest.substr(0, rest.rfind('-'));
      if (parse_step_dir_name(original) && !fs::exists(join(ckpt_dir_, original), ec)) {
        spdlog::warn("restoring checkpoint {} moved aside by an interrupted save", original);
        rename_path(path.string(), join(ckpt_dir_, original));
        fsync_dir(ckpt_dir_);
        continue;
      }
    }
    if (starts_with(n, kTmpPrefix) || starts_with(n, kTrashPrefix) || starts_with(n, kOldPrefix) ||
        n == "latest.tmp" || n == "best.tmp") {
      spdlog::debug("removing leftover {} of an interrupted checkpoint save", path.string());
      remove_tree(path.string());
    }
  }
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
      const std::string n = entry.path().filename().string();
      if (!starts_with(n, kOldPrefix)) continue;
      const std::string rest = n.substr(std::string(kOldPrefix).size());
      if (const auto step = parse_step_dir_name(rest.substr(0, rest.rfind('-')))) {
        aside.emplace_back(*step, entry.path().string());
      }
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
