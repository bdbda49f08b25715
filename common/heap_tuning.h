// Heap tuning for tessera processes: freed memory is kept for reuse instead of being unmapped.
//
// LibTorch allocates every activation, gradient and workspace tensor with malloc, and each
// training step frees and allocates the same sizes again. glibc serves a request above its mmap
// threshold (128 KiB, adapting up to 32 MiB) with a fresh mmap and unmaps it on free, so every
// step page-faults its large tensors in again and the kernel zeroes each of their pages; a
// tensor over 32 MiB (the article's U-Net at 256x256 px, batch 8, has many) never escapes it.
// On this project's machine that made fp32 training at 256 px 4-18x slower per pixel than at
// 128 px (docs/PERFORMANCE.md, "The allocator"). tune_heap_for_training() switches mmap
// allocation off (M_MMAP_MAX 0) and trimming of the heap top off (M_TRIM_THRESHOLD at its
// maximum), so freed blocks are reused: the process keeps its peak heap, as a caching allocator
// would. TESSERA_MALLOC=system keeps glibc's defaults.
//
// Call once, first thing in main, before any thread exists. Returns a one-line description of
// what was done, for a debug log line. Never throws.
#pragma once

#include <string>

namespace tessera {

std::string tune_heap_for_training();

}  // namespace tessera
