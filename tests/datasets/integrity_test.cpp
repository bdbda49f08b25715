// Per-sample checksums (sample_crc32c) and checksum-before-parse in inspect (issue 13, finding 3):
// a flipped byte in an uncompressed chunk of a dataset too large for whole-file checks is caught
// when that sample is read, naming the file, dataset and sample; controls show the same damage
// reads silently without the check.
#include <gtest/gtest.h>

#include "data_test_util.h"
#include "datasets/checksum.h"
#include "datasets/dataset_reader.h"
#include "datasets/inspect_data.h"
#include "datasets/integrity.h"
#include "datasets/manifest.h"
#include "datasets/shard_file.h"
#include "tests/log_capture.h"

namespace tessera {
namespace {

using testutil::chunk_location;
using testutil::expect_error;
using testutil::flip_byte;
using testutil::TempDir;
using testutil::write_dataset;
namespace fs = std::filesystem;

// Whole-file CRCs are skipped (as for datasets over 1 GiB); sizes and per-sample CRCs are checked.
ReaderOptions large_dataset_options() {
  ReaderOptions ro;
  ro.verify = VerifyMode::full;
  ro.full_verify_limit = 0;
  return ro;
}

using testutil::LogCapture;

TEST(Integrity, WriterStoresOneCrcPairPerSampleAndTheManifestSaysSo) {
  TempDir tmp;
  const std::string dir = tmp.sub("d");
  DatasetInfo info = testutil::seg_info(8, 8);
  write_dataset(dir, info, 5, 3);
  Manifest m = read_manifest_file(dir + "/manifest.json");
  ASSERT_EQ(m.shards.size(), 2u);
  EXPECT_TRUE(m.shards[0].sample_crc32c && m.shards[1].sample_crc32c);
  ShardFile f(dir + "/shard-00001.h5", 2);
  EXPECT_TRUE(f.layout().has_sample_crc);
  // The stored value is CRC32C of the sample's bytes as written (sample 3 = shard 1 #0).
  Sample s = testutil::make_sample(info, 3);
  std::vector<uint8_t> got;
  f.read_input(0, got, "sample 0");
  EXPECT_EQ(got, std::vector<uint8_t>(s.input.data, s.input.data + s.input.total() * 3));
}

TEST(Integrity, FlippedByteInAnUncompressedChunkIsCaughtWhenTheSampleIsRead) {
  TempDir tmp;
  const std::string dir = tmp.sub("d");
  write_dataset(dir, testutil::seg_info(16, 16), 6, 6, /*gzip=*/0);
  const std::string shard = dir + "/shard-00000.h5";
  auto [in_addr, in_bytes] = chunk_location(shard, "inputs", 2);
  auto [t_addr, t_bytes] = chunk_location(shard, "targets", 4);
  ASSERT_EQ(in_bytes, 16 * 16 * 3);  // stored raw: no codec would notice the damage
  flip_byte(shard, in_addr + 100);
  flip_byte(shard, t_addr + 7);

  DatasetReader r(dir, large_dataset_options());  // opens: sizes unchanged, no whole-file CRC
  RawSample raw;
  EXPECT_NO_THROW(r.read(1, raw));
  EXPECT_NO_THROW(r.read(3, raw));
  expect_error([&] { r.read(2, raw); },
               {"shard-00000.h5", "`inputs`", "sample 2 (global index 2)", "corrupt", "CRC32C"});
  expect_error([&] { r.read(4, raw); },
               {"shard-00000.h5", "`targets`", "sample 4 (global index 4)", "CRC32C"});

  // Control: without per-sample checks the damaged sample reads without a word, and differs.
  DatasetReader unchecked(dir, ReaderOptions{VerifyMode::none});
  ASSERT_NO_THROW(unchecked.read(2, raw));
  const Sample want = testutil::make_sample(testutil::seg_info(16, 16), 2);
  EXPECT_NE(raw.input, std::vector<uint8_t>(want.input.data, want.input.data + in_bytes));
  // And a dataset small enough for whole-file checks refuses it at open, as before.
  expect_error([&] { DatasetReader full(dir, ReaderOptions{VerifyMode::full}); },
               {"checksum mismatch", "shard-00000.h5"});
}

TEST(Integrity, ImageLevelLabelsAreCoveredByTheTargetCrc) {
  TempDir tmp;
  const std::string dir = tmp.sub("d");
  DatasetInfo info = testutil::image_info("anomaly", 8, 8, 3);
  info.has_labels = true;
  write_dataset(dir, info, 4, 4);
  const std::string shard = dir + "/shard-00000.h5";
  {  // Rewrite labels[1] in place (same file size): a label flip a size check cannot see.
    H5Id f(H5Fopen(shard.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    H5Id ds(H5Dopen2(f.get(), "labels", H5P_DEFAULT), H5Dclose);
    int32_t labels[4] = {1, 7, 0, 1};
    ASSERT_GE(H5Dwrite(ds.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels), 0);
  }
  DatasetReader r(dir, large_dataset_options());
  RawSample raw;
  EXPECT_NO_THROW(r.read(0, raw));
  expect_error([&] { r.read(1, raw); }, {"`targets`", "sample 1 (global index 1)", "CRC32C"});
}

TEST(Integrity, ShardsWithoutPerSampleCrcsStayReadableAndTheLargeDatasetWarningSaysSo) {
  TempDir tmp;
  const std::string dir = tmp.sub("d");
  write_dataset(dir, testutil::seg_info(8, 8), 3, 3);
  const std::string shard = dir + "/shard-00000.h5";
  {  // An older tessera's shard: no sample_crc32c (and a manifest that does not claim one).
    H5Id f(H5Fopen(shard.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    ASSERT_GE(H5Ldelete(f.get(), kSampleCrcName, H5P_DEFAULT), 0);
  }
  Manifest m = read_manifest_file(dir + "/manifest.json");
  m.shards[0].sample_crc32c = false;
  m.shards[0].bytes = crc32c_file(shard).bytes;
  m.shards[0].crc32c = crc32c_hex(crc32c_file(shard).crc);
  write_manifest(dir, m);
  {
    LogCapture log;
    DatasetReader r(dir, large_dataset_options());
    RawSample raw;
    EXPECT_NO_THROW(r.read(2, raw));
    EXPECT_NE(log.text().find("NOT verified as read"), std::string::npos) << log.text();
  }
  // The manifest claims per-sample checksums the shard lacks: a replaced file, refused.
  m.shards[0].sample_crc32c = true;
  write_manifest(dir, m);
  expect_error([&] { DatasetReader r(dir, large_dataset_options()); },
               {"shard-00000.h5", "lacks the `sample_crc32c`"});
}

TEST(Integrity, LargeDatasetWithPerSampleCrcsSaysSamplesAreVerified) {
  TempDir tmp;
  const std::string dir = tmp.sub("d");
  write_dataset(dir, testutil::seg_info(8, 8), 3, 3);
  LogCapture log;
  DatasetReader r(dir, large_dataset_options());
  EXPECT_NE(log.text().find("each sample's CRC32C as it is read"), std::string::npos) << log.text();
}

TEST(Integrity, HostileSampleCrcDatasetIsRefusedNamingTheFile) {
  TempDir tmp;
  const std::string path = tmp.sub("s.h5");
  std::vector<uint8_t> in(2 * 4 * 4 * 3, 1), tg(2 * 4 * 4, 0);
  std::vector<uint32_t> crcs(2 * 3, 0);
  testutil::write_raw_shard(
      path, {{"inputs", {2, 4, 4, 3}, H5T_STD_U8LE, H5T_NATIVE_UINT8, in.data(), true},
             {"targets", {2, 4, 4}, H5T_STD_U8LE, H5T_NATIVE_UINT8, tg.data(), true},
             {kSampleCrcName, {2, 3}, H5T_STD_U32LE, H5T_NATIVE_UINT32, crcs.data()}});
  expect_error([&] { ShardFile f(path); }, {path, "`sample_crc32c` must be (2,2) uint32"});
}

TEST(Integrity, InspectVerifiesChecksumsBeforeHdf5ParsesTheFile) {
  TempDir tmp;
  const std::string dir = tmp.sub("d");
  write_dataset(dir, testutil::seg_info(8, 8), 4, 2);
  const std::string shard = dir + "/shard-00001.h5";
  for (int k = 0; k < 8; ++k) flip_byte(shard, k);  // the HDF5 signature: unparseable superblock
  expect_error([&] { inspect_dataset(dir, /*verify=*/true); },
               {"1 of 2 shard(s) failed verification", "shard-00001.h5", "checksum mismatch"});
  // Control: without --verify the same file reaches HDF5 and fails there, with a vaguer message.
  try {
    inspect_dataset(dir, /*verify=*/false);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("checksum mismatch"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("shard-00001.h5"), std::string::npos) << e.what();
  }
}

TEST(Integrity, WriteManifestForAnH5pyDatasetRecordsChecksumsAndRefusesToReplaceOne) {
  TempDir tmp;
  const std::string dir = tmp.sub("d");
  write_dataset(tmp.sub("src"), testutil::seg_info(8, 8), 4, 4);
  fs::create_directories(dir);
  fs::copy_file(tmp.sub("src") + "/shard-00000.h5", dir + "/a.h5");
  EXPECT_NE(inspect_dataset(dir, true).find("write-manifest"), std::string::npos);
  Manifest m = write_derived_manifest(dir);
  ASSERT_EQ(m.shards.size(), 1u);
  EXPECT_EQ(m.shards[0].crc32c, crc32c_hex(crc32c_file(dir + "/a.h5").crc));
  EXPECT_TRUE(m.shards[0].sample_crc32c);  // tessera-written shard: it has them
  EXPECT_NE(inspect_dataset(dir, true).find("all 1 shard(s) OK"), std::string::npos);
  expect_error([&] { write_derived_manifest(dir); }, {dir, "already has a manifest.json"});
  flip_byte(dir + "/a.h5", fs::file_size(dir + "/a.h5") / 2);
  expect_error([&] { inspect_dataset(dir, true); }, {"a.h5", "checksum mismatch"});
}

}  // namespace
}  // namespace tessera
