// TensorBoardWriter (trainer/tensorboard.h): TFRecord framing with masked CRC-32C, the
// metrics.jsonl -> tag mapping, one new file per start (a fresh start removes earlier ones), the
// SessionLog START step, and a failed write naming the file. The decoded files, through the real
// trainer, are checked by tests/e2e/tensorboard.sh.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "tests/trainer/test_util.h"
#include "trainer/run_log.h"
#include "trainer/tensorboard.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

class TensorBoard : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = (fs::temp_directory_path() / ("tessera-tb-" + std::to_string(::getpid()) + "-" + test))
               .string();
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string dir_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

uint32_t le32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  return v;
}

TEST(TensorBoardFormat, MaskedCrcOfTheStandardCheckValue) {
  // CRC-32C("123456789") = 0xe3069283; masked: rotate right by 15, add 0xa282ead8.
  EXPECT_EQ(tfrecord_masked_crc("123456789", 9), 0xc78ab0e5u);
}

TEST(TensorBoardFormat, FrameIsLengthCrcDataCrc) {
  const std::string f = tfrecord_frame("abc");
  ASSERT_EQ(f.size(), 3u + 16u);
  EXPECT_EQ(f.substr(0, 8), std::string("\x03\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(le32(f, 8), tfrecord_masked_crc(f.data(), 8));
  EXPECT_EQ(f.substr(12, 3), "abc");
  EXPECT_EQ(le32(f, 15), tfrecord_masked_crc("abc", 3));
}

TEST(TensorBoardFormat, TagsAreTheMetricsKeys) {
  const nlohmann::json train = {{"step", 4},     {"epoch", 1}, {"loss", 0.5},
                                {"lr", 1e-3},    {"images_per_s", 10.0},
                                {"time", {{"data", 0.25}, {"forward", 1.0}}}};
  std::map<std::string, float> t;
  for (const auto& [k, v] : tensorboard_scalars(train)) t[k] = v;
  EXPECT_EQ(t, (std::map<std::string, float>{{"epoch", 1.f}, {"loss", 0.5f}, {"lr", 1e-3f},
                                              {"images_per_s", 10.f}, {"time/data", 0.25f},
                                              {"time/forward", 1.f}}));
  const nlohmann::json val = {{"step", 4},         {"epoch", 1},       {"split", "val"},
                              {"seconds", 2.0},    {"val/dice", 0.75}, {"selected/dice", 0.5},
                              {"train/loss", NAN}};
  std::map<std::string, float> v;
  for (const auto& [k, x] : tensorboard_scalars(val)) v[k] = x;
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v.at("val/epoch"), 1.f);
  EXPECT_EQ(v.at("val/seconds"), 2.f);
  EXPECT_EQ(v.at("val/dice"), 0.75f);
  EXPECT_EQ(v.at("selected/dice"), 0.5f);
  EXPECT_TRUE(std::isnan(v.at("train/loss")));
}

TEST_F(TensorBoard, EachStartIsANewFileAndAFreshStartRemovesOldOnes) {
  { TensorBoardWriter w(dir_, -1); }
  { TensorBoardWriter w(dir_, 8); }  // resumed: the first file stays
  const auto two = files();
  ASSERT_EQ(two.size(), 2u);
  EXPECT_NE(two[0].find("/events.out.tfevents."), std::string::npos) << two[0];
  // Both files begin with file_version then START: 0 for the fresh run, 9 for the resumed one.
  const std::string first = slurp(two[0]), second = slurp(two[1]);
  EXPECT_NE(first.find("brain.Event:2"), std::string::npos);
  EXPECT_NE(second.find("brain.Event:2"), std::string::npos);
  // session_log (field 7, 2 bytes: status START); step 9 (field 2) before it; step 0 is not
  // serialized (proto3 default).
  const std::string start("\x3a\x02\x08\x01", 4);
  EXPECT_NE(first.find(start), std::string::npos);
  EXPECT_NE(second.find(std::string("\x10\x09", 2) + start), std::string::npos);
  { TensorBoardWriter w(dir_, -1); }
  const auto one = files();
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(slurp(one[0]).find(std::string("\x10\x09", 2) + start), std::string::npos);
}

TEST_F(TensorBoard, RunLogMirrorsRecordsOnlyWhenAsked) {
  fs::create_directories(dir_);
  { RunLog log(dir_, -1, "off", true, /*tensorboard=*/false); log.write({{"step", 1}, {"loss", 1.0}}); }
  EXPECT_FALSE(fs::exists(dir_ + "/tb"));
  { RunLog log(dir_, -1, "off", /*enabled=*/false, true); }
  EXPECT_FALSE(fs::exists(dir_ + "/tb")) << "only rank 0 (enabled) writes";
  size_t before = 0;
  {
    RunLog log(dir_, -1, "off", true, true);
    before = fs::file_size(fs::directory_iterator(dir_ + "/tb")->path());
    log.write({{"step", 1}, {"loss", 1.0}});
  }
  EXPECT_GT(fs::file_size(fs::directory_iterator(dir_ + "/tb")->path()), before);
}

TEST_F(TensorBoard, AFailedWriteIsAnErrorNamingTheFile) {
  TensorBoardWriter w(dir_, -1);
  EncodedImage big;
  big.png = std::string(4096, 'x');
  big.height = big.width = 1;
  const std::string error = testing::with_file_size_limit(
      fs::file_size(w.path()) + 100, [&] { w.image(1, "val/images", big); });
  EXPECT_NE(error.find(w.path()), std::string::npos) << error;
  EXPECT_NE(error.find("File too large"), std::string::npos) << error;
}

}  // namespace
}  // namespace tessera
