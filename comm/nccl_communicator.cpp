#include "comm/nccl_communicator.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "common/check_cuda.h"
#include "common/check_mpi.h"

namespace tessera {
namespace {

ncclDataType_t nccl_type(c10::ScalarType type, const char* what) {
  switch (type) {
    case torch::kFloat32: return ncclFloat32;
    case torch::kFloat64: return ncclFloat64;
    case torch::kFloat16: return ncclFloat16;
    case torch::kBFloat16: return ncclBfloat16;
    case torch::kInt8: return ncclInt8;
    case torch::kUInt8: return ncclUint8;
    case torch::kBool: return ncclUint8;
    case torch::kInt32: return ncclInt32;
    case torch::kInt64: return ncclInt64;
    default:
      TESSERA_THROW("{}: dtype {} is not supported by the NCCL backend (supported: float16, "
                    "bfloat16, float32, float64, int8, uint8, int32, int64, bool)",
                    what, c10::toString(type));
  }
}

ncclRedOp_t nccl_op(ReduceOp op, c10::ScalarType type, const char* what) {
  switch (op) {
    case ReduceOp::sum:
      TESSERA_CHECK(type != torch::kBool, "{}: sum of a bool tensor; use max (any) or min (all)",
                    what);
      return ncclSum;
    case ReduceOp::avg:
      TESSERA_CHECK(c10::isFloatingType(type),
                    "{}: avg of a {} tensor is ambiguous (integer division); use sum", what,
                    c10::toString(type));
      return ncclAvg;
    case ReduceOp::max: return ncclMax;
    case ReduceOp::min: return ncclMin;
  }
  return ncclSum;
}

// Completion of one enqueued NCCL collective.
class NcclWork : public Work {
 public:
  NcclWork(NcclCommunicator* comm, std::string what, torch::Tensor keep_alive)
      : comm_(comm), what_(std::move(what)), keep_alive_(std::move(keep_alive)) {}
  ~NcclWork() override {
    try {
      wait();
    } catch (const std::exception& e) {
      spdlog::error("NCCL collective failed and its Work was destroyed without wait(): {}",
                    e.what());
    }
  }
  CudaEvent& event() { return done_event_; }

