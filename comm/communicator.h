// Communicator: the collective operations tessera's data parallelism needs, behind one
// interface with two backends:
//   - MpiCommunicator (comm/mpi_communicator.*): CPU tensors and host buffers over MPI.
//   - NcclCommunicator (comm/nccl_communicator.*, built only when NCCL + CUDA were found): CUDA
//     tensors over NCCL on its own CUDA stream; host-buffer operations go over MPI.
// make_communicator() picks one from `dist.backend` (auto = NCCL when CUDA tensors are used and
// NCCL was built, else MPI).
//
// Contract:
//   - Every rank calls the same collectives in the same order with the same shapes/dtypes.
//   - Tensors passed to collectives must be contiguous; in-place ops overwrite them.
//   - Threads: a Communicator is used from one thread at a time, except that Work::wait() and
//     the watchdog's abort() may be called from other threads. The MPI backend documents how it
//     runs asynchronous operations (see mpi_communicator.h).
//   - Errors throw tessera::Error (file:line, the call, the library's message). abort() ends the
//     whole job (all ranks) and never returns.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tessera {

struct DistConfig;

enum class ReduceOp { sum, avg, max, min };

// Handle of an asynchronous collective. wait() blocks until the result is in the tensor and
// rethrows any error of the operation. Destroying an unfinished Work waits for it.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
  virtual bool done() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;  // rank among the processes on this host
  virtual int local_size() const = 0;
  virtual std::string backend() const = 0;  // "mpi" or "nccl"

  // Tensors (CPU for MPI; CUDA for NCCL). In place.
  virtual void allreduce(torch::Tensor& t, ReduceOp op) = 0;
  virtual std::unique_ptr<Work> allreduce_async(torch::Tensor t, ReduceOp op) = 0;
  virtual void broadcast(torch::Tensor& t, int root) = 0;
  // Returns a tensor of shape [size, ...t.shape] with every rank's t, in rank order.
  virtual torch::Tensor allgather(const torch::Tensor& t) = 0;

  // Host buffers (any backend; goes over MPI). In place.
  virtual void allreduce(double* data, size_t n, ReduceOp op) = 0;
  virtual void allreduce(int64_t* data, size_t n, ReduceOp op) = 0;
  virtual void broadcast_bytes(std::string& bytes, int root) = 0;
  virtual std::vector<std::string> allgather_bytes(const std::string& mine) = 0;
  virtual void barrier() = 0;

  // A new, independent communicator over the same ranks (same backend; MPI: MPI_Comm_dup;
  // NCCL: a new ncclComm). Collective: every rank calls it at the same point. Its collectives
  // never interleave with this one's, so a second user (SyncBatchNorm beside GradReducer) can
  // issue collectives in its own order. Must be destroyed before the MpiEnvironment.
  // Backends that cannot duplicate (test fakes) throw tessera::Error.
  virtual std::unique_ptr<Communicator> duplicate() const;

  // Ends every rank of the job now (MPI_Abort; NCCL: ncclCommAbort first). Safe to call from
  // any thread (the watchdog does). Never returns.
  [[noreturn]] virtual void abort(int code, const std::string& why) = 0;
};

}  // namespace tessera
