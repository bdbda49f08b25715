// The super-resolution degradation recorded with a dataset (datasets/degradation.h): manifest key
// and shard attribute written and read back, a manifest without the key read as opencv_cubic
// (what older tessera made), values refused where they do not belong, and the cross-dataset
// check `tessera train` runs (check_same_degradation), whose message names both datasets and
// the key.
#include <gtest/gtest.h>

#include <fstream>

#include "data_test_util.h"
#include "datasets/degradation.h"
#include "datasets/manifest.h"
#include "datasets/shard_file.h"

namespace tessera {
namespace {

using testutil::error_of;
using testutil::image_info;
using testutil::TempDir;
using testutil::write_dataset;

DatasetInfo sr_info(const std::string& degradation) {
  DatasetInfo i = image_info("super_resolution", 16, 16, 3, 2);
  i.degradation = degradation;
  return i;
}

TEST(Degradation, NamesParseAndRefuse) {
  EXPECT_EQ(degradation_names(), (std::vector<std::string>{"bicubic_aa", "opencv_cubic", "area"}));
  for (const auto& n : degradation_names()) {
    EXPECT_EQ(to_string(degradation_from_string(n, "x")), n);
  }
  const std::string e = error_of([] { degradation_from_string("bicubic", "pack: --degradation"); });
  EXPECT_NE(e.find("pack: --degradation: unknown degradation 'bicubic'"), std::string::npos) << e;
  EXPECT_NE(e.find("accepted: bicubic_aa, opencv_cubic, area"), std::string::npos) << e;
  EXPECT_TRUE(recordable_degradation("unknown"));
  EXPECT_FALSE(recordable_degradation(""));
}

TEST(Degradation, ManifestKeyAndShardAttributeRoundTrip) {
  TempDir tmp;
  write_dataset(tmp.sub("d"), sr_info("bicubic_aa"), 4, 2);
  std::ifstream in(tmp.sub("d") + "/manifest.json");
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j.at("degradation"), "bicubic_aa");
  EXPECT_EQ(load_manifest(tmp.sub("d")).info.degradation, "bicubic_aa");
  // The shards carry it too, so a manifest derived from them (manifest.json lost) keeps it.
  ShardFile shard(tmp.sub("d") + "/shard-00000.h5");
  EXPECT_EQ(shard.layout().degradation.value_or(""), "bicubic_aa");
  EXPECT_EQ(derive_manifest(tmp.sub("d")).info.degradation, "bicubic_aa");
  // Other tasks record nothing.
  write_dataset(tmp.sub("n"), image_info("denoising", 16, 16, 3), 2, 2);
  std::ifstream in2(tmp.sub("n") + "/manifest.json");
  EXPECT_FALSE(nlohmann::json::parse(in2).contains("degradation"));
}

TEST(Degradation, ManifestWithoutTheKeyMeansOpenCvCubic) {
  nlohmann::json j = manifest_to_json([] {
    Manifest m;
    m.info = sr_info("");
    m.shards.push_back({"shard-00000.h5", 4, 0, "", -1, false});
    return m;
  }());
  EXPECT_FALSE(j.contains("degradation"));
  const Manifest old = manifest_from_json(j, "old.json");
  EXPECT_EQ(old.info.degradation, "");
  EXPECT_EQ(effective_degradation(old.info), "opencv_cubic");
  // ... so it agrees with a new opencv_cubic dataset and not with a bicubic_aa one.
  EXPECT_EQ(old.info, sr_info("opencv_cubic"));
  EXPECT_NE(old.info, sr_info("bicubic_aa"));
  const auto diffs = info_differences(old.info, sr_info("bicubic_aa"), "train", "val");
  ASSERT_EQ(diffs.size(), 1u);
  EXPECT_EQ(diffs[0], "degradation differs: train has opencv_cubic, val has bicubic_aa");
  EXPECT_EQ(effective_degradation(image_info("denoising", 8, 8, 3)), "");
}

TEST(Degradation, BadValuesAreRefused) {
  Manifest m;
  m.info = sr_info("bicubic_aa");
  m.shards.push_back({"shard-00000.h5", 4, 0, "", -1, false});
  nlohmann::json j = manifest_to_json(m);
  j["degradation"] = "lanczos";
  std::string e = error_of([&] { manifest_from_json(j, "m.json"); });
  EXPECT_NE(e.find("m.json: degradation 'lanczos'"), std::string::npos) << e;
  j["degradation"] = 3;
  e = error_of([&] { manifest_from_json(j, "m.json"); });
  EXPECT_NE(e.find("key 'degradation' has the wrong type"), std::string::npos) << e;
  DatasetInfo seg = testutil::seg_info(8, 8);
  seg.degradation = "bicubic_aa";
  e = error_of([&] { validate_info(seg, "w"); });
  EXPECT_NE(e.find("for super_resolution"), std::string::npos) << e;
}

TEST(Degradation, RunDatasetsMustAgree) {
  check_same_degradation(sr_info("bicubic_aa"), "data.train (a)", sr_info("bicubic_aa"),
                         "data.val (b)");
  check_same_degradation(sr_info(""), "data.train (a)", sr_info("opencv_cubic"), "data.val (b)");
  check_same_degradation(image_info("denoising", 8, 8, 3), "a", sr_info("area"), "b");
  const std::string e = error_of([] {
    check_same_degradation(sr_info(""), "data.train (a)", sr_info("bicubic_aa"), "data.test (b)");
  });
  for (const char* part : {"data.train (a) and data.test (b)", "manifest key 'degradation'",
                           "data.train (a) has opencv_cubic (no 'degradation' key",
                           "data.test (b) has bicubic_aa", "--degradation"}) {
    EXPECT_NE(e.find(part), std::string::npos) << part << "\n" << e;
  }
}

}  // namespace
}  // namespace tessera
