// Helpers shared by the models tests.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>
#include <string>

#include "common/error.h"

namespace tessera::test {

// Runs fn, expects a tessera::Error, returns its message ("" and a test failure otherwise).
inline std::string error_message(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const tessera::Error& e) {
    return e.message();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected tessera::Error, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected tessera::Error, nothing was thrown";
  return "";
}

inline int64_t trainable_params(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) {
    if (p.requires_grad()) n += p.numel();
  }
  return n;
}

// BatchNorm running mean/var (Keras' non-trainable "moving" statistics).
inline int64_t float_buffer_elements(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& b : m.buffers()) {
    if (b.is_floating_point()) n += b.numel();
  }
  return n;
}

}  // namespace tessera::test
