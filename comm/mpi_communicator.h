// MpiCommunicator: the Communicator over MPI for CPU tensors and host buffers.
//
// It owns a duplicate of MPI_COMM_WORLD (errors return, checked with TESSERA_CHECK_MPI) and one
// communication thread (MpiWorkQueue). allreduce_async() queues the collective on that thread
// and returns at once, so the caller's computation (autograd's backward) overlaps with the
// reduction. Blocking operations first wait until the queue is empty and then run on the
// calling thread, so all collectives of this communicator execute in the order they were
// issued, on every rank. Why a thread and not MPI_Iallreduce: OpenMPI 4.1 has no asynchronous
// progress thread, so a nonblocking collective only advances while some thread is inside MPI;
// during backward nobody is. bench/comm_async_overlap.cpp measures both; see
// docs/distributed.md.
//
// Tensors: CPU, strided, contiguous; float32/float64/int8/uint8/int16/int32/int64/bool (max/min
// only) map to MPI types; float16/bfloat16 are reduced in a float32 copy. avg = sum / size, for
// floating types only. Anything else throws tessera::Error naming the op, dtype and device.
//
// Threads: one user thread at a time (Communicator contract); abort() from any thread. The
// tensor given to allreduce_async() must not be touched until its Work finished.
#pragma once

#include <memory>

#include "comm/communicator.h"
#include "comm/mpi_environment.h"
#include "comm/mpi_work_queue.h"

namespace tessera {

class MpiCommunicator : public Communicator {
 public:
  explicit MpiCommunicator(const MpiEnvironment& env);
  ~MpiCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  std::string backend() const override { return "mpi"; }

  void allreduce(torch::Tensor& t, ReduceOp op) override;
  std::unique_ptr<Work> allreduce_async(torch::Tensor t, ReduceOp op) override;
  void broadcast(torch::Tensor& t, int root) override;
  torch::Tensor allgather(const torch::Tensor& t) override;

  void allreduce(double* data, size_t n, ReduceOp op) override;
  void allreduce(int64_t* data, size_t n, ReduceOp op) override;
  void broadcast_bytes(std::string& bytes, int root) override;
  std::vector<std::string> allgather_bytes(const std::string& mine) override;
  void barrier() override;

  [[noreturn]] void abort(int code, const std::string& why) override;
  std::unique_ptr<Communicator> duplicate() const override;

  // The underlying communicator (for MPI-level tools such as the benchmark). Do not issue
  // collectives on it concurrently with this object's own.
  MPI_Comm mpi_comm() const { return comm_.get(); }

 private:
  // Waits for queued work; throws if an earlier asynchronous collective failed.
  void sync_point(const char* op);
  void check_root(int root, const char* op) const;

  const MpiEnvironment* env_;  // not owned; outlives this communicator
  MpiComm comm_;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  MpiWorkQueue queue_;  // after comm_: destroyed (drained, joined) before the comm is freed
};

// In-place MPI_Allreduce of a CPU tensor on `comm` (the work behind MpiCommunicator::allreduce,
// also usable by other MPI-level code). Checks device/layout/dtype; `what` names the caller.
void mpi_allreduce_tensor(MPI_Comm comm, int size, torch::Tensor& t, ReduceOp op,
                          const char* what);

std::string to_string(ReduceOp op);

}  // namespace tessera
