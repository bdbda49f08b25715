// Hostile and malformed inputs (issue 13, findings 2 and 9): shard files whose dimensions,
// chunk sizes or string attributes claim more than the file holds, and manifests whose numbers
// are out of range (huge, negative, fractional, beyond int). Each gets a tessera::Error naming
// the file and the key, before anything is allocated from the claim -- never bad_alloc, never
// gigabytes of memory, never a silently truncated value. The shards are made with the HDF5 C
// API; the chunk-size case patches the size field of a v1 B-tree key in the file's bytes.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <limits>
#include <typeinfo>

#include "data_test_util.h"
#include "datasets/dataset_reader.h"
#include "datasets/manifest.h"
#include "datasets/shard_file.h"

namespace tessera {
namespace {

using namespace testutil;
using nlohmann::json;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Anything but a tessera::Error (bad_alloc, length_error) fails the test with its type.
void expect_tessera_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    expect_error(fn, parts);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected a tessera::Error, got " << typeid(e).name() << ": " << e.what();
  }
}

constexpr hsize_t kHuge = hsize_t{1} << 40;

TEST(HostileShard, DimensionsClaimingMoreSamplesThanTheFileHolds) {
  TempDir tmp;
  const std::string path = tmp.sub("s.h5");
  // Chunked one sample per chunk (the direct layout), nothing written: a few KiB of file that
  // says 2^40 samples (the index alone would take 16 TiB).
  write_raw_shard(path,
                  {{"inputs", {kHuge, 4, 4, 3}, H5T_STD_U8LE, H5T_NATIVE_UINT8, nullptr, true},
                   {"targets", {kHuge, 4, 4}, H5T_STD_U8LE, H5T_NATIVE_UINT8, nullptr, true}});
  expect_tessera_error([&] { ShardFile f(path); },
                       {path, "1099511627776 samples", "cannot be stored in a file of"});
  // With a manifest, its count is checked first.
  Manifest m;
  m.info = seg_info(4, 4);
  m.shards.push_back({"s.h5", 2, fs::file_size(path), "", -1});
  write_manifest(tmp.str(), m);
  expect_tessera_error([&] { DatasetReader r(tmp.str()); },
                       {path, "holds 1099511627776 samples but the manifest says 2"});
}

TEST(HostileShard, ContiguousDatasetsAndLabelsClaimingTooMuch) {
  TempDir tmp;
  const std::string path = tmp.sub("s.h5");
  // Contiguous (HDF5's default) datasets are allocated late: the file stays tiny. `labels`
  // would be read into 4 TiB of memory.
  write_raw_shard(path, {{"inputs", {kHuge, 4, 4, 3}, H5T_STD_U8LE, H5T_NATIVE_UINT8},
                         {"targets", {kHuge, 4, 4}, H5T_STD_U8LE, H5T_NATIVE_UINT8},
                         {"labels", {kHuge}, H5T_STD_I32LE, H5T_NATIVE_INT32}});
  expect_tessera_error([&] { ShardFile f(path); }, {path, "cannot be stored in a file of"});
  // One sample of 2^50 bytes.
  const std::string big = tmp.sub("big.h5");
  write_raw_shard(big, {{"inputs", {1, 1 << 20, 1 << 20, 1024}, H5T_STD_U8LE, H5T_NATIVE_UINT8},
                        {"targets", {1, 4, 4}, H5T_STD_U8LE, H5T_NATIVE_UINT8}});
  expect_tessera_error([&] { ShardFile f(big); }, {big, "`inputs`", "bytes"});
}

