// Gradient buckets: the flat buffers GradReducer allreduces, and the helpers that plan them,
// allocate them and point every parameter's .grad into them.
//
// A bucket is one contiguous 1-D tensor holding the gradients of several parameters of the same
// dtype and device, back to back. Each parameter's .grad is a VIEW into its bucket (same strides
// as the parameter when the parameter is dense, so channels-last weights keep channels-last
// gradients); autograd accumulates into an existing .grad in place, so after backward the bucket
// already holds every gradient and is reduced with one collective, without packing copies.
//
// plan_buckets() is a pure function (no tensors touched), so the layout is easy to test.
// broadcast_coalesced() is the construction-time "rank 0's weights everywhere" step, done with
// a few large flat broadcasts instead of one per tensor.
//
// Ownership: Bucket owns its flat buffer; parameters' .grad tensors share its storage (they keep
// it alive even after the Bucket is gone). Threads: none of this is thread-safe; GradReducer
// serialises access.
#pragma once

#include <torch/torch.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "comm/communicator.h"

namespace tessera {

// Which parameters go into which bucket, in the order given by `order` (indices into `params`).
// A new bucket starts when the dtype or device changes, or when adding the next parameter would
// take the bucket past its byte cap. The first bucket's cap is `first_cap_bytes` (a small first
// bucket starts the first allreduce early in backward), every later one `cap_bytes`. A parameter
// larger than the cap gets a bucket of its own. Parameters that appear in `params` but not in
// `order` are not placed. Throws when `order` names an index twice or out of range.
std::vector<std::vector<size_t>> plan_buckets(const std::vector<torch::Tensor>& params,
                                              const std::vector<size_t>& order, size_t cap_bytes,
                                              size_t first_cap_bytes);

struct Bucket {
  torch::Tensor flat;             // 1-D, contiguous, dtype/device of its parameters
  std::vector<size_t> params;     // indices into the reducer's parameter list, in layout order
  std::vector<int64_t> offsets;   // element offset of each parameter's gradient in `flat`
  std::vector<torch::Tensor> views;  // the gradient view of each parameter (what .grad is set to)

  size_t pending = 0;             // gradients of this bucket not yet ready in the current step
  std::unique_ptr<Work> work;     // in-flight allreduce, if launched and not yet waited for
  bool launched = false;          // allreduce started in the current step
};

// Allocates each bucket of `layout` and makes every parameter's .grad a view into it. Gradients
// that are already defined are copied into the new buffers (so a rebuild keeps their values);
// undefined ones start at zero.
std::vector<Bucket> build_buckets(const std::vector<torch::Tensor>& params,
                                  const std::vector<std::vector<size_t>>& layout);

// The view of `flat` at element `offset` with the parameter's shape (and strides, when the
// parameter is non-overlapping and dense).
torch::Tensor grad_view_into(const torch::Tensor& flat, int64_t offset, const torch::Tensor& param);

// True when `grad` is exactly the view `view` (same storage, offset, sizes and strides).
bool is_same_view(const torch::Tensor& grad, const torch::Tensor& view);

// Broadcasts `tensors` from `root` to every rank in place, packed into flat buffers of at most
// `cap_bytes` per collective (grouped by dtype and device). Every rank must pass tensors of the
// same shapes/dtypes in the same order. Undefined tensors are skipped.
void broadcast_coalesced(Communicator& comm, const std::vector<torch::Tensor>& tensors, int root,
                         size_t cap_bytes);

}  // namespace tessera
