// Closed-form test inputs shared with tools/reference/losses_metrics.py, which computes the
// reference values pasted into the tests. Both sides build the same float32 numbers bit for bit:
//   logit(i, a, b) = float32(((i*a + b) % 101) / 100 * 8 - 4)
//   image(i)       = float32(((i*29 + 3) % 256) / 255)
//   near(i)        = image(i) + float32((((i*17 + 1) % 21) - 10) * 3 / 255)
//   binary label   = ((i*13 + 5) % 7) < 3, multi-class label = (i*13 + 5) % K,
//   ignored pixels (when asked) where i % 9 == 4.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace tessera::testing {

inline torch::Tensor ref_logits(std::vector<int64_t> shape, int64_t a, int64_t b) {
  const int64_t n = c10::multiply_integers(shape);
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) {
    v[i] = static_cast<float>(static_cast<double>((i * a + b) % 101) / 100.0 * 8.0 - 4.0);
  }
  return torch::tensor(v).reshape(shape);
}

inline torch::Tensor ref_image(std::vector<int64_t> shape) {
  const int64_t n = c10::multiply_integers(shape);
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(((i * 29 + 3) % 256) / 255.0);
  return torch::tensor(v).reshape(shape);
}

inline torch::Tensor ref_near_image(std::vector<int64_t> shape) {
  const int64_t n = c10::multiply_integers(shape);
  std::vector<float> d(n);
  for (int64_t i = 0; i < n; ++i) {
    d[i] = static_cast<float>(static_cast<double>(((i * 17 + 1) % 21) - 10) * 3.0 / 255.0);
  }
  return ref_image(shape) + torch::tensor(d).reshape(shape);
}

inline torch::Tensor ref_binary_labels(std::vector<int64_t> shape, int ignore = -1) {
  const int64_t n = c10::multiply_integers(shape);
  std::vector<int64_t> v(n);
  for (int64_t i = 0; i < n; ++i) {
    v[i] = ((i * 13 + 5) % 7) < 3 ? 1 : 0;
    if (ignore >= 0 && i % 9 == 4) v[i] = ignore;
  }
  return torch::tensor(v, torch::kLong).reshape(shape);
}

inline torch::Tensor ref_mc_labels(std::vector<int64_t> shape, int64_t k, int ignore = -1) {
  const int64_t n = c10::multiply_integers(shape);
  std::vector<int64_t> v(n);
  for (int64_t i = 0; i < n; ++i) {
    v[i] = (i * 13 + 5) % k;
    if (ignore >= 0 && i % 9 == 4) v[i] = ignore;
  }
  return torch::tensor(v, torch::kLong).reshape(shape);
}

}  // namespace tessera::testing