// Patches the stored size of `dataset`'s chunk of sample `k` in a v1 B-tree key: u32 size,
// u32 filter mask, then (rank + 1) u64 offsets (k, 0, ...).
void patch_chunk_size(const std::string& path, const std::string& dataset, uint64_t k, int rank,
                      uint32_t new_size) {
  const auto [addr, size] = chunk_location(path, dataset, static_cast<int64_t>(k));
  (void)addr;
  std::string key(8 + 8 * static_cast<size_t>(rank + 1), '\0');
  const uint32_t size32 = static_cast<uint32_t>(size);
  std::memcpy(&key[0], &size32, 4);
  std::memcpy(&key[8], &k, 8);
  std::string bytes = slurp(path);
  const size_t at = bytes.find(key);
  ASSERT_NE(at, std::string::npos) << "B-tree key of chunk " << k << " not found";
  ASSERT_EQ(bytes.find(key, at + 1), std::string::npos) << "B-tree key not unique";
  std::memcpy(&bytes[at], &new_size, 4);
  spit(path, bytes);
  ASSERT_EQ(chunk_location(path, dataset, static_cast<int64_t>(k)).second, new_size);
}

TEST(HostileShard, CompressedChunkLargerThanCompressBoundOfTheSample) {
  TempDir tmp;
  const std::string path = tmp.sub("s.h5");
  std::vector<uint8_t> in(3 * 8 * 8 * 3), t(3 * 8 * 8, 0);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<uint8_t>(i * 7);
  write_raw_shard(path,
                  {{"inputs", {3, 8, 8, 3}, H5T_STD_U8LE, H5T_NATIVE_UINT8, in.data(), true, 6},
                   {"targets", {3, 8, 8}, H5T_STD_U8LE, H5T_NATIVE_UINT8, t.data(), true, 6}});
  EXPECT_TRUE(ShardFile(path).direct_io());  // control: the untouched file opens
  // A 192-byte sample's chunk "stored as" 2 GiB: before the bound, the first read allocated
  // (and zero-filled) a 2 GiB thread_local buffer that never shrank.
  patch_chunk_size(path, "inputs", 1, 4, 0x7ffffff0u);
  expect_tessera_error([&] { ShardFile f(path); },
                       {path, "`inputs` of sample 1", "2147483632 bytes", "compressBound"});
}

TEST(HostileShard, UncompressedChunkOfTheWrongSizeOrBeyondTheFile) {
  TempDir tmp;
  const std::string path = tmp.sub("s.h5");
  std::vector<uint8_t> in(2 * 4 * 4 * 3, 5), t(2 * 4 * 4, 0);
  write_raw_shard(path, {{"inputs", {2, 4, 4, 3}, H5T_STD_U8LE, H5T_NATIVE_UINT8, in.data(), true},
                         {"targets", {2, 4, 4}, H5T_STD_U8LE, H5T_NATIVE_UINT8, t.data(), true}});
  EXPECT_TRUE(ShardFile(path).direct_io());
  patch_chunk_size(path, "targets", 1, 3, 1u << 30);
  expect_tessera_error([&] { ShardFile f(path); }, {path, "`targets` of sample 1", "exactly 16"});
}

