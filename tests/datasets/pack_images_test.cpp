// pack's image-folder helpers: listing, stem matching, decoding conversions, label maps, fitting.
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <functional>

#include "common/error.h"
#include "datasets/label_maps.h"
#include "datasets/pack_images.h"
#include "data_test_util.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

class PackImages : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tessera_packimg_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

using testutil::error_of;

TEST_F(PackImages, ListsImagesSortedAndRejectsDuplicateStems) {
  const cv::Mat img(4, 4, CV_8UC3, cv::Scalar(1, 2, 3));
  cv::imwrite(path("b.png"), img);
  cv::imwrite(path("a.JPG"), img);
  cv::imwrite(path("c.tif"), img);
  std::ofstream(path("notes.txt")) << "not an image";
  const auto files = list_images(dir_.string());
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(file_stem(files[0]), "a");
  EXPECT_EQ(file_stem(files[2]), "c");
  cv::imwrite(path("a.png"), img);
  EXPECT_NE(error_of([&] { list_images(dir_.string()); }).find("same stem 'a'"), std::string::npos);
  EXPECT_NE(error_of([&] { list_images(path("missing")); }).find("does not exist"),
            std::string::npos);
  fs::create_directories(dir_ / "empty");
  EXPECT_NE(error_of([&] { list_images(path("empty")); }).find("no images"), std::string::npos);
}

TEST(PackMatch, MatchesByStemWithSuffixAndListsUnmatchedBothWays) {
  const std::vector<std::string> inputs = {"in/a.png", "in/b.jpg", "in/c.png"};
  auto pairs = match_by_stem(inputs, {"m/a_mask.png", "m/b_mask.png", "m/c_mask.png"}, "_mask");
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairs[1].input, "in/b.jpg");
  EXPECT_EQ(pairs[1].target, "m/b_mask.png");
  const std::string e = error_of([&] {
    match_by_stem({"in/a.png", "in/b.png", "in/only_input.png"},
                  {"m/a.png", "m/b.png", "m/only_target.png"}, "");
  });
  EXPECT_NE(e.find("1 input(s) without a target: only_input.png"), std::string::npos) << e;
  EXPECT_NE(e.find("1 target(s) without an input: only_target.png"), std::string::npos) << e;
  const std::string hint = error_of([&] { match_by_stem({"in/a.png"}, {"m/a_mask.png"}, ""); });
  EXPECT_NE(hint.find("--target-suffix"), std::string::npos) << hint;
}

TEST_F(PackImages, DecodingConversions) {
  // Channel order: OpenCV writes BGR; we read back RGB.
  cv::imwrite(path("red.png"), cv::Mat(3, 5, CV_8UC3, cv::Scalar(0, 0, 255)));
  cv::Mat rgb = read_image(path("red.png"), 3);
  ASSERT_EQ(rgb.type(), CV_8UC3);
  EXPECT_EQ(rgb.at<cv::Vec3b>(1, 1), cv::Vec3b(255, 0, 0));
  // 16-bit -> 8-bit.
  cv::Mat deep(2, 2, CV_16UC1, cv::Scalar(257 * 100));
  deep.at<uint16_t>(0, 0) = 65535;
  cv::imwrite(path("deep.png"), deep);
  cv::Mat d = read_image(path("deep.png"), 3);
  EXPECT_EQ(d.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 255, 255));
  EXPECT_EQ(d.at<cv::Vec3b>(1, 1), cv::Vec3b(100, 100, 100));  // grey replicated
  // Alpha dropped.
  cv::imwrite(path("alpha.png"), cv::Mat(2, 2, CV_8UC4, cv::Scalar(10, 20, 30, 0)));
  cv::Mat a = read_image(path("alpha.png"), 3);
  EXPECT_EQ(a.type(), CV_8UC3);
  EXPECT_EQ(a.at<cv::Vec3b>(0, 0), cv::Vec3b(30, 20, 10));
  // Colour -> grey when one channel is wanted.
  EXPECT_EQ(read_image(path("red.png"), 1).type(), CV_8UC1);
  // Undecodable file.
  std::ofstream(path("broken.png")) << "not a png";
  EXPECT_NE(error_of([&] { read_image(path("broken.png"), 3); }).find("broken.png"),
            std::string::npos);
}

