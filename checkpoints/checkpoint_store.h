// CheckpointStore: the checkpoints of one run directory, `<run_dir>/checkpoints/`.
//
// save() writes a checkpoint with the write-then-publish protocol of docs/checkpoint-format.md:
// all files and meta.json into `.tmp-step-NNNNNNN-<pid>/`, each fsynced, then one rename()
// publishes `step-NNNNNNN/`, then the `latest` pointer (and `best`, when the metric improves) is
// replaced atomically, then retention removes old checkpoints. A crash (kill -9) at any moment
// leaves the previously published checkpoint intact and `latest` naming a complete checkpoint.
// Leftovers of crashed writers (.tmp-*, .trash-*, .old-*) are removed by the next save().
//
// load() verifies meta.json and every file's size and SHA-256 and refuses an invalid checkpoint
// with an error naming the directory, the file and the mismatch. load_auto() is `--resume auto`:
// the newest checkpoint that verifies, with a warning for each newer invalid one skipped.
//
// One writer per run directory is enforced: the first save() takes the run directory's
// RunDirLock (run_dir_lock.h) unless this process already holds it, and keeps it for the life of
// the store; a save while another process holds it throws, naming that process's host and pid.
// Ownership/threads: one writer per run directory (rank 0, one thread); not thread-safe. Any
// number of readers may load concurrently with a writer: they only ever see published
// checkpoints (a reader racing with retention may see a checkpoint disappear).
// Errors: tessera::Error. Failing to delete an old checkpoint during retention is only logged.
#pragma once

#include "checkpoints/checkpoint_format.h"
#include "checkpoints/run_dir_lock.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tessera::checkpoints {

// The protocol steps of save(), in order, as reported to the phase hook. "file_written" is
// reported once per file; "pointer_tmp_written" once per pointer replaced (latest, then best);
// "old_moved_aside" only when replacing an existing step directory on a file system without
// renameat2(RENAME_EXCHANGE); "best_updated" only when `best` changes; "retention_renamed" only
// when retention removes something.
inline constexpr const char* kSavePhases[] = {
    "begin",           "tmp_created",         "file_written",   "meta_written",
    "tmp_synced",      "old_moved_aside",     "published",      "pointer_tmp_written",
    "latest_updated",  "best_updated",        "retention_renamed", "done"};

class CheckpointStore {
 public:
  // keep_last: newest checkpoints kept (0 = keep every checkpoint, no retention).
  // keep_best: best-metric checkpoints kept in addition (the one `best` names is always kept).
  // mode: "max" or "min", the direction in which the metric improves.
  CheckpointStore(std::string run_dir, int keep_last = 0, int keep_best = 0,
                  std::string mode = "max");

  // Writes and publishes `d` as step-<d.step> (replacing an existing one of the same step) and
  // returns the published directory. `metric` (non-finite = none) is recorded in meta.json and
  // decides the `best` pointer.
  std::string save(const CheckpointData& d, std::optional<double> metric = std::nullopt);

  // Records `metric` (finite) in the meta.json of the already published checkpoint of `step`
  // (meta.json replaced atomically, its checksum renewed; the other files are not rewritten),
  // then updates `best` and retention as save() does. For a best candidate whose step was just
  // saved: the final validation after a periodic save must not write the checkpoint twice.
  std::string record_metric(std::int64_t step, double metric);

  // Loads and verifies: "latest" | "best" (this run's pointers) | a path to a step directory |
  // a run directory (its latest) | a checkpoints directory (its latest).
  CheckpointData load(const std::string& which) const;

  // `--resume auto`: the newest (highest step) checkpoint that verifies; logs a warning naming
  // each newer one skipped and why. nullopt when no checkpoint was ever published (fresh run).
  // Throws when checkpoints exist but none verifies (never silently restarts from scratch).
  std::optional<CheckpointData> load_auto() const;

  // Published step directories (full paths), oldest (lowest step) first.
  std::vector<std::string> list() const;

  // Resolves `which` as load() does to a step directory path, without verifying it.
  std::string resolve(const std::string& which) const;

  // The step directory a pointer ("latest" or "best") names, or nullopt when it does not exist.
  std::optional<std::string> pointer(const std::string& name) const;

  const std::string& run_dir() const { return run_dir_; }
  const std::string& checkpoints_dir() const { return ckpt_dir_; }

  // Test seam for crash-safety tests: called at each protocol step of save() with the step's
  // name (see kSavePhases in checkpoint_store.cpp and docs/checkpoint-format.md).
  void set_phase_hook(std::function<void(const char* phase)> hook) { hook_ = std::move(hook); }
  // Test seam: pretend the file system lacks renameat2(RENAME_EXCHANGE) (the fallback path).
  void set_rename_exchange(bool enabled) { use_exchange_ = enabled; }

 private:
  void phase(const char* name) const;
  void remove_leftovers() const;
  void publish_dir(const std::string& tmp, const std::string& name);
  std::optional<std::string> read_pointer_name(const std::string& pointer_name) const;
  void write_pointer(const std::string& pointer_name, const std::string& target);
  void update_best();
  void apply_retention();
  bool better(double a, double b) const;

  std::string run_dir_;
  std::string ckpt_dir_;
  int keep_last_;
  int keep_best_;
  std::string mode_;
  std::function<void(const char*)> hook_;
  bool use_exchange_ = true;
  std::shared_ptr<RunDirLock> lock_;  // taken by the first save()
};

}  // namespace tessera::checkpoints