TEST(HostileShard, HugeFixedLengthStringAttribute) {
  TempDir tmp;
  const std::string path = tmp.sub("s.h5");
  std::vector<uint8_t> in(2 * 4 * 4 * 3, 5), t(2 * 4 * 4, 0);
  write_raw_shard(path, {{"inputs", {2, 4, 4, 3}, H5T_STD_U8LE, H5T_NATIVE_UINT8, in.data(), true},
                         {"targets", {2, 4, 4}, H5T_STD_U8LE, H5T_NATIVE_UINT8, t.data(), true}});
  {
    // A 16 KiB fixed-length `task` string (where "segmentation" takes 12 bytes).
    H5Id f(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    ASSERT_TRUE(f);
    H5Id type(H5Tcopy(H5T_C_S1), H5Tclose);
    const size_t n = size_t{16} << 10;
    H5Tset_size(type.get(), n);
    H5Id space(H5Screate(H5S_SCALAR), H5Sclose);
    H5Id attr(H5Acreate2(f.get(), "task", type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
    ASSERT_TRUE(attr);
    std::string text(n, 'x');
    ASSERT_GE(H5Awrite(attr.get(), type.get(), text.data()), 0);
  }
  expect_tessera_error([&] { ShardFile f(path); },
                       {path, "attribute 'task'", "16384-byte string", "at most 4096"});
}

// A valid manifest of two shards, as JSON, to be damaged by each case.
json good_manifest(const TempDir& tmp) {
  write_dataset(tmp.sub("d"), seg_info(4, 4), 4, 2);
  return manifest_to_json(read_manifest_file(tmp.sub("d") + "/manifest.json"));
}

void expect_manifest_error(const json& j, const std::vector<std::string>& parts) {
  expect_tessera_error([&] { manifest_from_json(j, "m.json"); }, parts);
}

TEST(HostileManifest, NumbersOutOfRangeAreRefusedNotConverted) {
  TempDir tmp;
  const json good = good_manifest(tmp);
  EXPECT_NO_THROW(manifest_from_json(good, "m.json"));  // control
  struct Case {
    std::function<void(json&)> damage;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      // double -> integer conversions that were undefined behaviour:
      {[](json& j) { j["shards"][0]["samples"] = 1e300; },
       {"shards[shard-00000.h5].samples", "1e+300"}},
      {[](json& j) { j["inputs"]["shape"][0] = 1e10; }, {"inputs.shape[0]", "1..1048576"}},
      {[](json& j) { j["shards"][1]["target_max"] = -1e30; }, {"target_max", "-1..255"}},
      {[](json& j) { j["samples"] = std::numeric_limits<double>::infinity(); }, {"samples"}},
      // integers that were silently truncated to int (4294967300 -> 4):
      {[](json& j) { j["inputs"]["shape"][0] = 4294967300LL; }, {"inputs.shape[0]", "4294967300"}},
      {[](json& j) { j["targets"]["classes"] = 4294967297LL; }, {"targets.classes", "1..256"}},
      {[](json& j) { j["format_version"] = 4294967297LL; }, {"format_version"}},
      // negative where unsigned, fractional, non-numbers:
      {[](json& j) { j["shards"][0]["bytes"] = -1; }, {"shards[shard-00000.h5].bytes", "-1"}},
      {[](json& j) { j["shards"][0]["samples"] = 2.5; }, {"samples", "2.5"}},
      {[](json& j) { j["shards"][0]["samples"] = "2"; }, {"samples", "must be an integer"}},
      {[](json& j) { j["inputs"]["shape"] = json::array({4, 4, 3, 1, 1, 1}); }, {"inputs.shape"}},
      // counts whose sum overflowed int64 (each is refused before it is added):
      {[](json& j) {
         j.erase("samples");
         j["shards"][0]["samples"] = int64_t{1} << 62;
         j["shards"][1]["samples"] = int64_t{1} << 62;
       },
       {"shards[shard-00000.h5].samples", "4611686018427387904"}},
      {[](json& j) { j["samples"] = uint64_t{1} << 63; }, {"samples", "9223372036854775808"}},
  };
  for (size_t k = 0; k < cases.size(); ++k) {
    SCOPED_TRACE("case " + std::to_string(k));
    json j = good;
    cases[k].damage(j);
    std::vector<std::string> parts = cases[k].parts;
    parts.push_back("m.json");
    expect_manifest_error(j, parts);
  }
  // An integral double is still a number of samples.
  json j = good;
  j["shards"][0]["samples"] = 2.0;
  EXPECT_EQ(manifest_from_json(j, "m.json").shards[0].samples, 2);
}

TEST(HostileManifest, DerivedManifestRefusesAnOutOfRangeClassesAttribute) {
  TempDir tmp;
  const std::string dir = tmp.sub("d");
  fs::create_directories(dir);
  std::vector<uint8_t> in(2 * 4 * 4 * 3, 5), t(2 * 4 * 4, 0);
  // classes = 2^32 + 2 was cast to int: 2 classes.
  write_raw_shard(dir + "/s.h5",
                  {{"inputs", {2, 4, 4, 3}, H5T_STD_U8LE, H5T_NATIVE_UINT8, in.data(), true},
                   {"targets", {2, 4, 4}, H5T_STD_U8LE, H5T_NATIVE_UINT8, t.data(), true}},
                  {}, {{"classes", (int64_t{1} << 32) + 2}});
  expect_tessera_error([&] { derive_manifest(dir); }, {"s.h5", "classes", "4294967298"});
}

}  // namespace
}  // namespace tessera
