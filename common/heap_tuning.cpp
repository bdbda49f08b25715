#include "common/heap_tuning.h"

#include <malloc.h>

#include <climits>
#include <cstdlib>
#include <cstring>

namespace tessera {

std::string tune_heap_for_training() {
  const char* mode = std::getenv("TESSERA_MALLOC");
  if (mode != nullptr && std::strcmp(mode, "system") == 0) {
    return "heap: glibc defaults (TESSERA_MALLOC=system)";
  }
  // mallopt returns 1 on success. Both settings are plain numbers glibc accepts on every
  // release we support (Debian 12: 2.36, Debian 13: 2.41).
  const bool no_mmap = mallopt(M_MMAP_MAX, 0) == 1;
  const bool no_trim = mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1;
  if (no_mmap && no_trim) return "heap: freed memory is reused (no mmap per allocation, no trim)";
  return "heap: mallopt refused the reuse settings; glibc defaults stay";
}

}  // namespace tessera
