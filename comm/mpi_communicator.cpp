#include "comm/mpi_communicator.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include <fmt/ranges.h>

#include "common/check_mpi.h"

namespace tessera {
namespace {

// MPI counts are int; large buffers go in pieces of at most this many elements.
constexpr size_t kMaxChunkElements = size_t{1} << 28;

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
    case ReduceOp::avg: return MPI_SUM;
    case ReduceOp::max: return MPI_MAX;
    case ReduceOp::min: return MPI_MIN;
  }
  return MPI_SUM;
}

// MPI datatype of a dtype reduced natively; MPI_DATATYPE_NULL when it has none.
MPI_Datatype mpi_type(c10::ScalarType type) {
  switch (type) {
    case torch::kFloat32: return MPI_FLOAT;
    case torch::kFloat64: return MPI_DOUBLE;
    case torch::kInt8: return MPI_INT8_T;
    case torch::kUInt8: return MPI_UINT8_T;
    case torch::kInt16: return MPI_INT16_T;
    case torch::kInt32: return MPI_INT32_T;
    case torch::kInt64: return MPI_INT64_T;
    case torch::kBool: return MPI_UINT8_T;  // one byte 0/1: max = any, min = all
    default: return MPI_DATATYPE_NULL;
  }
}

std::string shape_of(const torch::Tensor& t) {
  return fmt::format("[{}]", fmt::join(t.sizes().begin(), t.sizes().end(), ", "));
}

void check_cpu_contiguous(const torch::Tensor& t, const char* what) {
  TESSERA_CHECK(t.defined(), "{}: the tensor is undefined", what);
  TESSERA_CHECK(t.device().is_cpu(),
                "{}: tensor {} is on {}, but the MPI backend takes CPU tensors only (use "
                "dist.backend: nccl or auto for CUDA tensors)",
                what, shape_of(t), t.device().str());
  TESSERA_CHECK(t.layout() == torch::kStrided, "{}: tensor {} is not a dense (strided) tensor",
                what, shape_of(t));
  TESSERA_CHECK(t.is_contiguous(),
                "{}: tensor {} with strides [{}] is not contiguous; pass t.contiguous() and "
                "copy the result back",
                what, shape_of(t), fmt::join(t.strides().begin(), t.strides().end(), ", "));
}

void allreduce_raw(MPI_Comm comm, void* data, size_t count, MPI_Datatype type, size_t elem_size,
                   MPI_Op op) {
  auto* bytes = static_cast<char*>(data);
  for (size_t done = 0; done < count;) {
    size_t n = std::min(kMaxChunkElements, count - done);
    TESSERA_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, bytes + done * elem_size, static_cast<int>(n),
                                    type, op, comm));
    done += n;
  }
}

void broadcast_raw(MPI_Comm comm, void* data, size_t nbytes, int root) {
  auto* bytes = static_cast<char*>(data);
  const size_t chunk = size_t{1} << 30;
  for (size_t done = 0; done < nbytes;) {
    size_t n = std::min(chunk, nbytes - done);
    TESSERA_CHECK_MPI(MPI_Bcast(bytes + done, static_cast<int>(n), MPI_BYTE, root, comm));
    done += n;
  }
}

}  // namespace

std::string to_string(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return "sum";
    case ReduceOp::avg: return "avg";
    case ReduceOp::max: return "max";
    case ReduceOp::min: return "min";
  }
  return "?";
}

void mpi_allreduce_tensor(MPI_Comm comm, int size, torch::Tensor& t, ReduceOp op,
                          const char* what) {
  check_cpu_contiguous(t, what);
  const auto type = t.scalar_type();
  if (type == torch::kFloat16 || type == torch::kBFloat16) {
    torch::NoGradGuard no_grad;
    torch::Tensor wide = t.to(torch::kFloat32);
    mpi_allreduce_tensor(comm, size, wide, op, what);
    t.copy_(wide);
    return;
  }
  MPI_Datatype mtype = mpi_type(type);
  TESSERA_CHECK(mtype != MPI_DATATYPE_NULL,
                "{}: dtype {} of tensor {} cannot be reduced (supported: float16, bfloat16, "
                "float32, float64, int8, uint8, int16, int32, int64, bool)",
                what, c10::toString(type), shape_of(t));
  const bool floating = c10::isFloatingType(type);
  TESSERA_CHECK(op != ReduceOp::avg || floating,
                "{}: avg of a {} tensor is ambiguous (integer division); reduce with sum and "
                "divide yourself",
                what, c10::toString(type));
  TESSERA_CHECK(type != torch::kBool || op == ReduceOp::max || op == ReduceOp::min,
                "{}: {} of a bool tensor is not defined; use max (any) or min (all)", what,
                to_string(op));
  if (t.numel() == 0) return;
  allreduce_raw(comm, t.data_ptr(), static_cast<size_t>(t.numel()), mtype, t.element_size(),
                mpi_op(op));
  if (op == ReduceOp::avg && size > 1) {
    torch::NoGradGuard no_grad;
    t.div_(static_cast<double>(size));
  }
}

MpiCommunicator::MpiCommunicator(const MpiEnvironment& env)
    : env_(&env),
      comm_(env.dup_world()),
      rank_(env.rank()),
      size_(env.size()),
      local_rank_(env.local_rank()),
      local_size_(env.local_size()) {}

MpiCommunicator::~MpiCommunicator() = default;

void MpiCommunicator::sync_point(const char* op) {
  std::string failure = queue_.drain();
  TESSERA_CHECK(failure.empty(),
                "{}: not run because an earlier asynchronous collective failed ({}); ranks may "
                "disagree on the order of collectives",
                op, failure);
}

