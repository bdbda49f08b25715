// Shard writer/reader round trips, manifest contents, checksums, derived manifests, and writer
// validation.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <thread>

#include "data_test_util.h"
#include "datasets/checksum.h"
#include "datasets/dataset_reader.h"
#include "datasets/manifest.h"
#include "datasets/shard_file.h"

namespace tessera {
namespace {

using namespace testutil;

TEST(Crc32c, KnownVectorsAndIncremental) {
  EXPECT_EQ(crc32c(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c(0, "", 0), 0u);
  std::vector<uint8_t> zeros(32, 0);
  EXPECT_EQ(crc32c(0, zeros.data(), zeros.size()), 0x8A9136AAu);  // RFC 3720 B.4
  std::string s = "The quick brown fox jumps over the lazy dog, again and again and again.";
  uint32_t whole = crc32c(0, s.data(), s.size());
  for (size_t cut : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{33}, s.size()}) {
    EXPECT_EQ(crc32c(crc32c(0, s.data(), cut), s.data() + cut, s.size() - cut), whole);
  }
  EXPECT_EQ(crc32c_hex(0xE3069283u), "e3069283");
}

void check_roundtrip(const DatasetInfo& info, int64_t n, int64_t per_shard, int gzip) {
  TempDir tmp;
  std::string dir = tmp.sub("ds");
  write_dataset(dir, info, n, per_shard, gzip);
  Manifest m = read_manifest_file(dir + "/manifest.json");
  EXPECT_EQ(m.info, info);
  EXPECT_EQ(m.total_samples(), n);
  EXPECT_EQ(static_cast<int64_t>(m.shards.size()), (n + per_shard - 1) / per_shard);
  for (size_t s = 0; s < m.shards.size(); ++s) {
    EXPECT_EQ(m.shards[s].file, shard_file_name(static_cast<int64_t>(s)));
    FileChecksum sum = crc32c_file(dir + "/" + m.shards[s].file);
    EXPECT_EQ(m.shards[s].crc32c, crc32c_hex(sum.crc));
    EXPECT_EQ(m.shards[s].bytes, sum.bytes);
  }
  DatasetReader r(dir, ReaderOptions{VerifyMode::full, 4});
  EXPECT_EQ(r.size(), n);
  EXPECT_TRUE(r.verify_checksums().empty());
  RawSample raw;
  // Read in a scattered order (random access across shards).
  for (int64_t k = 0; k < n; ++k) {
    int64_t s = (k * 7) % n;
    r.read(s, raw);
    Sample want = make_sample(info, s);
    ASSERT_EQ(raw.input.size(), want.input.total() * want.input.elemSize());
    EXPECT_EQ(std::memcmp(raw.input.data(), want.input.data, raw.input.size()), 0) << s;
    ASSERT_EQ(raw.target.size(), want.target.total() * want.target.elemSize());
    EXPECT_EQ(std::memcmp(raw.target.data(), want.target.data, raw.target.size()), 0) << s;
    EXPECT_EQ(raw.label, info.has_labels ? want.label : 0);
  }
}

TEST(ShardIo, RoundTripLabelsUint8) {
  check_roundtrip(seg_info(12, 10, 3, 1), 23, 5, 0);
}
TEST(ShardIo, RoundTripMulticlassGzip) {
  check_roundtrip(seg_info(9, 9, 1, 5), 11, 4, 4);
}
TEST(ShardIo, RoundTripFloatImagesGzip) {
  check_roundtrip(image_info("denoising", 8, 8, 3, 1, "float32"), 7, 3, 6);
}
TEST(ShardIo, RoundTripSuperResolution) {
  check_roundtrip(image_info("super_resolution", 16, 12, 3, 4), 6, 4, 1);
}
TEST(ShardIo, RoundTripAnomalyLabels) {
  DatasetInfo i = image_info("anomaly", 8, 8, 1);
  i.has_labels = true;
  check_roundtrip(i, 9, 4, 0);
}

TEST(ShardIo, ShardFileLayoutUsesOneSampleChunksAndAttributes) {
  TempDir tmp;
  DatasetInfo info = seg_info(6, 5, 2, 3);
  write_dataset(tmp.sub("d"), info, 5, 8, 3);
  ShardFile f(tmp.sub("d") + "/shard-00000.h5");
  const ShardLayout& l = f.layout();
  EXPECT_EQ(l.samples, 5);
  EXPECT_EQ(l.input_shape, (std::vector<int64_t>{6, 5, 2}));
  EXPECT_EQ(l.target_shape, (std::vector<int64_t>{6, 5}));
  EXPECT_TRUE(l.one_sample_chunks);
  EXPECT_EQ(l.format_version.value_or(0), kShardFormatVersion);
  EXPECT_EQ(l.task.value_or(""), "segmentation");
  EXPECT_EQ(l.target_kind.value_or(""), "labels");
  EXPECT_EQ(l.classes.value_or(0), 3);
}

TEST(ShardIo, ManifestJsonRoundTripAndTargetMax) {
  TempDir tmp;
  DatasetInfo info = seg_info(6, 6, 1, 4);
  write_dataset(tmp.sub("d"), info, 10, 4);
  Manifest m = read_manifest_file(tmp.sub("d") + "/manifest.json");
  for (const auto& s : m.shards) EXPECT_EQ(s.target_max, 3);
  nlohmann::json j = manifest_to_json(m);
  EXPECT_EQ(j["format"], "tessera-dataset");
  EXPECT_EQ(j["samples"], 10);
  EXPECT_EQ(j["inputs"]["shape"], (std::vector<int>{6, 6, 1}));
  EXPECT_EQ(j["targets"]["classes"], 4);
  Manifest back = manifest_from_json(j, "test");
  EXPECT_EQ(back.info, m.info);
  EXPECT_EQ(back.shards.size(), m.shards.size());
  EXPECT_EQ(back.shards[1].crc32c, m.shards[1].crc32c);
}

TEST(ShardIo, DerivedManifestWhenManifestIsMissing) {
  TempDir tmp;
  std::string dir = tmp.sub("d");
  DatasetInfo info = seg_info(7, 7, 3, 1);
  write_dataset(dir, info, 9, 4);
  fs::remove(dir + "/manifest.json");
  Manifest m = load_manifest(dir);
  EXPECT_TRUE(m.derived);
  EXPECT_EQ(m.info, info);
  EXPECT_EQ(m.total_samples(), 9);
  DatasetReader r(dir);
  RawSample raw;
  r.read(8, raw);
  Sample want = make_sample(info, 8);
  EXPECT_EQ(std::memcmp(raw.input.data(), want.input.data, raw.input.size()), 0);
  ASSERT_EQ(r.verify_checksums().size(), 1u);
  EXPECT_NE(r.verify_checksums()[0].find("no manifest.json"), std::string::npos);
}

TEST(ShardIo, ForeignContiguousBigEndianShardIsReadThroughConversion) {
  // h5py defaults: contiguous layout; here also big-endian floats (non-native): the reader
  // must fall back to hyperslab reads with conversion.
  TempDir tmp;
  std::string dir = tmp.sub("d");
  fs::create_directories(dir);
  const int n = 3, h = 4, w = 5;
  std::vector<float> in(n * h * w * 1);
  for (size_t k = 0; k < in.size(); ++k) in[k] = static_cast<float>(k) / in.size();
  std::vector<uint8_t> tg(n * h * w);
  for (size_t k = 0; k < tg.size(); ++k) tg[k] = k % 2;
  write_raw_shard(dir + "/a.h5",
                  {{"inputs", {n, h, w, 1}, H5T_IEEE_F32BE, H5T_NATIVE_FLOAT, in.data()},
                   {"targets", {n, h, w}, H5T_STD_U8LE, H5T_NATIVE_UINT8, tg.data()}});
  DatasetReader r(dir);
  EXPECT_EQ(r.info().task, "segmentation");  // default for label maps without `task`
  EXPECT_EQ(r.info().input_dtype, "float32");
  RawSample raw;
  r.read(2, raw);
  ASSERT_EQ(raw.input.size(), size_t{h * w * 4});
  float v;
  std::memcpy(&v, raw.input.data() + 4 * 7, 4);
  EXPECT_FLOAT_EQ(v, in[2 * h * w + 7]);
  EXPECT_EQ(raw.target[3], tg[2 * h * w + 3]);
}

TEST(ShardIo, DirectIoForOwnLayoutHdf5ForOthersAndUserBlocksHonoured) {
  TempDir tmp;
  DatasetInfo info = seg_info(6, 6, 3, 1);
  write_dataset(tmp.sub("own"), info, 3, 3, 2);
  EXPECT_TRUE(ShardFile(tmp.sub("own") + "/shard-00000.h5").direct_io());
  // A foreign file with a 1 KiB user block (h5py: userblock_size=1024) and one-sample chunks:
  // chunk addresses are relative to the user block; direct reads must add it.
  std::string dir = tmp.sub("ub");
  fs::create_directories(dir);
  const int n = 4;
  std::vector<uint8_t> in(n * 6 * 6 * 3), tg(n * 6 * 6);
  for (size_t k = 0; k < in.size(); ++k) in[k] = static_cast<uint8_t>(k * 13);
  for (size_t k = 0; k < tg.size(); ++k) tg[k] = static_cast<uint8_t>((k / 5) % 2);
  {
    H5Id fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
    H5Pset_userblock(fcpl.get(), 1024);
    H5Id f(H5Fcreate((dir + "/ub.h5").c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), H5Fclose);
    ASSERT_TRUE(f);
    for (auto [name, rank, data] :
         {std::tuple{"inputs", 4, static_cast<const void*>(in.data())},
          std::tuple{"targets", 3, static_cast<const void*>(tg.data())}}) {
      std::vector<hsize_t> dims = {n, 6, 6, 3};
      dims.resize(static_cast<size_t>(rank));
      std::vector<hsize_t> chunk = dims;
      chunk[0] = 1;
      H5Id space(H5Screate_simple(rank, dims.data(), nullptr), H5Sclose);
      H5Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
      H5Pset_chunk(dcpl.get(), rank, chunk.data());
      H5Id ds(H5Dcreate2(f.get(), name, H5T_STD_U8LE, space.get(), H5P_DEFAULT, dcpl.get(),
                         H5P_DEFAULT),
              H5Dclose);
      ASSERT_GE(H5Dwrite(ds.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
    }
  }
  ShardFile f(dir + "/ub.h5");
  EXPECT_TRUE(f.direct_io());
  std::vector<uint8_t> got;
  for (int k = 0; k < n; ++k) {
    f.read_input(k, got, "test");
    EXPECT_EQ(std::memcmp(got.data(), in.data() + k * 108, 108), 0) << k;
    f.read_target(k, got, "test");
    EXPECT_EQ(std::memcmp(got.data(), tg.data() + k * 36, 36), 0) << k;
  }
  // h5py's default contiguous layout goes through HDF5.
  write_raw_shard(tmp.sub("c.h5"),
                  {{"inputs", {n, 6, 6, 3}, H5T_STD_U8LE, H5T_NATIVE_UINT8, in.data()},
                   {"targets", {n, 6, 6}, H5T_STD_U8LE, H5T_NATIVE_UINT8, tg.data()}});
  ShardFile c(tmp.sub("c.h5"));
  EXPECT_FALSE(c.direct_io());
  c.read_input(3, got, "test");
  EXPECT_EQ(std::memcmp(got.data(), in.data() + 3 * 108, 108), 0);
}

TEST(ShardIo, ConcurrentReadsFromManyThreadsAreCorrect) {
  TempDir tmp;
  DatasetInfo info = seg_info(10, 10, 3, 2);
  // Two directories: direct I/O (own layout, gzip) and HDF5-backed (no manifest, contiguous
  // copy written by the raw helper), each read by 6 threads at once with small caches.
  write_dataset(tmp.sub("d"), info, 60, 7, 3);
  fs::create_directories(tmp.sub("h"));
  for (int part = 0; part < 3; ++part) {  // 3 contiguous shards of 20 samples
    std::vector<uint8_t> in, tg;
    for (int64_t s = part * 20; s < part * 20 + 20; ++s) {
      Sample smp = make_sample(info, s);
      in.insert(in.end(), smp.input.data, smp.input.data + smp.input.total() * 3);
      tg.insert(tg.end(), smp.target.data, smp.target.data + smp.target.total());
    }
    write_raw_shard(tmp.sub("h") + "/p" + std::to_string(part) + ".h5",
                    {{"inputs", {20, 10, 10, 3}, H5T_STD_U8LE, H5T_NATIVE_UINT8, in.data()},
                     {"targets", {20, 10, 10}, H5T_STD_U8LE, H5T_NATIVE_UINT8, tg.data()}},
                    {}, {{"classes", 2}});
  }
  DatasetReader direct(tmp.sub("d"), ReaderOptions{VerifyMode::size, 2, 3});
  DatasetReader hdf5(tmp.sub("h"), ReaderOptions{VerifyMode::size, 2, 3});
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      RawSample raw;
      const DatasetReader& r = t % 2 ? direct : hdf5;
      for (int rep = 0; rep < 5; ++rep) {
        for (int64_t k = 0; k < 60; ++k) {
          int64_t s = (k * 17 + t * 5 + rep) % 60;
          r.read(s, raw);
          Sample want = make_sample(info, s);
          if (std::memcmp(raw.input.data(), want.input.data, raw.input.size()) != 0 ||
              std::memcmp(raw.target.data(), want.target.data, raw.target.size()) != 0) {
            ++bad;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(ShardIo, WriterValidatesEverySample) {
  TempDir tmp;
  DatasetInfo info = seg_info(8, 8, 3, 1);
  {
    DatasetWriter w(tmp.sub("a"), info, 4);
    w.add(make_sample(info, 0));
    Sample bad = make_sample(info, 1);
    bad.input = cv::Mat(8, 7, CV_8UC3, cv::Scalar(0));
    expect_error([&] { w.add(bad); }, {"sample 1", "input is 8x7x3 uint8", "expected 8x8x3"});
    bad = make_sample(info, 1);
    bad.input.convertTo(bad.input, CV_32F);
    expect_error([&] { w.add(bad); }, {"sample 1", "float32", "expected 8x8x3 uint8"});
    bad = make_sample(info, 1);
    bad.target.at<uint8_t>(3, 3) = 255;
    expect_error([&] { w.add(bad); }, {"sample 1", "label value 255", "0/1, not 0/255"});
    // Destroyed without finish(): partial files are removed, no manifest.
  }
  EXPECT_FALSE(fs::exists(tmp.sub("a") + "/manifest.json"));
  EXPECT_FALSE(fs::exists(tmp.sub("a") + "/shard-00000.h5"));
  EXPECT_FALSE(fs::exists(tmp.sub("a") + "/shard-00000.h5.tmp"));
  DatasetInfo fi = image_info("translation", 4, 4, 3, 1, "float32");
  DatasetWriter w(tmp.sub("b"), fi, 4);
  Sample nan = make_sample(fi, 0);
  nan.input.at<cv::Vec3f>(1, 1)[0] = std::nanf("");
  expect_error([&] { w.add(nan); }, {"sample 0", "NaN"});
  expect_error([&] { w.finish(); }, {"no samples"});
}

TEST(ShardIo, WriterRefusesBadInfoAndOverwrite) {
  TempDir tmp;
  DatasetInfo info = seg_info(8, 8);
  info.task = "segmentaton";
  expect_error([&] { DatasetWriter w(tmp.sub("x"), info, 4); }, {"segmentaton"});
  info = image_info("super_resolution", 10, 10, 3, 3);
  expect_error([&] { DatasetWriter w(tmp.sub("x"), info, 4); }, {"integer multiple"});
  info = seg_info(8, 8);
  info.target_channels = 1;
  expect_error([&] { DatasetWriter w(tmp.sub("x"), info, 4); }, {"target_channels must be 0"});
  write_dataset(tmp.sub("y"), seg_info(4, 4), 2, 2);
  expect_error([&] { DatasetWriter w(tmp.sub("y"), seg_info(4, 4), 4); },
               {"refusing to overwrite"});
}

}  // namespace
}  // namespace tessera
