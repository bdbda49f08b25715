// Small helpers for the trainer tests: config builders and error-message checks.
#pragma once

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <functional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/error.h"

namespace tessera::testing {

// Expects fn to throw tessera::Error whose message contains every one of `parts`.
inline void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
  } catch (const tessera::Error& e) {
    const std::string msg = e.what();
    for (const std::string& p : parts) {
      EXPECT_NE(msg.find(p), std::string::npos) << "message lacks '" << p << "': " << msg;
    }
    return;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected tessera::Error, got another exception: " << e.what();
    return;
  }
  ADD_FAILURE() << "expected tessera::Error, nothing was thrown";
}

// Runs fn with writes limited to `bytes` per file (RLIMIT_FSIZE: writes past it fail with EFBIG,
// SIGXFSZ ignored), as a full disk would; returns the tessera::Error text ("" if none).
inline std::string with_file_size_limit(rlim_t bytes, const std::function<void()>& fn) {
  rlimit old{};
  getrlimit(RLIMIT_FSIZE, &old);
  auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit lim = old;
  lim.rlim_cur = bytes;
  setrlimit(RLIMIT_FSIZE, &lim);
  std::string error;
  try {
    fn();
  } catch (const Error& e) {
    error = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  return error;
}

inline TaskConfig segmentation_task(int classes) {
  TaskConfig t;
  t.kind = TaskKind::segmentation;
  t.classes = classes;
  t.out_channels = classes;
  return t;
}

inline TaskConfig image_task(TaskKind kind, int channels = 3) {
  TaskConfig t;
  t.kind = kind;
  t.classes = 1;
  t.in_channels = channels;
  t.out_channels = channels;
  return t;
}

inline ModelConfig model_with(const std::string& activation) {
  ModelConfig m;
  m.activation = activation;
  return m;
}

inline LossConfig loss_named(const std::string& name) {
  LossConfig l;
  l.name = name;
  return l;
}

}  // namespace tessera::testing
