// Shared by the libFuzzer targets (tests/fuzz, built by scripts/fuzz.sh with clang): the
// contract every target checks. Input that tessera refuses must be refused with a
// tessera::Error; any other exception (std::bad_alloc, nlohmann's, yaml-cpp's, std::out_of_range)
// escaping the code under test is a bug, and so is a crash, a hang, a leak or a sanitizer report
// (libFuzzer and ASan/UBSan catch those). A target aborts on a foreign exception so that
// libFuzzer saves the input as a crash.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <typeinfo>

#include <spdlog/spdlog.h>

#include "common/error.h"

namespace tessera::fuzz {

// Turns tessera's logging off (warnings for every rejected input are noise to a fuzzer).
inline void quiet_logs() {
  static const bool done = [] {
    spdlog::set_level(spdlog::level::off);
    return true;
  }();
  (void)done;
}

// Runs `body`; a tessera::Error is a clean rejection; anything else aborts naming it.
template <typename F>
void expect_clean(const char* target, F&& body) {
  try {
    body();
  } catch (const tessera::Error&) {
    // a clean rejection
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: foreign exception %s escaped: %s\n", target, typeid(e).name(),
                 e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "%s: a non-std exception escaped\n", target);
    std::abort();
  }
}

}  // namespace tessera::fuzz
