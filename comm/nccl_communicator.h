// NcclCommunicator: the Communicator over NCCL for CUDA tensors. Built only when CUDA and NCCL
// were found (TESSERA_HAVE_NCCL); comm/CMakeLists.txt leaves nccl_*.cpp out otherwise.
//
// Setup: one GPU per rank, chosen from the local rank (cudaSetDevice(local_rank % visible
// GPUs); two ranks on one GPU are refused, NCCL does not support it). Rank 0 creates the
// ncclUniqueId and broadcasts it over MPI. The communicator owns its CUDA stream and events
// (RAII). Host-buffer operations (allreduce of double/int64 buffers, bytes, barrier) go over an
// internal MpiCommunicator.
//
// Device memory: this file needs no CUDA build of LibTorch. Tensors must be CUDA tensors
// (tensor.is_cuda()); their memory is reached with data_ptr(). The raw-pointer entry points
// (allreduce_device, ...) serve code without CUDA tensors (scripts/gpu-check.sh).
// Stream order: before a collective our stream waits for an event recorded on the legacy
// default stream (LibTorch's default current stream); the Work's wait() blocks the host until
// the collective's completion event, so the tensor may be used by any stream afterwards.
//
// Errors: every CUDA/NCCL call is checked; on an NCCL error (synchronous, or asynchronous as
// reported by ncclCommGetAsyncError while waiting) the communicator is aborted with
// ncclCommAbort before the tessera::Error propagates; later calls throw. abort() aborts NCCL and
// then MPI_Abort ends the job; it may be called from any thread (the watchdog).
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

#include <atomic>
#include <memory>
#include <mutex>

#include "comm/communicator.h"
#include "comm/mpi_communicator.h"
#include "comm/mpi_environment.h"

namespace tessera {

// RAII CUDA stream (non-blocking w.r.t. the legacy default stream) on the current device.
class CudaStream {
 public:
  CudaStream();
  ~CudaStream();
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

// RAII CUDA event without timing.
class CudaEvent {
 public:
  CudaEvent();
  ~CudaEvent();
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

class NcclCommunicator : public Communicator {
 public:
  explicit NcclCommunicator(const MpiEnvironment& env);
  ~NcclCommunicator() override;

  int rank() const override { return mpi_.rank(); }
  int size() const override { return mpi_.size(); }
  int local_rank() const override { return mpi_.local_rank(); }
  int local_size() const override { return mpi_.local_size(); }
  std::string backend() const override { return "nccl"; }
  int device() const { return device_; }

  void allreduce(torch::Tensor& t, ReduceOp op) override;
  std::unique_ptr<Work> allreduce_async(torch::Tensor t, ReduceOp op) override;
  void broadcast(torch::Tensor& t, int root) override;
  torch::Tensor allgather(const torch::Tensor& t) override;

  void allreduce(double* data, size_t n, ReduceOp op) override { mpi_.allreduce(data, n, op); }
  void allreduce(int64_t* data, size_t n, ReduceOp op) override { mpi_.allreduce(data, n, op); }
  void broadcast_bytes(std::string& bytes, int root) override { mpi_.broadcast_bytes(bytes, root); }
  std::vector<std::string> allgather_bytes(const std::string& mine) override {
    return mpi_.allgather_bytes(mine);
  }
  void barrier() override { mpi_.barrier(); }

  [[noreturn]] void abort(int code, const std::string& why) override;
  std::unique_ptr<Communicator> duplicate() const override;

  // Raw device-pointer collectives (count elements of `dtype`); enqueue on our stream and
  // return a Work completing with the collective. `recv` of allgather holds size()*count.
  std::unique_ptr<Work> allreduce_device(void* data, size_t count, c10::ScalarType dtype,
                                         ReduceOp op);
  std::unique_ptr<Work> broadcast_device(void* data, size_t count, c10::ScalarType dtype,
                                         int root);
  std::unique_ptr<Work> allgather_device(const void* send, void* recv, size_t count,
                                         c10::ScalarType dtype);

  // Polls ncclCommGetAsyncError; aborts the NCCL communicator and throws on an error.
  void check_async_error(const char* what);

 private:
  // Makes our stream wait for work already queued on the legacy default stream.
  void order_after_default_stream();
  // Records completion on our stream and wraps it in a Work.
  std::unique_ptr<Work> finish_enqueue(const char* what);
  // Aborts the NCCL communicator (once) and throws `message`.
  [[noreturn]] void fail(const std::string& message);
  void check_usable(const char* what) const;
  void check_tensor(const torch::Tensor& t, const char* what) const;

  const MpiEnvironment* env_;  // not owned; outlives this communicator
  MpiCommunicator mpi_;
  int device_ = -1;
  std::unique_ptr<CudaStream> stream_;
  std::unique_ptr<CudaEvent> ready_;  // recorded on the default stream before each collective
  ncclComm_t nccl_ = nullptr;
  std::mutex abort_mutex_;
  std::atomic<bool> aborted_{false};
};

}  // namespace tessera
