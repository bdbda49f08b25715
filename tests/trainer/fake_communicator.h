// In-process Communicator for tests: N "ranks" are N threads of one process sharing a
// ThreadGroup. Host-buffer allreduce (sum/avg/max/min, summed in rank order, so results are
// identical on every rank), allgather_bytes, broadcast_bytes and barrier are implemented; tensor
// collectives are not needed by the metrics and throw. With a ThreadGroup of size 1 this is the
// single-rank fake. Every rank must call the same collectives in the same order (as with MPI);
// a missing rank blocks the others, so tests join their threads under a gtest timeout.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "common/error.h"

namespace tessera::testing {

class ThreadGroup {
 public:
  explicit ThreadGroup(int size) : size_(size), slots_(size) {}
  int size() const { return size_; }

  // Every rank deposits `mine`; returns all ranks' deposits in rank order once all arrived.
  std::vector<std::string> exchange(int rank, std::string mine) {
    std::unique_lock<std::mutex> lock(mutex_);
    const uint64_t generation = generation_;
    slots_[rank] = std::move(mine);
    if (++arrived_ == size_) {
      results_ = slots_;
      arrived_ = 0;
      ++generation_;
      ++collectives_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != generation; });
    }
    return results_;  // stays valid until every rank has arrived at the next exchange
  }
  // Number of completed collectives (all kinds), for "one allreduce" checks.
  uint64_t collectives() {
    std::lock_guard<std::mutex> lock(mutex_);
    return collectives_;
  }

 private:
  int size_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> slots_, results_;
  int arrived_ = 0;
  uint64_t generation_ = 0, collectives_ = 0;
};

class FakeCommunicator : public Communicator {
 public:
  FakeCommunicator(ThreadGroup& group, int rank) : group_(group), rank_(rank) {}

  int rank() const override { return rank_; }
  int size() const override { return group_.size(); }
  int local_rank() const override { return rank_; }
  int local_size() const override { return group_.size(); }
  std::string backend() const override { return "fake"; }

  void allreduce(torch::Tensor&, ReduceOp) override { unsupported("allreduce(tensor)"); }
  std::unique_ptr<Work> allreduce_async(torch::Tensor, ReduceOp) override {
    unsupported("allreduce_async");
    return nullptr;
  }
  void broadcast(torch::Tensor&, int) override { unsupported("broadcast(tensor)"); }
  torch::Tensor allgather(const torch::Tensor&) override {
    unsupported("allgather(tensor)");
    return {};
  }

  void allreduce(double* data, size_t n, ReduceOp op) override { reduce(data, n, op); }
  void allreduce(int64_t* data, size_t n, ReduceOp op) override { reduce(data, n, op); }
  void broadcast_bytes(std::string& bytes, int root) override {
    bytes = group_.exchange(rank_, bytes)[root];
  }
  std::vector<std::string> allgather_bytes(const std::string& mine) override {
    ++allgathers;
    return group_.exchange(rank_, mine);
  }
  void barrier() override { group_.exchange(rank_, {}); }
  [[noreturn]] void abort(int code, const std::string& why) override {
    TESSERA_THROW("FakeCommunicator::abort({}): {}", code, why);
  }

  int allreduces_int64 = 0, allreduces_double = 0, allgathers = 0;

 private:
  [[noreturn]] static void unsupported(const char* what) {
    TESSERA_THROW("FakeCommunicator: {} is not implemented (metrics do not use it)", what);
  }

  template <typename T>
  void reduce(T* data, size_t n, ReduceOp op) {
    if constexpr (std::is_same_v<T, double>)
      ++allreduces_double;
    else
      ++allreduces_int64;
    std::string mine(reinterpret_cast<const char*>(data), n * sizeof(T));
    const std::vector<std::string> all = group_.exchange(rank_, std::move(mine));
    for (size_t i = 0; i < n; ++i) {
      T acc{};
      for (size_t r = 0; r < all.size(); ++r) {
        TESSERA_CHECK(all[r].size() == n * sizeof(T),
                      "FakeCommunicator: rank {} reduced {} "
                      "bytes, rank {} {}",
                      r, all[r].size(), rank_, n * sizeof(T));
        T v;
        std::memcpy(&v, all[r].data() + i * sizeof(T), sizeof(T));
        if (r == 0)
          acc = v;
        else if (op == ReduceOp::max)
          acc = std::max(acc, v);
        else if (op == ReduceOp::min)
          acc = std::min(acc, v);
        else
          acc += v;
      }
      if (op == ReduceOp::avg) acc /= static_cast<T>(all.size());
      data[i] = acc;
    }
  }

  ThreadGroup& group_;
  int rank_;
};

}  // namespace tessera::testing
