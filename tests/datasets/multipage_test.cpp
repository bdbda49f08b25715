// Multi-page TIFFs (stacks such as the ISBI 2012 EM sections): read page by page through GDAL
// (datasets/geotiff.h), and packed by `tessera pack` with every page an image of its own, paired
// page by page with a mask stack; the manifest's `sources` names each sample's page. Refused: a
// page beyond the stack, a mask stack of another page count, a multi-page mask beside a
// single-page input, and a multi-page file where one image is expected (page -1).
#include "geotiff_test_util.h"

namespace tessera {
namespace {

using geotest::GeoTiff;
using geotest::write_tiff;
using testutil::error_of;
namespace fs = std::filesystem;

// Page p of the test stack: value 1000 * (p + 1) + 7 * y + x (uint16), so pages differ.
cv::Mat stack_page(int p, int size = 16) {
  cv::Mat m(size, size, CV_16UC1);
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x)
      m.at<uint16_t>(y, x) = static_cast<uint16_t>(1000 * (p + 1) + 7 * y + x);
  }
  return m;
}
cv::Mat mask_page(int p, int size = 16) {
  cv::Mat m(size, size, CV_8UC1);
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) m.at<uint8_t>(y, x) = (x + y + p) % 3 == 0 ? 255 : 0;
  }
  return m;
}
void write_stack(const std::string& path, int pages, bool masks) {
  std::vector<cv::Mat> m;
  for (int p = 0; p < pages; ++p) m.push_back(masks ? mask_page(p) : stack_page(p));
  ASSERT_TRUE(cv::imwritemulti(path, m)) << path;
}

TEST_F(GeoTiff, PagesOfAStackAreReadOneByOne) {
  write_stack(path("stack.tif"), 3, false);
  EXPECT_EQ(tiff_pages(path("stack.tif")), 3);
  RasterHeader h;
  const cv::Mat second = read_tiff(path("stack.tif"), &h, 1);
  EXPECT_EQ(h.bits, 16);
  EXPECT_EQ(cv::norm(second, stack_page(1), cv::NORM_INF), 0.0);
  EXPECT_NE(error_of([&] {
              read_tiff(path("stack.tif"), nullptr, 3);
            }).find("stack.tif: page 4 cannot be opened"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_tiff(path("stack.tif")); }).find("a multi-page TIFF (3 pages)"),
            std::string::npos);
  write_tiff(path("one.tif"), 8, 8, 1, GDT_Byte, 0);
  EXPECT_EQ(tiff_pages(path("one.tif")), 1);  // control
}

TEST_F(GeoTiff, PackPairsStackPagesAndSplitsThemLikeFiles) {
  write_stack(path("tiles/stack.tif"), 4, false);
  write_stack(path("masks/stack.tif"), 4, true);
  PackOptions o = options();
  o.fit = "resize";
  const PackSummary s = run_pack(o);
  EXPECT_EQ(s.images.train, 4);  // one image per page
  EXPECT_EQ(s.samples.train, 4);
  EXPECT_EQ(s.info.input_dtype, "uint16");
  const Manifest m = read_manifest_file(path("out/train/manifest.json"));
  ASSERT_EQ(m.sources.size(), 4u);
  DatasetReader reader(path("out/train"));
  RawSample raw;
  for (int p = 0; p < 4; ++p) {
    EXPECT_EQ(m.sources[static_cast<size_t>(p)]["page"], p + 1);
    reader.read(p, raw);
    const auto* in = reinterpret_cast<const uint16_t*>(raw.input.data());
    const cv::Mat want = stack_page(p), mask = mask_page(p);
    int wrong = 0;
    for (int y = 0; y < 16; ++y) {
      for (int x = 0; x < 16; ++x) {
        wrong += in[y * 16 + x] != want.at<uint16_t>(y, x);
        wrong += raw.target[static_cast<size_t>(y * 16 + x)] != (mask.at<uint8_t>(y, x) ? 1 : 0);
      }
    }
    EXPECT_EQ(wrong, 0) << "page " << p;
  }
  // A random split draws pages like files: with 4 pages and val 0.25, one page goes to val.
  o.split.clear();
  o.val_fraction = 0.25;
  o.test_fraction = 0.0;
  o.out = path("out2");
  const PackSummary r = run_pack(o);
  EXPECT_EQ(r.images.train, 3);
  EXPECT_EQ(r.images.val, 1);
}

TEST_F(GeoTiff, PackRefusesStacksThatDoNotPairPageByPage) {
  write_stack(path("tiles/stack.tif"), 4, false);
  write_stack(path("masks/stack.tif"), 3, true);
  PackOptions o = options();
  o.fit = "resize";
  EXPECT_NE(error_of([&] {
              run_pack(o);
            }).find("stack.tif has 4 page(s) but its target " + path("masks/stack.tif") + " has 3"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(path("out")));
  // A mask stack beside a single-page input: refused, not read as its first page.
  fs::remove(path("tiles/stack.tif"));
  cv::imwrite(path("tiles/stack.png"), cv::Mat(16, 16, CV_8UC3, cv::Scalar(9, 9, 9)));
  EXPECT_NE(error_of([&] { run_pack(o); }).find("has 1 page(s) but its target"), std::string::npos);
  // Control: a one-page mask packs.
  cv::imwrite(path("masks/stack.tif"), mask_page(0));
  EXPECT_NO_THROW(run_pack(o));
}

}  // namespace
}  // namespace tessera
