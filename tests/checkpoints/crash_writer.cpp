// Child process of the crash-safety test (crash_test.cpp): saves checkpoints of a few MB into a
// run directory and reports progress on a pipe, so the parent can SIGKILL it at chosen moments.
//
// Usage: ckpt_crash_writer RUN_DIR FD FIRST_STEP COUNT [options]
//   --stop SAVE:PHASE:N   in the SAVE-th save (1-based), at the N-th report of PHASE, write
//                         "K\n" on FD and block until killed
//   --replace             save FIRST_STEP, FIRST_STEP+1, then FIRST_STEP+1 again (generation 1)
//   --no-exchange         use the fallback replace path (no renameat2 RENAME_EXCHANGE)
//   --mb X                megabytes per checkpoint (default 3)
// After each completed save it writes "S <step>\n" on FD. The contents of every file are a pure
// function of (step, generation) -- see crash_content.h -- so the parent can check what it loads.
#include "checkpoints/checkpoint_store.h"
#include "crash_content.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

namespace {

void report(int fd, const std::string& line) {
  const std::string msg = line + "\n";
  const char* p = msg.data();
  std::size_t left = msg.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) std::_Exit(3);  // the parent is gone
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s RUN_DIR FD FIRST_STEP COUNT [options]\n", argv[0]);
    return 2;
  }
  const std::string run_dir = argv[1];
  const int fd = std::atoi(argv[2]);
  const long first = std::atol(argv[3]);
  const long count = std::atol(argv[4]);
  int stop_save = -1, stop_n = 0;
  std::string stop_phase;
  bool replace = false, exchange = true;
  double mb = 3.0;
  for (int i = 5; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--stop" && i + 1 < argc) {
      const std::string spec = argv[++i];
      const auto c1 = spec.find(':'), c2 = spec.rfind(':');
      stop_save = std::atoi(spec.substr(0, c1).c_str());
      stop_phase = spec.substr(c1 + 1, c2 - c1 - 1);
      stop_n = std::atoi(spec.substr(c2 + 1).c_str());
    } else if (a == "--replace") {
      replace = true;
    } else if (a == "--no-exchange") {
      exchange = false;
    } else if (a == "--mb" && i + 1 < argc) {
      mb = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  try {
    tessera::checkpoints::CheckpointStore store(run_dir, tessera::checkpoints::testing::kKeepLast,
                                                tessera::checkpoints::testing::kKeepBest, "max");
    store.set_rename_exchange(exchange);
    int save_index = 0, seen = 0;
    store.set_phase_hook([&](const char* phase) {
      if (save_index == stop_save && stop_phase == phase && ++seen == stop_n) {
        report(fd, "K");
        for (;;) ::pause();  // wait for SIGKILL
      }
    });
    for (long k = 0; k < count; ++k) {
      std::int64_t step = first + k;
      int generation = 0;
      if (replace && k >= 2) {
        step = first + 1;
        generation = static_cast<int>(k - 1);
      }
      ++save_index;
      const auto data = tessera::checkpoints::testing::crash_content(step, generation, mb);
      store.save(data, tessera::checkpoints::testing::crash_metric(step, generation));
      report(fd, "S " + std::to_string(step));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crash_writer: %s\n", e.what());
    return 1;
  }
  report(fd, "E");
  return 0;
}