void MpiCommunicator::check_root(int root, const char* op) const {
  TESSERA_CHECK(root >= 0 && root < size_, "{}: root rank {} is outside [0, {})", op, root,
                size_);
}

void MpiCommunicator::allreduce(torch::Tensor& t, ReduceOp op) {
  sync_point("allreduce");
  mpi_allreduce_tensor(comm_.get(), size_, t, op, "MpiCommunicator::allreduce");
}

std::unique_ptr<Work> MpiCommunicator::allreduce_async(torch::Tensor t, ReduceOp op) {
  // Validate on the caller's thread so misuse throws here, not later from wait().
  check_cpu_contiguous(t, "MpiCommunicator::allreduce_async");
  std::string what = fmt::format("allreduce_async({}{}, {})", c10::toString(t.scalar_type()),
                                 shape_of(t), to_string(op));
  MPI_Comm comm = comm_.get();
  int size = size_;
  auto state = queue_.submit(std::move(what), [comm, size, t, op]() mutable {
    mpi_allreduce_tensor(comm, size, t, op, "MpiCommunicator::allreduce_async");
  });
  return std::make_unique<QueuedWork>(std::move(state));
}

void MpiCommunicator::broadcast(torch::Tensor& t, int root) {
  sync_point("broadcast");
  check_cpu_contiguous(t, "MpiCommunicator::broadcast");
  check_root(root, "MpiCommunicator::broadcast");
  broadcast_raw(comm_.get(), t.data_ptr(), t.numel() * t.element_size(), root);
}

torch::Tensor MpiCommunicator::allgather(const torch::Tensor& t) {
  sync_point("allgather");
  check_cpu_contiguous(t, "MpiCommunicator::allgather");
  std::vector<int64_t> shape{size_};
  shape.insert(shape.end(), t.sizes().begin(), t.sizes().end());
  torch::Tensor out = torch::empty(shape, t.options());
  const size_t nbytes = t.numel() * t.element_size();
  TESSERA_CHECK(nbytes <= static_cast<size_t>(INT_MAX),
                "MpiCommunicator::allgather: {} bytes per rank exceeds MPI's int count", nbytes);
  if (nbytes == 0) return out;
  TESSERA_CHECK_MPI(MPI_Allgather(t.data_ptr(), static_cast<int>(nbytes), MPI_BYTE,
                                  out.data_ptr(), static_cast<int>(nbytes), MPI_BYTE,
                                  comm_.get()));
  return out;
}

void MpiCommunicator::allreduce(double* data, size_t n, ReduceOp op) {
  sync_point("allreduce(double*)");
  if (n == 0) return;
  allreduce_raw(comm_.get(), data, n, MPI_DOUBLE, sizeof(double), mpi_op(op));
  if (op == ReduceOp::avg) {
    for (size_t i = 0; i < n; ++i) data[i] /= size_;
  }
}

void MpiCommunicator::allreduce(int64_t* data, size_t n, ReduceOp op) {
  sync_point("allreduce(int64_t*)");
  TESSERA_CHECK(op != ReduceOp::avg,
                "MpiCommunicator::allreduce(int64_t*): avg of integers is ambiguous; use sum");
  if (n == 0) return;
  allreduce_raw(comm_.get(), data, n, MPI_INT64_T, sizeof(int64_t), mpi_op(op));
}

void MpiCommunicator::broadcast_bytes(std::string& bytes, int root) {
  sync_point("broadcast_bytes");
  check_root(root, "MpiCommunicator::broadcast_bytes");
  uint64_t n = bytes.size();
  TESSERA_CHECK_MPI(MPI_Bcast(&n, 1, MPI_UINT64_T, root, comm_.get()));
  if (rank_ != root) bytes.assign(n, '\0');
  broadcast_raw(comm_.get(), bytes.data(), n, root);
}

std::vector<std::string> MpiCommunicator::allgather_bytes(const std::string& mine) {
  sync_point("allgather_bytes");
  std::vector<int64_t> lengths(size_);
  int64_t my_length = static_cast<int64_t>(mine.size());
  TESSERA_CHECK_MPI(
      MPI_Allgather(&my_length, 1, MPI_INT64_T, lengths.data(), 1, MPI_INT64_T, comm_.get()));
  std::vector<int> counts(size_), displs(size_);
  int64_t total = 0;
  for (int r = 0; r < size_; ++r) {
    TESSERA_CHECK(total + lengths[r] <= INT_MAX,
                  "MpiCommunicator::allgather_bytes: {} bytes in all exceed MPI's int count",
                  total + lengths[r]);
    counts[r] = static_cast<int>(lengths[r]);
    displs[r] = static_cast<int>(total);
    total += lengths[r];
  }
  std::string all(static_cast<size_t>(total), '\0');
  // MPI wants a non-null buffer even for zero bytes on some implementations.
  char dummy = 0;
  TESSERA_CHECK_MPI(MPI_Allgatherv(mine.empty() ? &dummy : mine.data(), counts[rank_], MPI_BYTE,
                                   all.empty() ? &dummy : all.data(), counts.data(),
                                   displs.data(), MPI_BYTE, comm_.get()));
  std::vector<std::string> out(size_);
  for (int r = 0; r < size_; ++r) out[r] = all.substr(displs[r], counts[r]);
  return out;
}

void MpiCommunicator::barrier() {
  sync_point("barrier");
  TESSERA_CHECK_MPI(MPI_Barrier(comm_.get()));
}

void MpiCommunicator::abort(int code, const std::string& why) { mpi_abort_world(code, why); }

std::unique_ptr<Communicator> MpiCommunicator::duplicate() const {
  return std::make_unique<MpiCommunicator>(*env_);
}

}  // namespace tessera
