// tessera-shard-probe PATH...: opens each HDF5 shard as tessera's reader does and reports on
// stdout, so that a parent (datasets/shard_probe.h) learns which shard crashed or hung HDF5:
//   begin I        before shard I (0-based) is opened
//   error I TEXT   the shard was refused cleanly (a tessera::Error): the parent ends with TEXT
//   done I         after it
// Exit status 0 when every shard was begun and done. It dies with its parent (PR_SET_PDEATHSIG).
// No LibTorch and no MPI here: it starts in milliseconds.
//
// Test hook: TESSERA_PROBE_CONTROL=crash|hang makes it raise SIGSEGV or loop forever right after
// the first `begin` line, as HDF5 does on some damaged files (tests/datasets/shard_probe_test.cpp,
// tests/e2e/probe_damaged_shard.sh).
#include <hdf5.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "datasets/shard_file.h"

namespace {

void line(const char* fmt_, int i, const char* text = nullptr) {
  if (text) {
    std::string one(text);
    std::replace(one.begin(), one.end(), '\n', ' ');
    std::printf(fmt_, i, one.c_str());
  } else {
    std::printf(fmt_, i);
  }
  std::fflush(stdout);
}

void probe(const std::string& path) {
  tessera::ShardFile f(path, -1, /*verify_samples=*/true);
  if (f.direct_io() || f.layout().samples <= 0) return;  // reads are pread + zlib: no HDF5
  std::vector<uint8_t> buf;
  for (int64_t i : {int64_t{0}, f.layout().samples - 1}) {
    f.read_input(i, buf, "sample " + std::to_string(i));
    f.read_target(i, buf, "sample " + std::to_string(i));
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() == 1) return 3;  // the parent is already gone
  spdlog::set_level(spdlog::level::off);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const char* control = std::getenv("TESSERA_PROBE_CONTROL");
  for (int i = 0; i + 1 < argc; ++i) {
    line("begin %d\n", i);
    if (control && std::strcmp(control, "crash") == 0) ::raise(SIGSEGV);
    if (control && std::strcmp(control, "hang") == 0) {
      for (;;) ::pause();
    }
    try {
      probe(argv[i + 1]);
    } catch (const std::exception& e) {
      line("error %d %s\n", i, e.what());
    }
    line("done %d\n", i);
  }
  return 0;
}
