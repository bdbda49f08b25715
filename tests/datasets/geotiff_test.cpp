// GeoTIFFs through GDAL (datasets/geotiff.h): files with 4 UInt16 or 13 Byte bands read back to
// the exact sample values with their georeferencing (geotransform, WKT, EPSG), and every refusal
// (Float32 and complex samples, a PNG named .tif, a missing file, a multi-page TIFF, a side over
// 32768 or more than 2^28 pixels, from the header), each beside a control that is accepted.
#include "geotiff_test_util.h"

namespace tessera {
namespace {

using geotest::GeoTiff;
using geotest::kGeo;
using geotest::value_at;
using geotest::write_tiff;
using testutil::error_of;
namespace fs = std::filesystem;

TEST_F(GeoTiff, ReadsEveryBandExactlyWithGeoreference) {
  write_tiff(path("a.tif"), 37, 21, 4, GDT_UInt16, 3);
  RasterHeader h;
  const cv::Mat m = read_tiff(path("a.tif"), &h);
  EXPECT_EQ(h.bands, 4);
  EXPECT_EQ(h.bits, 16);
  EXPECT_EQ(h.sample_type, "UInt16");
  ASSERT_EQ(m.type(), CV_16UC4);
  int wrong = 0;
  for (int y = 0; y < 21; ++y) {
    for (int x = 0; x < 37; ++x) {
      const auto* px = m.ptr<uint16_t>(y) + 4 * x;
      for (int b = 0; b < 4; ++b) wrong += px[b] != value_at(3, b, x, y, 16);
    }
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_TRUE(h.geo.has_geotransform);
  EXPECT_EQ(h.geo.geotransform, kGeo);
  EXPECT_EQ(h.geo.epsg, 32633);
  EXPECT_NE(h.geo.projection_wkt.find("UTM zone 33N"), std::string::npos);
  // 8-bit, 13 bands, no georeferencing.
  write_tiff(path("b.tif"), 5, 4, 13, GDT_Byte, 1, false);
  const cv::Mat b = read_tiff(path("b.tif"), &h);
  EXPECT_EQ(b.type(), CV_8UC(13));
  EXPECT_EQ(b.ptr<uint8_t>(3)[4 * 13 + 12], value_at(1, 12, 4, 3, 8));
  EXPECT_FALSE(h.geo.has_geotransform);
  EXPECT_EQ(h.geo.epsg, 0);
}

TEST_F(GeoTiff, RefusesOtherSampleTypesNonTiffsAndOversizedFiles) {
  write_tiff(path("f.tif"), 4, 4, 2, GDT_Float32, 0);
  EXPECT_NE(error_of([&] { read_tiff(path("f.tif")); }).find("f.tif: samples are Float32"),
            std::string::npos);
  write_tiff(path("c.tif"), 4, 4, 1, GDT_CInt16, 0);
  EXPECT_NE(error_of([&] { read_tiff_header(path("c.tif")); }).find("samples are CInt16"),
            std::string::npos);
  cv::imwrite(path("png.png"), cv::Mat(4, 4, CV_8UC3, cv::Scalar(1, 2, 3)));
  fs::rename(path("png.png"), path("fake.tif"));
  EXPECT_NE(error_of([&] { read_tiff(path("fake.tif")); }).find("fake.tif: not a TIFF"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_tiff(path("missing.tif")); }).find("no such file"),
            std::string::npos);
  const std::vector<cv::Mat> pages = {cv::Mat(4, 4, CV_8UC1, cv::Scalar(1)),
                                      cv::Mat(4, 4, CV_8UC1, cv::Scalar(2))};
  ASSERT_TRUE(cv::imwritemulti(path("pages.tif"), pages));
  EXPECT_NE(error_of([&] { read_tiff(path("pages.tif")); }).find("pages.tif: a multi-page TIFF"),
            std::string::npos);
  ASSERT_TRUE(cv::imwrite(path("page.tif"), pages[0]));  // control: one page is read
  EXPECT_EQ(read_tiff(path("page.tif")).at<uint8_t>(3, 3), 1);
  // Sizes are checked from the header, before any pixel buffer exists (sparse files: no data).
  const char* const sparse[] = {"SPARSE_OK=TRUE", nullptr};
  write_tiff(path("wide.tif"), kMaxTiffSide + 1, 1, 1, GDT_Byte, 0, false, sparse);
  EXPECT_NE(error_of([&] { read_tiff(path("wide.tif")); }).find("expected 1..32768 pixels a side"),
            std::string::npos);
  write_tiff(path("big.tif"), 20000, 20000, 1, GDT_Byte, 0, false, sparse);
  EXPECT_NE(error_of([&] { read_tiff_header(path("big.tif")); }).find("expected at most 268435456"),
            std::string::npos);
  // Control: the largest side accepted.
  write_tiff(path("edge.tif"), kMaxTiffSide, 1, 1, GDT_Byte, 0, false, sparse);
  EXPECT_EQ(read_tiff_header(path("edge.tif")).width, kMaxTiffSide);
}

}  // namespace
}  // namespace tessera
