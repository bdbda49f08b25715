// MpiWorkQueue: the MPI backend's communication thread. Tasks (closures that call MPI) run on
// one dedicated thread strictly in submission order; since every rank submits the same
// collectives in the same order, the collectives match across ranks. The submitter gets a
// WorkState to wait on; an exception thrown by a task is stored there and rethrown by wait().
//
// After a task failed, the queue is "poisoned": the order of collectives across ranks can no
// longer be trusted, so every later task fails at once with an error naming the first failure.
//
// Threads: submit() and drain() may be called from any thread (the Communicator contract allows
// one user thread at a time); WorkState::wait()/done() from any thread. The destructor drains
// the queue and joins the thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "comm/communicator.h"

namespace tessera {

class WorkState {
 public:
  void finish(std::exception_ptr error);
  void wait();  // blocks until finished; rethrows the task's error
  bool done();

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::exception_ptr error_;
};

// Work handle over a WorkState. The destructor waits (errors are then only logged: a destructor
// must not throw; call wait() to see them).
class QueuedWork : public Work {
 public:
  explicit QueuedWork(std::shared_ptr<WorkState> state) : state_(std::move(state)) {}
  ~QueuedWork() override;
  void wait() override { state_->wait(); }
  bool done() override { return state_->done(); }

 private:
  std::shared_ptr<WorkState> state_;
};

class MpiWorkQueue {
 public:
  MpiWorkQueue();
  ~MpiWorkQueue();
  MpiWorkQueue(const MpiWorkQueue&) = delete;
  MpiWorkQueue& operator=(const MpiWorkQueue&) = delete;

  // Queues `task` (with a description for error messages, e.g. "allreduce(float32[1024], sum)").
  std::shared_ptr<WorkState> submit(std::string what, std::function<void()> task);
  // Blocks until every task submitted so far has finished. Does not throw: errors belong to the
  // tasks' WorkStates. Returns the first failure's description ("" when none).
  std::string drain();

 private:
  struct Item {
    std::string what;
    std::function<void()> task;
    std::shared_ptr<WorkState> state;
  };
  void run();

  std::mutex mutex_;
  std::condition_variable has_work_;
  std::condition_variable idle_;
  std::deque<Item> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::string first_failure_;
  std::thread thread_;  // last member: started after the others exist
};

}  // namespace tessera
