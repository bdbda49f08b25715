// Bad data: each case fails with a clear tessera::Error naming the file (and sample), before
// training where it can be checked up front, lazily per sample otherwise.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "data_test_util.h"
#include "datasets/dataset_reader.h"
#include "datasets/inspect_data.h"
#include "datasets/loader.h"
#include "datasets/manifest.h"

namespace tessera {
namespace {

using namespace testutil;

DataConfig small_cfg(int image_size = 8) {
  DataConfig c;
  c.batch_size = 2;
  c.image_size = image_size;
  c.loader_threads = 2;
  c.prefetch_batches = 2;
  return c;
}

TEST(BadData, MissingDirectory) {
  TempDir tmp;
  expect_error([&] { DatasetReader r(tmp.sub("nope")); }, {tmp.sub("nope"), "does not exist"});
  expect_error([&] { Loader l(small_cfg(), tmp.sub("nope"), {}); }, {"does not exist"});
}

TEST(BadData, NotADirectoryAndEmptyDirectory) {
  TempDir tmp;
  std::ofstream(tmp.sub("file")) << "x";
  expect_error([&] { DatasetReader r(tmp.sub("file")); }, {"not a directory"});
  fs::create_directories(tmp.sub("empty"));
  expect_error([&] { DatasetReader r(tmp.sub("empty")); },
               {tmp.sub("empty"), "neither manifest.json nor any *.h5"});
}

TEST(BadData, EmptyShard) {
  TempDir tmp;
  std::string dir = tmp.sub("d");
  fs::create_directories(dir);
  write_raw_shard(dir + "/s0.h5", {{"inputs", {0, 4, 4, 3}, H5T_STD_U8LE, H5T_NATIVE_UINT8},
                                   {"targets", {0, 4, 4}, H5T_STD_U8LE, H5T_NATIVE_UINT8}});
  expect_error([&] { DatasetReader r(dir); }, {"s0.h5", "empty shard"});
}

TEST(BadData, ManifestListingAnEmptyShard) {
  TempDir tmp;
  std::string dir = tmp.sub("d");
  write_dataset(dir, seg_info(4, 4), 3, 2);
  auto j = manifest_to_json(read_manifest_file(dir + "/manifest.json"));
  j["shards"][1]["samples"] = 0;
  j.erase("samples");
  std::ofstream(dir + "/manifest.json") << j.dump();
  expect_error([&] { DatasetReader r(dir); }, {"manifest.json", "shard-00001.h5", "empty shard"});
}

TEST(BadData, TruncatedShardWithManifest) {
  TempDir tmp;
  std::string dir = tmp.sub("d");
  write_dataset(dir, seg_info(8, 8), 6, 3);
  std::string shard = dir + "/shard-00001.h5";
  auto size = fs::file_size(shard);
  fs::resize_file(shard, size / 2);
  expect_error([&] { DatasetReader r(dir); },
               {"shard-00001.h5", std::to_string(size / 2) + " bytes", "truncated"});
  expect_error([&] { Loader l(small_cfg(), dir, {}); }, {"shard-00001.h5", "truncated"});
}

TEST(BadData, TruncatedShardWithoutManifest) {
  TempDir tmp;
  std::string dir = tmp.sub("d");
  write_dataset(dir, seg_info(8, 8), 6, 3);
  fs::remove(dir + "/manifest.json");
  std::string shard = dir + "/shard-00000.h5";
  fs::resize_file(shard, fs::file_size(shard) / 2);
  expect_error([&] { DatasetReader r(dir); }, {"shard-00000.h5", "truncated or corrupt"});
}

TEST(BadData, GarbageFileWithH5Extension) {
  TempDir tmp;
  std::string dir = tmp.sub("d");
  fs::create_directories(dir);
  std::ofstream(dir + "/junk.h5") << "this is not an HDF5 file";
  expect_error([&] { DatasetReader r(dir); }, {"junk.h5", "not a readable HDF5 file"});
}

TEST(BadData, ChecksumMismatchOnOpenAndInInspect) {
  TempDir tmp;
  std::string dir = tmp.sub("d");
  write_dataset(dir, seg_info(16, 16), 4, 2);
  // Flip one byte of sample data in shard 1 (same size; HDF5 still opens it).
  std::string shard = dir + "/shard-00001.h5";
  auto [addr, bytes] = chunk_location(shard, "inputs", 1);
  flip_byte(shard, addr + bytes / 2);
  expect_error([&] { DatasetReader r(dir, ReaderOptions{VerifyMode::full}); },
               {"checksum mismatch", "shard-00001.h5"});
  expect_error([&] { Loader l(small_cfg(), dir, {}); }, {"checksum mismatch", "shard-00001.h5"});
  expect_error([&] { inspect_dataset(dir, true); },
               {"1 of 2 shard(s) failed verification", "shard-00001.h5", "checksum mismatch"});
  // Size-only verification does not read the bytes.
  EXPECT_NO_THROW(DatasetReader(dir, ReaderOptions{VerifyMode::size}));
}

TEST(BadData, CorruptCompressedChunkIsReportedLazilyWithTheSample) {
  TempDir tmp;
  std::string dir = tmp.sub("d");
  DatasetInfo info = seg_info(32, 32);
  write_dataset(dir, info, 4, 4, 6);
  // Corrupt the compressed bytes of sample 2's input chunk; without checksum checks the
  // damage is found when that sample is decoded, and named.
  std::string shard = dir + "/shard-00000.h5";
  auto [addr, bytes] = chunk_location(shard, "inputs", 2);
  for (int64_t off = addr + 2; off < addr + bytes; off += 7) flip_byte(shard, off);
  DatasetReader r(dir, ReaderOptions{VerifyMode::none});
  RawSample raw;
  EXPECT_NO_THROW(r.read(1, raw));
  EXPECT_NO_THROW(r.read(3, raw));
  expect_error([&] { r.read(2, raw); },
               {"shard-00000.h5", "sample 2 (global index 2)", "corrupt", "gzip"});
}

TEST(BadData, ShapeMismatchBetweenShards) {
  TempDir tmp;
  std::string dir = tmp.sub("d");
  write_dataset(tmp.sub("a"), seg_info(8, 8), 2, 2);
  write_dataset(tmp.sub("b"), seg_info(8, 6), 2, 2);
  fs::create_directories(dir);
  fs::copy_file(tmp.sub("a") + "/shard-00000.h5", dir + "/shard-00000.h5");
  fs::copy_file(tmp.sub("b") + "/shard-00000.h5", dir + "/shard-00001.h5");
  expect_error([&] { DatasetReader r(dir); },
               {"shard-00001.h5", "(N,8,6,3)", "(N,8,8,3)", "variable image sizes"});
  // With a manifest describing the first shard's shape, the second contradicts it.
  auto m = read_manifest_file(tmp.sub("a") + "/manifest.json");
  ShardEntry e = m.shards[0];
  e.file = "shard-00001.h5";
  e.bytes = fs::file_size(dir + "/shard-00001.h5");
  e.crc32c.clear();
  m.shards.push_back(e);
  write_manifest(dir, m);
  expect_error([&] { DatasetReader r(dir); },
               {"shard-00001.h5", "inputs (N,8,6,3)", "manifest", "(N,8,8,3)"});
}

TEST(BadData, DtypeMismatchBetweenShards) {
  TempDir tmp;
  std::string dir = tmp.sub("d");
  write_dataset(tmp.sub("a"), image_info("translation", 4, 4, 3), 2, 2);
  write_dataset(tmp.sub("b"), image_info("translation", 4, 4, 3, 1, "float32"), 2, 2);
  fs::create_directories(dir);
  fs::copy_file(tmp.sub("a") + "/shard-00000.h5", dir + "/shard-00000.h5");
  fs::copy_file(tmp.sub("b") + "/shard-00000.h5", dir + "/shard-00001.h5");
  expect_error([&] { DatasetReader r(dir); }, {"shard-00001.h5", "float32", "uint8"});
}

TEST(BadData, UnsupportedDtypeAndRank) {
  TempDir tmp;
  std::string dir = tmp.sub("d");
  fs::create_directories(dir);
  std::vector<int64_t> in(2 * 4 * 4 * 3, 1);
  std::vector<uint8_t> t(2 * 4 * 4, 0);
  write_raw_shard(dir + "/s.h5",
                  {{"inputs", {2, 4, 4, 3}, H5T_STD_I64LE, H5T_NATIVE_INT64, in.data()},
                   {"targets", {2, 4, 4}, H5T_STD_U8LE, H5T_NATIVE_UINT8, t.data()}});
  expect_error([&] { DatasetReader r(dir); },
               {"s.h5", "`inputs` is int64", "uint8, uint16 or float32"});
  fs::remove(dir + "/s.h5");
  // uint16 is an input dtype (16-bit sources); targets stay uint8 or float32.
  std::vector<uint16_t> in16(2 * 4 * 4 * 3, 1000), t16(2 * 4 * 4 * 3, 0);
  write_raw_shard(dir + "/s.h5",
                  {{"inputs", {2, 4, 4, 3}, H5T_STD_U16LE, H5T_NATIVE_UINT16, in16.data()},
                   {"targets", {2, 4, 4, 3}, H5T_STD_U16LE, H5T_NATIVE_UINT16, t16.data()}});
  expect_error([&] { DatasetReader r(dir); }, {"s.h5", "`targets` is uint16", "uint8 or float32"});
  fs::remove(dir + "/s.h5");
  write_raw_shard(dir + "/s.h5",  // control: the same inputs with uint8 label maps are read
                  {{"inputs", {2, 4, 4, 3}, H5T_STD_U16LE, H5T_NATIVE_UINT16, in16.data()},
                   {"targets", {2, 4, 4}, H5T_STD_U8LE, H5T_NATIVE_UINT8, t.data()}});
  {
    DatasetReader r(dir);
    EXPECT_EQ(r.info().input_dtype, "uint16");
    RawSample raw;
    r.read(1, raw);
    uint16_t v = 0;
    std::memcpy(&v, raw.input.data() + 2 * 7, 2);
    EXPECT_EQ(v, 1000);
  }
  fs::remove(dir + "/s.h5");
  write_raw_shard(dir + "/s.h5",
                  {{"inputs", {2, 4, 4}, H5T_STD_U8LE, H5T_NATIVE_UINT8, t.data()},
                   {"targets", {2, 4, 4}, H5T_STD_U8LE, H5T_NATIVE_UINT8, t.data()}});
  expect_error([&] { DatasetReader r(dir); }, {"s.h5", "must be 4-D (N,H,W,C)"});
}

TEST(BadData, TargetsOutOfClassRangeLazilyWithSampleAndPixel) {
  // A foreign shard with 0/255 masks (a common mistake): found when the sample is read.
  TempDir tmp;
  std::string dir = tmp.sub("d");
  fs::create_directories(dir);
  std::vector<uint8_t> in(3 * 4 * 4 * 3, 9), t(3 * 4 * 4, 0);
  t[2 * 16 + 5] = 255;  // sample 2, pixel (1, 1)
  write_raw_shard(dir + "/s.h5",
                  {{"inputs", {3, 4, 4, 3}, H5T_STD_U8LE, H5T_NATIVE_UINT8, in.data(), true},
                   {"targets", {3, 4, 4}, H5T_STD_U8LE, H5T_NATIVE_UINT8, t.data(), true}});
  DatasetReader r(dir);
  RawSample raw;
  EXPECT_NO_THROW(r.read(1, raw));
  expect_error([&] { r.read(2, raw); },
               {"sample 2 (s.h5 #2)", "label 255", "(y=1, x=1)", "0..1", "not 0/255"});
  DataConfig cfg = small_cfg(4);
  cfg.batch_size = 1;
  LoaderOptions lo;
  lo.train = false;
  Loader l(cfg, dir, lo);
  l.start_epoch(0);
  EXPECT_TRUE(l.next().has_value());
  EXPECT_TRUE(l.next().has_value());
  expect_error([&] { l.next(); }, {"s.h5 #2", "label 255"});
  expect_error([&] { l.next(); }, {"s.h5 #2"});  // stays failed
}

TEST(BadData, TargetsOutOfClassRangeUpFrontFromManifest) {
  TempDir tmp;
  std::string dir = tmp.sub("d");
  write_dataset(dir, seg_info(4, 4, 3, 4), 4, 2);
  auto m = read_manifest_file(dir + "/manifest.json");
  m.info.classes = 3;  // the data holds labels 0..3
  write_manifest(dir, m);
  expect_error([&] { DatasetReader r(dir); }, {"shard-00000.h5", "label value 3", "3 classes"});
}

TEST(BadData, ManifestErrors) {
  TempDir tmp;
  std::string dir = tmp.sub("d");
  write_dataset(dir, seg_info(4, 4), 4, 2);
  std::ofstream(dir + "/manifest.json") << "{ not json";
  expect_error([&] { DatasetReader r(dir); }, {"manifest.json", "not valid JSON"});
  fs::remove(dir + "/manifest.json");
  write_dataset(tmp.sub("e"), seg_info(4, 4), 4, 2);
  fs::remove(tmp.sub("e") + "/shard-00001.h5");
  expect_error([&] { DatasetReader r(tmp.sub("e")); }, {"shard-00001.h5", "missing"});
  auto j = manifest_to_json(read_manifest_file(tmp.sub("e") + "/manifest.json"));
  j["format_version"] = 99;
  std::ofstream(tmp.sub("e") + "/manifest.json") << j.dump();
  expect_error([&] { DatasetReader r(tmp.sub("e")); }, {"format_version 99"});
  j["format_version"] = 1;
  j["targets"].erase("dtype");
  std::ofstream(tmp.sub("e") + "/manifest.json") << j.dump();
  expect_error([&] { DatasetReader r(tmp.sub("e")); }, {"missing key 'targets.dtype'"});
}

TEST(BadData, LoaderConfigAgainstData) {
  TempDir tmp;
  std::string dir = tmp.sub("d");
  write_dataset(dir, seg_info(8, 8), 4, 4);
  expect_error([&] { Loader l(small_cfg(16), dir, {}); }, {"data.image_size 16", "8x8", "<= 8"});
  DataConfig cfg = small_cfg(6);
  cfg.augment.crop = false;
  expect_error([&] { Loader l(cfg, dir, {}); }, {"data.augment.crop is off", "8x8", "6x6"});
  cfg = small_cfg(8);
  cfg.shuffle = "sometimes";
  expect_error([&] { Loader l(cfg, dir, {}); }, {"data.shuffle", "sometimes"});
  cfg = small_cfg(8);
  cfg.batch_size = 3;
  LoaderOptions lo;
  lo.size = 2;
  expect_error([&] { Loader l(cfg, dir, lo); }, {dir, "fewer than one global batch"});
  write_dataset(tmp.sub("sr"), image_info("super_resolution", 8, 8, 3, 2), 4, 4);
  lo = LoaderOptions{};
  lo.scale = 4;
  expect_error([&] { Loader l(small_cfg(8), tmp.sub("sr"), lo); },
               {"super-resolution x2", "task.scale is 4"});
}

}  // namespace
}  // namespace tessera