TEST_F(PackImages, LabelMaps) {
  cv::Mat m = cv::Mat::zeros(4, 4, CV_8UC1);
  m(cv::Rect(0, 0, 2, 2)).setTo(255);
  cv::imwrite(path("bin255.png"), m);
  cv::Mat l = read_label_map(path("bin255.png"), LabelMapOptions{1});
  EXPECT_EQ(cv::countNonZero(l == 1), 4);
  EXPECT_EQ(cv::countNonZero(l), 4);
  m.setTo(1, m);
  cv::imwrite(path("bin01.png"), m);
  EXPECT_EQ(cv::countNonZero(read_label_map(path("bin01.png"), LabelMapOptions{1}) == 1), 4);
  cv::Mat multi = cv::Mat::zeros(4, 4, CV_8UC1);
  multi.at<uchar>(3, 2) = 7;
  multi.at<uchar>(0, 1) = 4;
  cv::imwrite(path("labels7.png"), multi);
  const std::string e = error_of([&] { read_label_map(path("labels7.png"), LabelMapOptions{5}); });
  EXPECT_NE(e.find("labels7.png"), std::string::npos) << e;
  EXPECT_NE(e.find("value 7 at (x=2, y=3)"), std::string::npos) << e;
  EXPECT_NE(e.find("0..4"), std::string::npos) << e;
  EXPECT_EQ(read_label_map(path("labels7.png"), LabelMapOptions{8}).at<uchar>(3, 2), 7);
  cv::Mat colour(4, 4, CV_8UC3, cv::Scalar(0, 0, 0));
  colour.at<cv::Vec3b>(1, 1) = cv::Vec3b(0, 0, 200);
  cv::imwrite(path("colour.png"), colour);
  EXPECT_NE(error_of([&] { read_label_map(path("colour.png"), LabelMapOptions{3}); }).find("differing channels"),
            std::string::npos);
}

TEST(PackFit, TileResizeCenterCrop) {
  cv::Mat img(70, 100, CV_8UC3);
  cv::randu(img, 0, 255);
  const auto tiles = fit_image(img, 32, FitMode::tile, false, "img");
  ASSERT_EQ(tiles.size(), 6u);  // 3 columns x 2 rows, remainder dropped
  EXPECT_EQ(patch_count(70, 100, 32, FitMode::tile), 6);
  EXPECT_EQ(
      cv::countNonZero(tiles[4].reshape(1) != img(cv::Rect(32, 32, 32, 32)).clone().reshape(1)), 0);
  const auto r = fit_image(img, 32, FitMode::resize, false, "img");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].size(), cv::Size(32, 32));
  const auto c = fit_image(img, 35, FitMode::center_crop, false, "img");
  EXPECT_EQ(c[0].size(), cv::Size(35, 35));
  // Label maps are resized with nearest neighbour: no new values appear.
  cv::Mat labels = cv::Mat::zeros(70, 100, CV_8UC1);
  labels(cv::Rect(0, 0, 50, 70)).setTo(3);
  const auto lr = fit_image(labels, 33, FitMode::resize, true, "labels");
  EXPECT_EQ(cv::countNonZero(lr[0] == 0) + cv::countNonZero(lr[0] == 3), 33 * 33);
  EXPECT_NE(error_of([&] {
              fit_image(img, 80, FitMode::tile, false, "small.png");
            }).find("small.png is 100x70"),
            std::string::npos);
  EXPECT_THROW(fit_mode_from_string("stretch"), Error);
}

TEST(PackFit, PairsKeepCorrespondingPositions) {
  cv::Mat hr(80, 100, CV_8UC3);
  cv::randu(hr, 0, 255);
  cv::Mat lr;
  cv::resize(hr, lr, cv::Size(50, 40), 0, 0, cv::INTER_AREA);
  const auto pairs = fit_pair(lr, hr, 16, 2, FitMode::tile, false, "lr.png", "hr.png");
  ASSERT_EQ(pairs.size(), 6u);  // 3 x 2 input tiles of 16
  EXPECT_EQ(pairs[5].first.size(), cv::Size(16, 16));
  EXPECT_EQ(pairs[5].second.size(), cv::Size(32, 32));
  EXPECT_EQ(cv::countNonZero(pairs[5].second.reshape(1) !=
                             hr(cv::Rect(64, 32, 32, 32)).clone().reshape(1)),
            0);
  const std::string e =
      error_of([&] { fit_pair(lr, lr, 16, 1, FitMode::resize, false, "a.png", "b.png"); });
  EXPECT_EQ(e, "");
  const std::string mismatch =
      error_of([&] { fit_pair(lr, hr, 16, 1, FitMode::resize, false, "a.png", "b.png"); });
  EXPECT_NE(mismatch.find("a.png is 50x40 but its target b.png is 100x80"), std::string::npos)
      << mismatch;
}

}  // namespace
}  // namespace tessera
