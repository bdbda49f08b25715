// Mask formats of `tessera pack`: palette PNGs read as indices (libpng, written here with libpng's
// simplified API), colour masks through a class table, ignored pixels; each round-tripped to the
// exact labels, and each bad file refused naming the file, the pixel or value, and what was
// expected. Controls: OpenCV's own decoder loses a palette PNG's indices (so the libpng path is
// what makes the test pass), and a wrong table maps to other labels.
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <png.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <functional>

#include "common/error.h"
#include "datasets/label_maps.h"
#include "datasets/manifest.h"
#include "datasets/pack.h"
#include "datasets/png_palette.h"
#include "datasets/shard_file.h"
#include "data_test_util.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

using testutil::error_of;

// VOC's colour map for indices 0..3 and 255 (void).
std::vector<png_color> voc_colours() {
  std::vector<png_color> c(256, png_color{0, 0, 0});
  c[1] = {128, 0, 0};
  c[2] = {0, 128, 0};
  c[3] = {128, 128, 0};
  c[255] = {224, 224, 192};
  return c;
}

// An 8-bit palette PNG through libpng's simplified writer.
void write_palette_png(const std::string& path, const cv::Mat& indices,
                       const std::vector<png_color>& colours) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(indices.cols);
  image.height = static_cast<png_uint_32>(indices.rows);
  image.format = PNG_FORMAT_RGB_COLORMAP;
  image.colormap_entries = static_cast<png_uint_32>(colours.size());
  ASSERT_TRUE(indices.isContinuous());
  ASSERT_NE(png_image_write_to_file(&image, path.c_str(), 0, indices.data, indices.cols,
                                    colours.data()),
            0)
      << image.message;
}

// A 6 x 4 index pattern with classes 0..2 and void (255) along the last column.
cv::Mat index_pattern() {
  cv::Mat m(4, 6, CV_8U);
  for (int y = 0; y < m.rows; ++y) {
    for (int x = 0; x < m.cols; ++x) m.at<uint8_t>(y, x) = x == 5 ? 255 : (x + y) % 3;
  }
  return m;
}

class LabelMaps : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string table(const std::string& name, const std::string& text) const {
    std::ofstream(path(name)) << text;
    return path(name);
  }
  testutil::TempDir tmp_;
  fs::path dir_ = fs::path(tmp_.str());
};

