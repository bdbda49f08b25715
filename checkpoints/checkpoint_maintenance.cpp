// CheckpointStore's housekeeping: choosing `best`, retention, and removing what crashed writers
// left behind. Declared in checkpoint_store.h; see docs/checkpoint-format.md for the rules.
#include "checkpoints/checkpoint_store.h"

#include "checkpoints/file_io.h"
#include "checkpoints/store_internal.h"
#include "common/error.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <system_error>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera::checkpoints {
using namespace detail;
namespace {

// A published checkpoint as seen by best/retention: its metric, when meta.json is readable.
struct Published {
  std::string name;
  std::int64_t step = 0;
  std::optional<double> metric;
};

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
    if (const auto original = aside_original(n, kOldPrefix)) {
      // A replaced checkpoint moved aside by a writer that crashed before publishing its
      // successor: put it back if its name is free, else it is obsolete.
      if (!fs::exists(join(ckpt_dir_, *original), ec)) {
        spdlog::warn("restoring checkpoint {} moved aside by an interrupted save", *original);
        rename_path(path.string(), join(ckpt_dir_, *original));
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

}  // namespace tessera::checkpoints
