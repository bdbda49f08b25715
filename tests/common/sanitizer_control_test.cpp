// Control of `scripts/test.sh --sanitize` (and of CI's sanitize stage): compiled into test_config
// only when TESSERA_SANITIZE is on. A heap overflow and a signed overflow must end a child
// process with the sanitizers' reports; were the build not instrumented, or the options in
// tests/sanitize/env.sh to let a report pass, these would fail and the stage with them.
#include <gtest/gtest.h>

#include <climits>
#include <cstring>
#include <cstdlib>

namespace {

__attribute__((noinline)) void overflow_heap() {
  char* p = new char[8];
  volatile size_t n = 9;
  std::memset(p, 0, n);  // one past the end: ASan's memset check (UBSan sees no store here)
  asm volatile("" : : "r"(p) : "memory");  // keeps the compiler from dropping the dead store
  delete[] p;
}

__attribute__((noinline)) int overflow_int(volatile int a) { return a + INT_MAX; }

TEST(SanitizerControl, AHeapOverflowIsReported) {
  EXPECT_DEATH(overflow_heap(), "AddressSanitizer: heap-buffer-overflow");
}

TEST(SanitizerControl, ASignedOverflowIsReported) {
  EXPECT_DEATH(std::exit(overflow_int(1) == 0), "signed integer overflow");
}

}  // namespace
