// AsyncSaver: checkpoints written off the training thread (`checkpoint.async`).
//
// The training thread hands over a checkpoint that is already in memory (CheckpointData: every
// file's bytes, serialised from the model and optimizer by the caller) and returns to training;
// one background thread then runs CheckpointStore::save on it: SHA-256 of every file, write and
// fsync into a temporary directory, the atomic publish, the `latest`/`best` pointers and
// retention. The crash-safety of the store is unchanged, because the same code runs: a kill -9
// at any moment of a background write leaves the previously published checkpoint and `latest`
// intact (docs/checkpoint-format.md).
//
// Ordering: at most one job is in flight. save() and record_metric() first wait for the
// previous job (so checkpoints publish in step order and the memory held is one checkpoint),
// then start theirs. wait() waits for the job in flight: the trainer calls it before a stop,
// at the end of training and before anything that must see the checkpoint published.
//
// Errors: a job that fails (disk full, a removed directory, a lock held by another process)
// keeps its tessera::Error; the next call of save(), record_metric(), wait() or check()
// rethrows it on the caller's thread, so the training thread ends with the store's message.
// check() is cheap (no waiting) and is meant to be called once per training step.
//
// Ownership/threads: borrows the store, which must outlive the saver; while a job is in flight
// the store belongs to the background thread and the caller must not use it directly (call
// wait() first). All public members are for one caller thread. The destructor waits for the
// job in flight (a checkpoint that was handed over is published, or fails, before the process
// goes on); an error nobody collected is logged, never thrown.
#pragma once

#include "checkpoints/checkpoint_store.h"

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <thread>

namespace tessera::checkpoints {

class AsyncSaver {
 public:
  explicit AsyncSaver(CheckpointStore& store) : store_(store) {}
  ~AsyncSaver();
  AsyncSaver(const AsyncSaver&) = delete;
  AsyncSaver& operator=(const AsyncSaver&) = delete;

  // Waits for the previous job (rethrowing its error), then saves `data` in the background.
  void save(CheckpointData data, std::optional<double> metric);
  // Waits for the previous job (rethrowing its error), then records `metric` for the published
  // checkpoint of `step` in the background (CheckpointStore::record_metric).
  void record_metric(std::int64_t step, double metric);
  // Waits for the job in flight, rethrows its error; returns the directory the newest finished
  // job published ("" when none has).
  std::string wait();
  // Rethrows the error of a job that has already failed; never waits.
  void check();

  // The step of the job in flight, or -1 when none is. For test hooks running inside the job.
  std::int64_t step_in_flight() const { return in_flight_step_.load(); }

 private:
  void start(std::int64_t step, std::function<std::string()> job);
  void join();  // joins the thread of the previous job, if any

  CheckpointStore& store_;
  std::thread thread_;
  std::atomic<std::int64_t> in_flight_step_{-1};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;  // written by the job before failed_ is set; read after join
  std::string published_;     // written by the job; read after join
};

}  // namespace tessera::checkpoints
