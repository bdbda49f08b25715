// tune_heap_for_training (common/heap_tuning.h): after it a large block comes from the heap and
// is reused, instead of a fresh mmap that every training step faults in again. Not built into
// sanitizer builds (ASan's allocator replaces glibc's there).
#include "common/heap_tuning.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace tessera {
namespace {

constexpr std::size_t kBlock = 64u << 20;  // over glibc's largest adaptive mmap threshold

// Allocates and touches a block; returns the number of mmapped blocks while it is held.
std::size_t mapped_blocks_holding(void** out) {
  void* volatile p = std::malloc(kBlock);
  std::memset(p, 1, 4096);
  *out = p;
  return mallinfo2().hblks;
}

TEST(HeapTuning, ALargeBlockIsReusedFromTheHeapInsteadOfMapped) {
  // Control: with glibc's defaults the block is a mapping of its own.
  void* p = nullptr;
  const std::size_t before = mapped_blocks_holding(&p);
  std::free(p);
  const std::size_t baseline = mallinfo2().hblks;
  EXPECT_EQ(before, baseline + 1) << "glibc's default should mmap a 64 MiB block";

  EXPECT_NE(tune_heap_for_training().find("reused"), std::string::npos);
  void* q = nullptr;
  EXPECT_EQ(mapped_blocks_holding(&q), baseline) << "the block was still mmapped";
  std::free(q);
  void* r = nullptr;
  mapped_blocks_holding(&r);
  EXPECT_EQ(r, q) << "a freed block of the same size should be reused";
  std::free(r);
}

}  // namespace
}  // namespace tessera
