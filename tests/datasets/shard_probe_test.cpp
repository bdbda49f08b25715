// The shard probe (datasets/shard_probe.h): shards no checksum vouches for are parsed in
// tessera-shard-probe first, and a crash or a hang there is an Error naming the shard. The
// crash and the hang are planted (TESSERA_PROBE_CONTROL, shard_probe_main.cpp); real damaged
// copies that crash HDF5 1.10.8 go through the probe in corruption_sweep_test.cpp.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>

#include "data_test_util.h"
#include "datasets/dataset_reader.h"
#include "datasets/loader.h"

namespace tessera {
namespace {

using testutil::expect_error;
using testutil::TempDir;
namespace fs = std::filesystem;

// Sets TESSERA_PROBE_CONTROL for the probe children of one test.
struct Control {
  explicit Control(const char* what) { ::setenv("TESSERA_PROBE_CONTROL", what, 1); }
  ~Control() { ::unsetenv("TESSERA_PROBE_CONTROL"); }
};

std::string dataset(const TempDir& tmp, bool manifest) {
  const std::string dir = tmp.sub("d");
  testutil::write_dataset(dir, testutil::seg_info(8, 8), 6, 3);
  if (!manifest) fs::remove(dir + "/manifest.json");
  return dir;
}

TEST(ShardProbe, IsBuiltBesideTheTestsAndTessera) {
  EXPECT_FALSE(default_probe_executable().empty())
      << "no tessera-shard-probe beside " << fs::read_symlink("/proc/self/exe");
}

TEST(ShardProbe, UnprobedManifestLessShardsOpen) {  // control of the next ones
  TempDir tmp;
  const std::string dir = dataset(tmp, false);
  Control crash("crash");
  ReaderOptions ro = reader_options_for_training();
  ro.probe_unverified = false;
  EXPECT_EQ(DatasetReader(dir, ro).size(), 6);
}

TEST(ShardProbe, ManifestLessShardsOpenThroughTheProbe) {
  TempDir tmp;
  EXPECT_EQ(DatasetReader(dataset(tmp, false), reader_options_for_training()).size(), 6);
}

TEST(ShardProbe, ACrashInTheProbeIsAnErrorNamingTheShard) {
  TempDir tmp;
  const std::string dir = dataset(tmp, false);
  Control crash("crash");
  // An ASan build of the probe reports the SIGSEGV itself and exits 1.
#if defined(__SANITIZE_ADDRESS__)
  const char* how = "HDF5 crashed (the probe exited with status 1 mid-shard) while parsing shard";
#else
  const char* how = "HDF5 crashed (signal 11 (SIGSEGV)) while parsing shard";
#endif
  expect_error([&] { DatasetReader r(dir, reader_options_for_training()); },
               {how, "shard-00000.h5", "no manifest.json", "tessera inspect --write-manifest"});
}

TEST(ShardProbe, AHangInTheProbeIsKilledAfterTheTimeout) {
  TempDir tmp;
  const std::string dir = dataset(tmp, false);
  Control hang("hang");
  ReaderOptions ro = reader_options_for_training();
  ro.probe.timeout_s = 1;
  const auto start = std::chrono::steady_clock::now();
  expect_error([&] { DatasetReader r(dir, ro); }, {"did not finish within 1 s", "shard-00000.h5"});
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(s, 15) << "the hang was not cut at the timeout";
}

TEST(ShardProbe, ShardsVerifiedByTheirManifestAreNotProbed) {
  TempDir tmp;
  const std::string dir = dataset(tmp, true);
  Control crash("crash");  // would fail the open if a probe ran
  EXPECT_EQ(DatasetReader(dir, reader_options_for_training()).size(), 6);
}

TEST(ShardProbe, DatasetsOverTheFullVerifyLimitAreProbed) {
  TempDir tmp;
  const std::string dir = dataset(tmp, true);
  Control crash("crash");
  ReaderOptions ro = reader_options_for_training();
  ro.full_verify_limit = 1;  // this dataset is "too large" to checksum at open
  expect_error([&] { DatasetReader r(dir, ro); },
               {"HDF5 crashed", "shard-00000.h5", "whole-file check limit"});
}

TEST(ShardProbe, AShardTheProbeRefusesIsNotParsedAgainHere) {
  // A manifest-less shard whose target_kind says 'image' while its targets are label maps (what
  // a damaged variable-length string can read as): the probe refuses it, and the open ends with
  // the probe's message instead of parsing the shard again in this process.
  TempDir tmp;
  const std::string dir = tmp.sub("d");
  fs::create_directories(dir);
  std::vector<uint8_t> in(2 * 4 * 4 * 3, 1), t(2 * 4 * 4, 0);
  testutil::write_raw_shard(dir + "/s.h5",
                            {{"inputs", {2, 4, 4, 3}, H5T_STD_U8LE, H5T_NATIVE_UINT8, in.data()},
                             {"targets", {2, 4, 4}, H5T_STD_U8LE, H5T_NATIVE_UINT8, t.data()}},
                            {{"target_kind", "image"}});
  expect_error([&] { DatasetReader r(dir, reader_options_for_training()); },
               {"s.h5", "which no checksum vouches for", "is refused (parsed in a separate process",
                "attribute target_kind is 'image' but `targets` has the shape of label maps"});
  // Control: without the probe, this process's own open refuses it (no probe in the message).
  ReaderOptions ro = reader_options_for_training();
  ro.probe_unverified = false;
  const std::string own = testutil::error_of([&] { DatasetReader r(dir, ro); });
  EXPECT_NE(own.find("attribute target_kind is 'image'"), std::string::npos) << own;
  EXPECT_EQ(own.find("separate process"), std::string::npos) << own;
}

TEST(ShardProbe, AProbeThatCannotStartIsAClearError) {
  TempDir tmp;
  const std::string dir = dataset(tmp, false);
  ReaderOptions ro = reader_options_for_training();
  ro.probe.executable = tmp.sub("no-such-probe");
  expect_error([&] { DatasetReader r(dir, ro); }, {"shard probe: cannot start", "no-such-probe"});
}

}  // namespace
}  // namespace tessera
