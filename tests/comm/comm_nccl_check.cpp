// comm_nccl_check: the NCCL backend's run check on real GPUs (started by scripts/gpu-check.sh
// with mpirun -np <GPUs>; not part of ctest, which runs where there is no GPU). Uses raw device
// buffers (cudaMalloc) so it needs no CUDA build of LibTorch; when LibTorch has CUDA it also
// checks the tensor API. Exits non-zero on the first wrong value, printing what differed.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "comm/mpi_environment.h"
#include "comm/nccl_communicator.h"
#include "common/check_cuda.h"
#include "common/error.h"

namespace {

using tessera::ReduceOp;

// RAII device buffer.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) { TESSERA_CHECK_CUDA(cudaMalloc(&ptr_, bytes)); }
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return ptr_; }
  template <class T>
  void upload(const std::vector<T>& v) {
    TESSERA_CHECK_CUDA(cudaMemcpy(ptr_, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  template <class T>
  std::vector<T> download(size_t n) const {
    std::vector<T> v(n);
    TESSERA_CHECK_CUDA(cudaMemcpy(v.data(), ptr_, n * sizeof(T), cudaMemcpyDeviceToHost));
    return v;
  }

 private:
  void* ptr_ = nullptr;
  size_t bytes_;
};

int failures = 0;
void expect(bool ok, int rank, const std::string& what) {
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "rank %d: FAILED %s\n", rank, what.c_str());
  }
}

template <class T>
void check_allreduce(tessera::NcclCommunicator& comm, c10::ScalarType dtype, ReduceOp op,
                     const char* name) {
  const int r = comm.rank(), n = comm.size();
  const size_t count = 1 << 20;
  std::vector<T> host(count);
  for (size_t i = 0; i < count; ++i) host[i] = static_cast<T>((i % 7) * (r + 1));
  DeviceBuffer buf(count * sizeof(T));
  buf.upload(host);
  comm.allreduce_device(buf.get(), count, dtype, op)->wait();
  auto out = buf.download<T>(count);
  for (size_t i = 0; i < count; i += 4099) {
    double base = static_cast<double>(i % 7);
    double expected = op == ReduceOp::sum   ? base * n * (n + 1) / 2
                      : op == ReduceOp::avg ? base * (n + 1) / 2.0
                      : op == ReduceOp::max ? base * n
                                            : base;
    if (std::fabs(static_cast<double>(out[i]) - expected) > 1e-4 * (1 + std::fabs(expected))) {
      expect(false, r, fmt::format("allreduce {} [{}] = {}, expected {}", name, i,
                                   static_cast<double>(out[i]), expected));
      return;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    tessera::MpiEnvironment env(&argc, &argv);
    tessera::NcclCommunicator comm(env);
    const int r = comm.rank(), n = comm.size();
    std::printf("rank %d/%d: NCCL %d.%d on GPU %d (local rank %d)\n", r, n, NCCL_MAJOR,
                NCCL_MINOR, comm.device(), comm.local_rank());

    check_allreduce<float>(comm, torch::kFloat32, ReduceOp::sum, "float32 sum");
    check_allreduce<float>(comm, torch::kFloat32, ReduceOp::avg, "float32 avg");
    check_allreduce<double>(comm, torch::kFloat64, ReduceOp::max, "float64 max");
    check_allreduce<int64_t>(comm, torch::kInt64, ReduceOp::min, "int64 min");
    check_allreduce<int32_t>(comm, torch::kInt32, ReduceOp::sum, "int32 sum");

    // Async: several in flight, waited in reverse order.
    std::vector<std::unique_ptr<DeviceBuffer>> bufs;
    std::vector<std::unique_ptr<tessera::Work>> works;
    for (int k = 0; k < 8; ++k) {
      bufs.push_back(std::make_unique<DeviceBuffer>((k + 1) * 4096 * sizeof(float)));
      bufs.back()->upload(std::vector<float>((k + 1) * 4096, static_cast<float>(k + r)));
      works.push_back(comm.allreduce_device(bufs.back()->get(), (k + 1) * 4096, torch::kFloat32,
                                            ReduceOp::sum));
    }
    for (int k = 7; k >= 0; --k) works[k]->wait();
    for (int k = 0; k < 8; ++k) {
      auto v = bufs[k]->download<float>((k + 1) * 4096);
      float expected = static_cast<float>(k * n + n * (n - 1) / 2);
      expect(v.front() == expected && v.back() == expected, r,
             fmt::format("async allreduce #{} = {}, expected {}", k, v.front(), expected));
    }

    // Broadcast from the last rank; allgather in rank order.
    DeviceBuffer b(1000 * sizeof(int64_t));
    b.upload(std::vector<int64_t>(1000, 100 + r));
    comm.broadcast_device(b.get(), 1000, torch::kInt64, n - 1)->wait();
    auto bv = b.download<int64_t>(1000);
    expect(bv.front() == 100 + n - 1 && bv.back() == 100 + n - 1, r, "broadcast from last rank");

    DeviceBuffer send(16 * sizeof(float)), recv(16 * n * sizeof(float));
    send.upload(std::vector<float>(16, static_cast<float>(r)));
    comm.allgather_device(send.get(), recv.get(), 16, torch::kFloat32)->wait();
    auto gv = recv.download<float>(16 * n);
    for (int q = 0; q < n; ++q) {
      expect(gv[16 * q] == q && gv[16 * q + 15] == q, r, fmt::format("allgather slot {}", q));
    }

    // Host-buffer operations go over MPI.
    double x = r;
    comm.allreduce(&x, 1, ReduceOp::sum);
    expect(x == n * (n - 1) / 2.0, r, "host allreduce over MPI");

    if (torch::cuda::is_available()) {
      auto t = torch::full({3, 5}, static_cast<float>(r + 1),
                           torch::TensorOptions().device(torch::kCUDA, comm.device()));
      comm.allreduce(t, ReduceOp::avg);
      expect(t.cpu().eq((n + 1) / 2.0f).all().item<bool>(), r, "tensor allreduce avg");
      auto g = comm.allgather(t);
      expect(g.size(0) == n, r, "tensor allgather shape");
      std::printf("rank %d: CUDA tensor API checked\n", r);
    } else if (r == 0) {
      std::printf("LibTorch has no CUDA: tensor API not checked (raw device buffers only)\n");
    }

    int64_t total = failures;
    comm.allreduce(&total, 1, ReduceOp::sum);
    if (r == 0) {
      std::printf(total == 0 ? "NCCL check passed on %d rank(s)\n" : "NCCL check FAILED on %d rank(s)\n", n);
    }
    return total == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "comm_nccl_check: %s\n", e.what());
    tessera::mpi_abort_world(1, e.what());
  }
}
