// RunDirLock: one writer per run directory. `tessera train` (rank 0) holds it for the whole run,
// and CheckpointStore::save() takes it on its first save if nobody in this process holds it, so
// two jobs started on one run directory cannot interleave checkpoints, delete each other's
// in-flight `.tmp-*` directory or rewrite each other's metrics.jsonl.
//
// The lock is flock(LOCK_EX | LOCK_NB) on `<run_dir>/.tessera-lock`, which holds the holder's
// "host <name> pid <pid> since <UTC time>" line. The kernel releases it when the holder exits in
// any way (kill -9 included), so a crashed run never leaves a stale lock. Another process that
// asks for it gets a tessera::Error naming the run directory and the holder's host and pid. On
// NFS (v4, or v3 with lockd) flock is a POSIX lock visible from every client; on a file system
// without locks the lock is skipped with a warning.
// Within one process the lock is shared: constructing RunDirLock again for the same directory
// (by canonical path) succeeds and the lock is released when the last holder goes.
// Thread-safe (the in-process registry has a mutex).
#pragma once

#include <memory>
#include <string>

namespace tessera::checkpoints {

inline constexpr const char* kRunDirLockName = ".tessera-lock";

class RunDirLock {
 public:
  // Creates run_dir if needed and takes its lock; enabled=false holds nothing (e.g. the ranks
  // other than 0: `RunDirLock lock(run_dir, rank == 0);`). Throws tessera::Error when another
  // process holds it.
  explicit RunDirLock(const std::string& run_dir, bool enabled = true);
  ~RunDirLock();
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;

  bool held() const { return state_ != nullptr; }
  // "<run_dir>/.tessera-lock" (empty when not held).
  std::string path() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace tessera::checkpoints
