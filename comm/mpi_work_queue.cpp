#include "comm/mpi_work_queue.h"

#include <spdlog/spdlog.h>

#include "common/error.h"

namespace tessera {

void WorkState::finish(std::exception_ptr error) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
    error_ = std::move(error);
  }
  cv_.notify_all();
}

void WorkState::wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [this] { return done_; });
  if (error_) std::rethrow_exception(error_);
}

bool WorkState::done() {
  std::lock_guard<std::mutex> lock(mutex_);
  return done_;
}

QueuedWork::~QueuedWork() {
  try {
    state_->wait();
  } catch (const std::exception& e) {
    spdlog::error("asynchronous collective failed and its Work was destroyed without wait(): {}",
                  e.what());
  }
}

MpiWorkQueue::MpiWorkQueue() : thread_([this] { run(); }) {}

MpiWorkQueue::~MpiWorkQueue() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  has_work_.notify_all();
  thread_.join();
}

std::shared_ptr<WorkState> MpiWorkQueue::submit(std::string what, std::function<void()> task) {
  auto state = std::make_shared<WorkState>();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    TESSERA_CHECK(!stopping_, "collective `{}` submitted to a communicator being destroyed", what);
    queue_.push_back(Item{std::move(what), std::move(task), state});
  }
  has_work_.notify_one();
  return state;
}

std::string MpiWorkQueue::drain() {
  std::unique_lock<std::mutex> lock(mutex_);
  idle_.wait(lock, [this] { return queue_.empty() && !busy_; });
  return first_failure_;
}

void MpiWorkQueue::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    has_work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping and drained
    Item item = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    std::string failed_before = first_failure_;
    lock.unlock();

    std::exception_ptr error;
    if (!failed_before.empty()) {
      try {
        TESSERA_THROW("collective `{}` not run: an earlier collective on this communicator "
                      "failed ({}), so ranks may disagree on the order of collectives",
                      item.what, failed_before);
      } catch (...) {
        error = std::current_exception();
      }
    } else {
      try {
        item.task();
      } catch (const std::exception& e) {
        error = std::current_exception();
        failed_before = fmt::format("`{}`: {}", item.what, e.what());
      } catch (...) {
        error = std::current_exception();
        failed_before = fmt::format("`{}`: unknown exception", item.what);
      }
    }
    item.state->finish(error);

    lock.lock();
    if (error && first_failure_.empty()) first_failure_ = failed_before;
    busy_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
}

}  // namespace tessera