TEST_F(LabelMaps, PalettePngIndicesAreTheLabels) {
  const cv::Mat idx = index_pattern();
  write_palette_png(path("voc.png"), idx, voc_colours());
  const auto read = read_palette_png(path("voc.png"));
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(cv::countNonZero(read->indices != idx), 0);
  ASSERT_GE(read->colours.size(), 256u);
  EXPECT_EQ(read->colours[1][0], 128);

  LabelMapOptions o{3, 255, nullptr};
  const cv::Mat labels = read_label_map(path("voc.png"), o);
  EXPECT_EQ(cv::countNonZero(labels != idx), 0) << "indices, with void kept as 255";

  // Control: OpenCV's decoder gives the colours, not the indices.
  const cv::Mat colours = cv::imread(path("voc.png"), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(colours.channels(), 3);
}

TEST_F(LabelMaps, PaletteIndexErrorsNameTheFileValueAndPixel) {
  write_palette_png(path("voc.png"), index_pattern(), voc_colours());
  std::string e = error_of([&] { read_label_map(path("voc.png"), LabelMapOptions{3}); });
  EXPECT_NE(e.find("voc.png (palette indices) has value 255 at (x=5, y=0) (4 pixels above 2)"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("--ignore-value 255"), std::string::npos) << e;
  e = error_of([&] { read_label_map(path("voc.png"), LabelMapOptions{2, 255}); });
  EXPECT_NE(e.find("has value 2"), std::string::npos) << e;
  EXPECT_NE(e.find("classes = 2 allows 0..1, ignore value 255"), std::string::npos) << e;
  // Binary: indices are never thresholded.
  e = error_of([&] { read_label_map(path("voc.png"), LabelMapOptions{1, 255}); });
  EXPECT_NE(e.find("has value 2"), std::string::npos) << e;

  // Not a PNG, and a PNG of another colour type: not read as a palette.
  cv::imwrite(path("grey.png"), index_pattern());
  EXPECT_FALSE(read_palette_png(path("grey.png")).has_value());
  std::ofstream(path("text.png")) << "hello, not an image";
  EXPECT_FALSE(read_palette_png(path("text.png")).has_value());
  // A truncated palette PNG is damaged, in libpng's words.
  const auto size = fs::file_size(path("voc.png"));
  fs::copy_file(path("voc.png"), path("cut.png"));
  fs::resize_file(path("cut.png"), size - 30);
  e = error_of([&] { read_label_map(path("cut.png"), LabelMapOptions{3, 255}); });
  EXPECT_NE(e.find("cut.png is a damaged PNG"), std::string::npos) << e;
}

TEST_F(LabelMaps, GreyMasksWithAnIgnoreValue) {
  cv::Mat grey = index_pattern();  // 0..2 and 255 = void, as a grey PNG
  cv::imwrite(path("grey.png"), grey);
  EXPECT_EQ(cv::countNonZero(read_label_map(path("grey.png"), LabelMapOptions{3, 255}) != grey), 0);
  // Binary 0/255 masks with 128 = "unsure" ignored.
  cv::Mat bin(2, 3, CV_8U, cv::Scalar(0));
  bin.at<uint8_t>(0, 1) = 255;
  bin.at<uint8_t>(1, 2) = 128;
  cv::imwrite(path("bin.png"), bin);
  const cv::Mat l = read_label_map(path("bin.png"), LabelMapOptions{1, 128});
  EXPECT_EQ(l.at<uint8_t>(0, 1), 1);
  EXPECT_EQ(l.at<uint8_t>(1, 2), 255);
  EXPECT_EQ(l.at<uint8_t>(0, 0), 0);
  // 16-bit label maps with 65535 as void.
  cv::Mat wide(2, 2, CV_16U, cv::Scalar(4));
  wide.at<uint16_t>(1, 1) = 65535;
  cv::imwrite(path("wide.png"), wide);
  const cv::Mat w = read_label_map(path("wide.png"), LabelMapOptions{5, 65535});
  EXPECT_EQ(w.at<uint8_t>(0, 0), 4);
  EXPECT_EQ(w.at<uint8_t>(1, 1), 255);
}

TEST_F(LabelMaps, ColourMasksThroughAClassTable) {
  // CamVid's class_dict.csv layout: rows are the classes in order.
  const std::string t = table("camvid.csv",
                              "name,r,g,b\nSky,128,128,128\nRoad,128,64,128\nCar,64,0,128\n");
  const ClassPalette p = read_class_palette(t, 3);
  EXPECT_EQ(class_names(p, 3), (std::vector<std::string>{"Sky", "Road", "Car"}));
  cv::Mat labels = index_pattern();
  labels.setTo(0, labels == 255);
  cv::Mat bgr(labels.size(), CV_8UC3);
  const cv::Vec3b colour[] = {{128, 128, 128}, {128, 64, 128}, {128, 0, 64}};  // BGR
  for (int y = 0; y < labels.rows; ++y) {
    for (int x = 0; x < labels.cols; ++x) bgr.at<cv::Vec3b>(y, x) = colour[labels.at<uint8_t>(y, x)];
  }
  cv::imwrite(path("mask.png"), bgr);
  LabelMapOptions o{3, -1, &p};
  EXPECT_EQ(cv::countNonZero(read_label_map(path("mask.png"), o) != labels), 0);

  // Control: a table with Road and Car swapped gives other labels.
  const ClassPalette swapped = read_class_palette(
      table("swapped.csv", "name,r,g,b\nSky,128,128,128\nCar,64,0,128\nRoad,128,64,128\n"), 3);
  LabelMapOptions so{3, -1, &swapped};
  EXPECT_GT(cv::countNonZero(read_label_map(path("mask.png"), so) != labels), 0);

  // A class column: two colours for one class, and a colour ignored.
  const ClassPalette merged = read_class_palette(
      table("merged.csv", "# cityscapes-like\nname,r,g,b,class\nsky,128,128,128,0\nroad,128,64,"
                          "128,1\nlane,64,0,128,1\nvoid,0,0,0,ignore\n"),
      2);
  EXPECT_TRUE(merged.has_ignore);
  LabelMapOptions mo{2, -1, &merged};
  const cv::Mat m = read_label_map(path("mask.png"), mo);
  EXPECT_EQ(cv::countNonZero(m != cv::min(labels, 1)), 0);
  bgr.at<cv::Vec3b>(0, 0) = {0, 0, 0};
  cv::imwrite(path("void.png"), bgr);
  EXPECT_EQ(read_label_map(path("void.png"), mo).at<uint8_t>(0, 0), kIgnoreLabel);

  // A palette PNG with a table: its colours are looked up.
  cv::Mat idx = labels.clone();
  std::vector<png_color> pal = {{128, 128, 128}, {128, 64, 128}, {64, 0, 128}};
  write_palette_png(path("indexed.png"), idx, pal);
  EXPECT_EQ(cv::countNonZero(read_label_map(path("indexed.png"), o) != labels), 0);
}

TEST_F(LabelMaps, UnknownColoursAndBadTablesAreRefused) {
  const ClassPalette p = read_class_palette(table("t.csv", "name,r,g,b\nbg,0,0,0\nfg,255,0,0\n"), 1);
  cv::Mat bgr(3, 4, CV_8UC3, cv::Scalar(0, 0, 0));
  bgr.at<cv::Vec3b>(2, 1) = {0, 255, 0};
  bgr.at<cv::Vec3b>(2, 3) = {0, 255, 0};
  cv::imwrite(path("m.png"), bgr);
  LabelMapOptions o{1, -1, &p};
  const std::string e = error_of([&] { read_label_map(path("m.png"), o); });
  EXPECT_NE(e.find("m.png has colour (0, 255, 0) at (x=1, y=2), which is not in the class table"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("(2 pixels of this image"), std::string::npos) << e;

  auto refused = [&](const std::string& text, int classes) {
    return error_of([&] { read_class_palette(table("bad.csv", text), classes); });
  };
  EXPECT_NE(refused("name,r,g,b\na,0,0,0\nb,0,0,0\n", 1).find("bad.csv:3: colour (0, 0, 0) is "
                                                              "also on line 2"),
            std::string::npos);
  EXPECT_NE(refused("name,r,g,b\na,0,0,0\n", 3).find("has 1 rows but classes 3 needs 3"),
            std::string::npos);
  EXPECT_NE(refused("name,r,g,b,class\na,0,0,0,5\n", 3).find("bad.csv:2: class (a label"),
            std::string::npos);
  EXPECT_NE(refused("name,r,g,b\na,300,0,0\nb,1,1,1\n", 1).find("r '300' is not an integer in 0..255"),
            std::string::npos);
  EXPECT_NE(refused("colour,value\n", 1).find("must name the columns name,r,g,b"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_label_map(path("m.png"), LabelMapOptions{1, 3, &p}); })
                .find("--ignore-value applies to grey values"),
            std::string::npos);
}

// Through run_pack: palette PNG masks with void, stored with ignore_index 255 in the manifest
// and the shards' attributes, every label exact.
TEST_F(LabelMaps, PackStoresIgnoredPixelsAndClassNames) {
  fs::create_directories(dir_ / "images");
  fs::create_directories(dir_ / "masks");
  for (int i = 0; i < 3; ++i) {
    cv::Mat img(4, 6, CV_8UC3, cv::Scalar(10 * i, 20, 30));
    cv::imwrite(path("images/im" + std::to_string(i) + ".png"), img);
    write_palette_png(path("masks/im" + std::to_string(i) + ".png"), index_pattern(),
                      voc_colours());
  }
  PackOptions o;
  o.task = "segmentation";
  o.inputs = path("images");
  o.targets = path("masks");
  o.out = path("out");
  o.size = 8;
  o.classes = 3;
  o.ignore_value = 255;
  o.val_fraction = o.test_fraction = 0;
  o.fit = "resize";  // 6 x 4 -> 8 x 8, nearest for the masks
  const PackSummary s = run_pack(o);
  EXPECT_EQ(s.info.ignore_index, 255);
  const Manifest m = load_manifest(path("out/train"));
  EXPECT_EQ(m.info.ignore_index, 255);
  ShardFile f(path("out/train/") + m.shards[0].file);
  EXPECT_EQ(f.layout().ignore_index.value_or(-1), 255);
  std::vector<uint8_t> t(64);
  f.read_target(0, t, "test");
  cv::Mat expect;
  cv::resize(index_pattern(), expect, cv::Size(8, 8), 0, 0, cv::INTER_NEAREST);
  EXPECT_EQ(cv::countNonZero(cv::Mat(8, 8, CV_8U, t.data()) != expect), 0);
  EXPECT_EQ(m.shards[0].target_max, 2) << "ignored pixels are not a class label";

  // Without --ignore-value, the void pixels are refused before anything is written.
  o.ignore_value = -1;
  o.out = path("out2");
  EXPECT_NE(error_of([&] { run_pack(o); }).find("has value 255"), std::string::npos);
  EXPECT_FALSE(fs::exists(path("out2/train")));

  // A colour table's names reach the manifest.
  o.out = path("out3");
  o.classes = 3;
  o.palette = table("voc.csv", "name,r,g,b,class\nbackground,0,0,0,0\naeroplane,128,0,0,1\n"
                               "bicycle,0,128,0,2\nvoid,224,224,192,ignore\n");
  const PackSummary named = run_pack(o);
  EXPECT_EQ(named.info.class_names,
            (std::vector<std::string>{"background", "aeroplane", "bicycle"}));
  EXPECT_EQ(load_manifest(path("out3/train")).info.class_names, named.info.class_names);
  EXPECT_EQ(load_manifest(path("out3/train")).info.ignore_index, 255);
}

}  // namespace
}  // namespace tessera