  void wait() override {
    if (finished_) return;
    for (int spins = 0;; ++spins) {
      if (done()) return;
      comm_->check_async_error(what_.c_str());
      if (spins > 100) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  bool done() override {
    if (finished_) return true;
    cudaError_t rc = cudaEventQuery(done_event_.get());
    if (rc == cudaErrorNotReady) return false;
    TESSERA_CHECK_CUDA(rc);
    finished_ = true;
    keep_alive_ = torch::Tensor();
    return true;
  }

 private:
  NcclCommunicator* comm_;
  std::string what_;
  torch::Tensor keep_alive_;
  CudaEvent done_event_;
  bool finished_ = false;
};

}  // namespace

CudaStream::CudaStream() {
  TESSERA_CHECK_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}
CudaStream::~CudaStream() {
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}
CudaEvent::CudaEvent() {
  TESSERA_CHECK_CUDA(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming));
}
CudaEvent::~CudaEvent() {
  if (event_ != nullptr) cudaEventDestroy(event_);
}

NcclCommunicator::NcclCommunicator(const MpiEnvironment& env) : env_(&env), mpi_(env) {
  int visible = 0;
  TESSERA_CHECK_CUDA(cudaGetDeviceCount(&visible));
  TESSERA_CHECK(visible > 0, "NCCL backend: no CUDA device visible on host {} (rank {})",
                env.hostname(), env.rank());
  TESSERA_CHECK(mpi_.local_size() <= visible,
                "NCCL backend: {} ranks on host {} but only {} visible GPU(s); NCCL needs one "
                "GPU per rank (start at most {} ranks per node, or use dist.backend: mpi)",
                mpi_.local_size(), env.hostname(), visible, visible);
  device_ = mpi_.local_rank() % visible;
  TESSERA_CHECK_CUDA(cudaSetDevice(device_));
  stream_ = std::make_unique<CudaStream>();
  ready_ = std::make_unique<CudaEvent>();

  ncclUniqueId id;
  if (mpi_.rank() == 0) TESSERA_CHECK_NCCL(ncclGetUniqueId(&id));
  std::string bytes(reinterpret_cast<const char*>(&id), sizeof(id));
  mpi_.broadcast_bytes(bytes, 0);
  TESSERA_CHECK(bytes.size() == sizeof(id), "NCCL backend: broadcast ncclUniqueId has {} bytes, "
                "expected {}", bytes.size(), sizeof(id));
  std::memcpy(&id, bytes.data(), sizeof(id));
  TESSERA_CHECK_NCCL(ncclCommInitRank(&nccl_, mpi_.size(), id, mpi_.rank()));
  spdlog::debug("NCCL backend: rank {} on GPU {} of host {}", mpi_.rank(), device_,
                env.hostname());
}

NcclCommunicator::~NcclCommunicator() {
  if (nccl_ != nullptr && !aborted_.load()) {
    if (stream_) cudaStreamSynchronize(stream_->get());
    ncclCommDestroy(nccl_);
  }
}

void NcclCommunicator::fail(const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(abort_mutex_);
    if (!aborted_.exchange(true) && nccl_ != nullptr) ncclCommAbort(nccl_);
  }
  TESSERA_THROW("{} (the NCCL communicator was aborted)", message);
}

void NcclCommunicator::check_usable(const char* what) const {
  TESSERA_CHECK(!aborted_.load(), "{}: the NCCL communicator was aborted after an earlier error",
                what);
}

void NcclCommunicator::check_async_error(const char* what) {
  check_usable(what);
  ncclResult_t async = ncclSuccess;
  ncclResult_t rc = ncclCommGetAsyncError(nccl_, &async);
  if (rc != ncclSuccess) {
    fail(fmt::format("{}: ncclCommGetAsyncError failed: {}", what, ncclGetErrorString(rc)));
  }
  if (async != ncclSuccess && async != ncclInProgress) {
    fail(fmt::format("{}: asynchronous NCCL error on rank {}: {}", what, rank(),
                     ncclGetErrorString(async)));
  }
}

void NcclCommunicator::check_tensor(const torch::Tensor& t, const char* what) const {
  TESSERA_CHECK(t.defined(), "{}: the tensor is undefined", what);
  TESSERA_CHECK(t.is_cuda(), "{}: tensor is on {}, but the NCCL backend takes CUDA tensors "
                "(use dist.backend: mpi for CPU tensors)", what, t.device().str());
  TESSERA_CHECK(t.device().index() == device_,
                "{}: tensor is on {}, but this rank's NCCL communicator uses cuda:{}", what,
                t.device().str(), device_);
  TESSERA_CHECK(t.layout() == torch::kStrided && t.is_contiguous(),
                "{}: tensor is not a contiguous dense tensor; pass t.contiguous()", what);
}

void NcclCommunicator::order_after_default_stream() {
  TESSERA_CHECK_CUDA(cudaSetDevice(device_));
  TESSERA_CHECK_CUDA(cudaEventRecord(ready_->get(), cudaStreamLegacy));
  TESSERA_CHECK_CUDA(cudaStreamWaitEvent(stream_->get(), ready_->get(), 0));
}

#define TESSERA_NCCL_OR_FAIL(call)                                                         \
  do {                                                                                     \
    ncclResult_t tessera_rc_ = (call);                                                     \
    if (tessera_rc_ != ncclSuccess) {                                                      \
      fail(fmt::format("NCCL call `{}` failed on rank {}: {}", #call, rank(),              \
                       ncclGetErrorString(tessera_rc_)));                                  \
    }                                                                                      \
  } while (0)

std::unique_ptr<Work> NcclCommunicator::allreduce_device(void* data, size_t count,
                                                         c10::ScalarType dtype, ReduceOp op) {
  const char* what = "NcclCommunicator::allreduce";
  check_usable(what);
  ncclDataType_t type = nccl_type(dtype, what);
  ncclRedOp_t red = nccl_op(op, dtype, what);
  order_after_default_stream();
  auto work = std::make_unique<NcclWork>(this, what, torch::Tensor());
  TESSERA_NCCL_OR_FAIL(ncclAllReduce(data, data, count, type, red, nccl_, stream_->get()));
  TESSERA_CHECK_CUDA(cudaEventRecord(work->event().get(), stream_->get()));
  return work;
}

std::unique_ptr<Work> NcclCommunicator::broadcast_device(void* data, size_t count,
                                                         c10::ScalarType dtype, int root) {
  const char* what = "NcclCommunicator::broadcast";
  check_usable(what);
  TESSERA_CHECK(root >= 0 && root < size(), "{}: root {} outside [0, {})", what, root, size());
  ncclDataType_t type = nccl_type(dtype, what);
  order_after_default_stream();
  auto work = std::make_unique<NcclWork>(this, what, torch::Tensor());
  TESSERA_NCCL_OR_FAIL(ncclBroadcast(data, data, count, type, root, nccl_, stream_->get()));
  TESSERA_CHECK_CUDA(cudaEventRecord(work->event().get(), stream_->get()));
  return work;
}

std::unique_ptr<Work> NcclCommunicator::allgather_device(const void* send, void* recv,
                                                         size_t count, c10::ScalarType dtype) {
  const char* what = "NcclCommunicator::allgather";
  check_usable(what);
  ncclDataType_t type = nccl_type(dtype, what);
  order_after_default_stream();
  auto work = std::make_unique<NcclWork>(this, what, torch::Tensor());
  TESSERA_NCCL_OR_FAIL(ncclAllGather(send, recv, count, type, nccl_, stream_->get()));
  TESSERA_CHECK_CUDA(cudaEventRecord(work->event().get(), stream_->get()));
  return work;
}

void NcclCommunicator::allreduce(torch::Tensor& t, ReduceOp op) {
  check_tensor(t, "NcclCommunicator::allreduce");
  allreduce_device(t.data_ptr(), t.numel(), t.scalar_type(), op)->wait();
}

std::unique_ptr<Work> NcclCommunicator::allreduce_async(torch::Tensor t, ReduceOp op) {
  const char* what = "NcclCommunicator::allreduce_async";
  check_tensor(t, what);
  check_usable(what);
  ncclDataType_t type = nccl_type(t.scalar_type(), what);
  ncclRedOp_t red = nccl_op(op, t.scalar_type(), what);
  order_after_default_stream();
  void* data = t.data_ptr();
  auto work = std::make_unique<NcclWork>(this, what, t);  // keeps the memory alive
  TESSERA_NCCL_OR_FAIL(ncclAllReduce(data, data, t.numel(), type, red, nccl_, stream_->get()));
  TESSERA_CHECK_CUDA(cudaEventRecord(work->event().get(), stream_->get()));
  return work;
}

void NcclCommunicator::broadcast(torch::Tensor& t, int root) {
  check_tensor(t, "NcclCommunicator::broadcast");
  broadcast_device(t.data_ptr(), t.numel(), t.scalar_type(), root)->wait();
}

torch::Tensor NcclCommunicator::allgather(const torch::Tensor& t) {
  check_tensor(t, "NcclCommunicator::allgather");
  std::vector<int64_t> shape{size()};
  shape.insert(shape.end(), t.sizes().begin(), t.sizes().end());
  torch::Tensor out = torch::empty(shape, t.options());
  allgather_device(t.data_ptr(), out.data_ptr(), t.numel(), t.scalar_type())->wait();
  return out;
}

void NcclCommunicator::abort(int code, const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(abort_mutex_);
    if (!aborted_.exchange(true) && nccl_ != nullptr) ncclCommAbort(nccl_);
  }
  mpi_abort_world(code, why);
}

std::unique_ptr<Communicator> NcclCommunicator::duplicate() const {
  return std::make_unique<NcclCommunicator>(*env_);
}

}  // namespace tessera
