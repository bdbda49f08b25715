#include "comm/bucket.h"

#include <algorithm>

#include "common/error.h"

namespace tessera {

namespace {

size_t nbytes(const torch::Tensor& t) {
  return static_cast<size_t>(t.numel()) * t.element_size();
}

bool same_group(const torch::Tensor& a, const torch::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.device() == b.device();
}

}  // namespace

std::vector<std::vector<size_t>> plan_buckets(const std::vector<torch::Tensor>& params,
                                              const std::vector<size_t>& order, size_t cap_bytes,
                                              size_t first_cap_bytes) {
  std::vector<char> seen(params.size(), 0);
  std::vector<std::vector<size_t>> layout;
  size_t bucket_bytes = 0;
  for (size_t idx : order) {
    TESSERA_CHECK(idx < params.size(), "bucket plan: parameter index {} out of range (have {})",
                  idx, params.size());
    TESSERA_CHECK(!seen[idx], "bucket plan: parameter index {} listed twice", idx);
    seen[idx] = 1;
    const torch::Tensor& p = params[idx];
    const size_t bytes = nbytes(p);
    bool start_new = layout.empty();
    if (!start_new) {
      const torch::Tensor& first = params[layout.back().front()];
      const size_t this_cap = layout.size() == 1 ? first_cap_bytes : cap_bytes;
      start_new = !same_group(first, p) || bucket_bytes + bytes > this_cap;
    }
    if (start_new) {
      layout.emplace_back();
      bucket_bytes = 0;
    }
    layout.back().push_back(idx);
    bucket_bytes += bytes;
  }
  return layout;
}

torch::Tensor grad_view_into(const torch::Tensor& flat, int64_t offset, const torch::Tensor& param) {
  torch::Tensor slice = flat.narrow(0, offset, param.numel());
  if (param.dim() > 0 && param.is_non_overlapping_and_dense() && !param.is_contiguous()) {
    // Same memory layout as the parameter (e.g. channels-last), so autograd's in-place
    // accumulation needs no layout conversion. A dense, non-overlapping layout spans exactly
    // numel elements from the slice's start.
    return slice.as_strided(param.sizes(), param.strides());
  }
  return slice.view(param.sizes());
}

bool is_same_view(const torch::Tensor& grad, const torch::Tensor& view) {
  return grad.defined() && grad.data_ptr() == view.data_ptr() &&
         grad.sizes() == view.sizes() && grad.strides() == view.strides() &&
         grad.scalar_type() == view.scalar_type();
}

std::vector<Bucket> build_buckets(const std::vector<torch::Tensor>& params,
                                  const std::vector<std::vector<size_t>>& layout) {
  torch::NoGradGuard no_grad;
  std::vector<Bucket> buckets(layout.size());
  for (size_t b = 0; b < layout.size(); ++b) {
    Bucket& bucket = buckets[b];
    TESSERA_CHECK(!layout[b].empty(), "bucket plan: bucket {} is empty", b);
    int64_t total = 0;
    for (size_t idx : layout[b]) {
      bucket.params.push_back(idx);
      bucket.offsets.push_back(total);
      total += params[idx].numel();
    }
    const torch::Tensor& first = params[layout[b].front()];
    bucket.flat = torch::zeros({total}, first.options().requires_grad(false));
    for (size_t k = 0; k < bucket.params.size(); ++k) {
      const torch::Tensor& p = params[bucket.params[k]];
      TESSERA_CHECK(same_group(first, p),
                    "bucket {}: parameter {} has dtype/device {}/{} but the bucket holds {}/{}", b,
                    bucket.params[k], c10::toString(p.scalar_type()), p.device().str(),
                    c10::toString(first.scalar_type()), first.device().str());
      torch::Tensor view = grad_view_into(bucket.flat, bucket.offsets[k], p);
      const torch::Tensor& old = p.grad();
      if (old.defined()) view.copy_(old);
      p.mutable_grad() = view;
      bucket.views.push_back(view);
    }
  }
  return buckets;
}

void broadcast_coalesced(Communicator& comm, const std::vector<torch::Tensor>& tensors, int root,
                         size_t cap_bytes) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> todo;
  for (const auto& t : tensors) {
    if (t.defined() && t.numel() > 0) todo.push_back(t);
  }
  // Group by dtype/device keeping order, then cut each group into chunks of <= cap_bytes.
  std::vector<char> done(todo.size(), 0);
  for (size_t start = 0; start < todo.size(); ++start) {
    if (done[start]) continue;
    std::vector<torch::Tensor> group;
    for (size_t j = start; j < todo.size(); ++j) {
      if (!done[j] && same_group(todo[start], todo[j])) {
        group.push_back(todo[j]);
        done[j] = 1;
      }
    }
    size_t i = 0;
    while (i < group.size()) {
      std::vector<torch::Tensor> chunk;
      size_t bytes = 0;
      while (i < group.size() && (chunk.empty() || bytes + nbytes(group[i]) <= cap_bytes)) {
        bytes += nbytes(group[i]);
        chunk.push_back(group[i].reshape({-1}));
        ++i;
      }
      torch::Tensor flat = chunk.size() == 1 ? chunk[0].contiguous().clone() : torch::cat(chunk);
      comm.broadcast(flat, root);
      int64_t offset = 0;
      const size_t first = i - chunk.size();
      for (size_t k = 0; k < chunk.size(); ++k) {
        torch::Tensor& dst = group[first + k];
        dst.copy_(flat.narrow(0, offset, dst.numel()).view(dst.sizes()));
        offset += dst.numel();
      }
    }
  }
}

}  // namespace tessera
