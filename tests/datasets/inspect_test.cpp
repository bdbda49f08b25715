// inspect_dataset: counts, shapes, class balance, image labels, checksum verification.
#include <gtest/gtest.h>

#include "data_test_util.h"
#include "datasets/inspect_data.h"

namespace tessera {
namespace {

using namespace testutil;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Inspect, ReportsCountsShapesBalanceAndChecksums) {
  TempDir tmp;
  std::string dir = tmp.sub("d");
  DatasetInfo info = seg_info(6, 6, 3, 3);
  write_dataset(dir, info, 7, 3);
  // Expected class balance from the sample formula.
  std::vector<int64_t> counts(3, 0);
  for (int s = 0; s < 7; ++s) {
    for (int y = 0; y < 6; ++y) {
      for (int x = 0; x < 6; ++x) ++counts[label_value(s, y, x, 3)];
    }
  }
  std::string r = inspect_dataset(dir, true);
  EXPECT_TRUE(has(r, "samples: 7 in 3 shard(s)")) << r;
  EXPECT_TRUE(has(r, "inputs: (N,6,6,3) uint8")) << r;
  EXPECT_TRUE(has(r, "targets: (N,6,6) uint8 label maps, 3 classes")) << r;
  EXPECT_TRUE(has(r, "shard-00002.h5  1 samples")) << r;
  EXPECT_TRUE(has(r, fmt::format("0: {:.2f}%", 100.0 * counts[0] / 252))) << r;
  EXPECT_TRUE(has(r, fmt::format("2: {:.2f}%", 100.0 * counts[2] / 252))) << r;
  EXPECT_TRUE(has(r, "checksums: all 3 shard(s) OK")) << r;
}

TEST(Inspect, ImageLabelsAndDerivedManifest) {
  TempDir tmp;
  std::string dir = tmp.sub("d");
  DatasetInfo info = image_info("anomaly", 4, 4, 1);
  info.has_labels = true;
  write_dataset(dir, info, 9, 5);
  fs::remove(dir + "/manifest.json");
  std::string r = inspect_dataset(dir, true);
  EXPECT_TRUE(has(r, "derived from the shards")) << r;
  EXPECT_TRUE(has(r, "image labels: 0: 6 (66.7%)  1: 3 (33.3%)")) << r;
  EXPECT_TRUE(has(r, "checksums: none")) << r;
  EXPECT_TRUE(has(r, "target mean +- std per channel: c0:")) << r;
}

}  // namespace
}  // namespace tessera
