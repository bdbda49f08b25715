// Multi-band and 16-bit GeoTIFFs (datasets/geotiff.h, pack_rasters.h): GDAL-written files read
// back to the exact sample values with their georeferencing; `tessera pack` of 4-band uint16
// tiles into uint16 shards whose values, per-channel statistics and manifest `sources`
// (georeferencing per source and per sample) round-trip; the loader's 1/65535 scaling; and
// every refusal (band count, sample type, sizes, a non-TIFF named .tif, multi-page files, PNGs
// into a multi-band dataset, colour jitter on 4 channels), each beside a control that is
// accepted.
#include <cpl_conv.h>
#include <gdal.h>
#include <gtest/gtest.h>
#include <ogr_srs_api.h>
#include <opencv2/imgcodecs.hpp>

#include <unistd.h>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "data_test_util.h"
#include "datasets/dataset_reader.h"
#include "datasets/geotiff.h"
#include "datasets/loader.h"
#include "datasets/manifest.h"
#include "datasets/pack.h"
#include "datasets/pack_rasters.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using testutil::error_of;

const std::array<double, 6> kGeo = {500000.0, 10.0, 0.0, 4100000.0, 0.0, -10.0};

// The value of band b (0-based) at (x, y) of test image `seed`: spans the whole uint16 range.
int value_at(int seed, int b, int x, int y, int bits) {
  const int v = (seed * 7919 + b * 20011 + y * 257 + x * 131) % 65536;
  return bits == 16 ? v : v % 256;
}

void write_tiff(const std::string& path, int w, int h, int bands, GDALDataType type, int seed,
                bool georef = true, const char* const* options = nullptr) {
  GDALAllRegister();
  GDALDriverH drv = GDALGetDriverByName("GTiff");
  GDALDatasetH ds = GDALCreate(drv, path.c_str(), w, h, bands, type, const_cast<char**>(options));
  ASSERT_NE(ds, nullptr) << path;
  if (georef) {
    double gt[6];
    std::copy(kGeo.begin(), kGeo.end(), gt);
    GDALSetGeoTransform(ds, gt);
    OGRSpatialReferenceH srs = OSRNewSpatialReference(nullptr);
    OSRImportFromEPSG(srs, 32633);
    char* wkt = nullptr;
    OSRExportToWkt(srs, &wkt);
    GDALSetProjection(ds, wkt);
    CPLFree(wkt);
    OSRDestroySpatialReference(srs);
  }
  if (type == GDT_Byte || type == GDT_UInt16 || type == GDT_Float32) {
    const int bits = type == GDT_Byte ? 8 : 16;
    std::vector<float> row(static_cast<size_t>(w));
    for (int b = 0; b < bands; ++b) {
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) row[x] = static_cast<float>(value_at(seed, b, x, y, bits));
        ASSERT_EQ(GDALRasterIO(GDALGetRasterBand(ds, b + 1), GF_Write, 0, y, w, 1, row.data(), w, 1,
                               GDT_Float32, 0, 0),
                  CE_None);
      }
    }
  }
  GDALClose(ds);
}

class GeoTiff : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tessera_geotiff_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "tiles");
    fs::create_directories(dir_ / "masks");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // n 4-band uint16 64x48 tiles with binary 0/255 masks.
  void write_tiles(int n, GDALDataType type = GDT_UInt16, int bands = 4) {
    for (int i = 0; i < n; ++i) {
      const std::string stem = "t" + std::to_string(i);
      write_tiff(path("tiles/" + stem + ".tif"), 64, 48, bands, type, i);
      cv::Mat mask(48, 64, CV_8U);
      for (int y = 0; y < 48; ++y) {
        for (int x = 0; x < 64; ++x) mask.at<uint8_t>(y, x) = ((x + y + i) % 5 == 0) ? 255 : 0;
      }
      cv::imwrite(path("masks/" + stem + ".png"), mask);
    }
  }
  PackOptions options() const {
    PackOptions o;
    o.task = "segmentation";
    o.inputs = path("tiles");
    o.targets = path("masks");
    o.out = path("out");
    o.size = 16;
    o.fit = "tile";
    o.split = "train";
    return o;
  }
  fs::path dir_;
};

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

TEST_F(GeoTiff, PacksFourBandUint16TilesExactlyWithSourcesAndStats) {
  write_tiles(2);
  const PackSummary s = run_pack(options());
  EXPECT_EQ(s.info.in_channels, 4);
  EXPECT_EQ(s.info.input_dtype, "uint16");
  EXPECT_EQ(s.samples.train, 2 * 4 * 3);  // 64x48 -> 4 x 3 tiles of 16
  DatasetReader reader(path("out/train"));
  RawSample raw;
  int wrong = 0;
  for (int64_t k = 0; k < reader.size(); ++k) {
    reader.read(k, raw);
    ASSERT_EQ(raw.input.size(), 16u * 16 * 4 * 2);
    const int img = static_cast<int>(k / 12), tile = static_cast<int>(k % 12);
    const int x0 = (tile % 4) * 16, y0 = (tile / 4) * 16;
    for (int y = 0; y < 16; ++y) {
      for (int x = 0; x < 16; ++x) {
        for (int b = 0; b < 4; ++b) {
          uint16_t v;
          std::memcpy(&v, raw.input.data() + ((y * 16 + x) * 4 + b) * 2, 2);
          wrong += v != value_at(img, b, x0 + x, y0 + y, 16);
        }
        wrong += raw.target[y * 16 + x] != (((x0 + x + y0 + y + img) % 5 == 0) ? 1 : 0);
      }
    }
  }
  EXPECT_EQ(wrong, 0);
  const Manifest m = load_manifest(path("out/train"));
  ASSERT_TRUE(m.sources.is_array());
  ASSERT_EQ(m.sources.size(), 2u);
  const auto& src = m.sources[1];
  EXPECT_EQ(src["first_sample"], 12);
  EXPECT_EQ(src["samples"], 12);
  EXPECT_EQ(src["bands"], 4);
  EXPECT_EQ(src["sample_type"], "UInt16");
  EXPECT_EQ(src["georeference"]["epsg"], 32633);
  EXPECT_EQ(src["georeference"]["geotransform"].get<std::vector<double>>(),
            std::vector<double>(kGeo.begin(), kGeo.end()));
  // Tile 5 is column 1, row 1: its origin is 16 pixels right and 16 down (10 m pixels).
  const auto t5 = src["georeference"]["sample_geotransforms"][5].get<std::vector<double>>();
  EXPECT_EQ(t5, (std::vector<double>{500160.0, 10.0, 0.0, 4099840.0, 0.0, -10.0}));
  // Per-channel statistics in [0, 1] units (value / 65535), one entry per band.
  ASSERT_TRUE(m.stats.has_value());
  ASSERT_EQ(m.stats->inputs.size(), 4u);
  for (int b = 0; b < 4; ++b) {
    double lo = 1e9, hi = -1e9, sum = 0;
    for (int img = 0; img < 2; ++img) {
      for (int y = 0; y < 48; ++y) {
        for (int x = 0; x < 64; ++x) {
          const double v = value_at(img, b, x, y, 16) / 65535.0;
          lo = std::min(lo, v);
          hi = std::max(hi, v);
          sum += v;
        }
      }
    }
    EXPECT_DOUBLE_EQ(m.stats->inputs[b].min, lo) << "band " << b + 1;
    EXPECT_DOUBLE_EQ(m.stats->inputs[b].max, hi) << "band " << b + 1;
    EXPECT_NEAR(m.stats->inputs[b].mean, sum / (2 * 48 * 64), 1e-9) << "band " << b + 1;
  }
}

TEST_F(GeoTiff, PackRefusesMismatchedBandsTypesSizesAndFormats) {
  write_tiles(2);
  EXPECT_EQ(error_of([&] { run_pack(options()); }), "");  // control: consistent files pack
  PackOptions o = options();
  o.overwrite = true;
  o.channels = 3;
  EXPECT_NE(error_of([&] { run_pack(o); }).find("t0.tif has 4 band(s), expected 3 (the --channels"),
            std::string::npos);
  write_tiff(path("tiles/t1.tif"), 64, 48, 3, GDT_UInt16, 1);
  o.channels = 0;
  EXPECT_NE(error_of([&] {
              run_pack(o);
            }).find("t1.tif has 3 band(s), expected 4 (the band count of the first input"),
            std::string::npos);
  write_tiff(path("tiles/t1.tif"), 64, 48, 4, GDT_Byte, 1);
  EXPECT_NE(error_of([&] {
              run_pack(o);
            }).find("t1.tif has 8-bit (Byte) samples, expected 16-bit (UInt16)"),
            std::string::npos);
  write_tiff(path("tiles/t1.tif"), 64, 48, 4, GDT_Float32, 1);
  EXPECT_NE(error_of([&] { run_pack(o); }).find("t1.tif: samples are Float32"), std::string::npos);
  write_tiff(path("tiles/t1.tif"), 64, 40, 4, GDT_UInt16, 1);
  EXPECT_NE(error_of([&] { run_pack(o); }).find("t1.tif is 64x40 but its target"),
            std::string::npos);
  fs::remove(path("tiles/t1.tif"));
  cv::imwrite(path("tiles/t1.png"), cv::Mat(48, 64, CV_8UC3, cv::Scalar(1, 2, 3)));
  EXPECT_NE(error_of([&] { run_pack(o); }).find("t1.png is not a TIFF"), std::string::npos);
  fs::remove(path("tiles/t1.png"));
  std::ofstream(path("tiles/t1.tif")) << "not a tiff at all";
  EXPECT_NE(error_of([&] { run_pack(o); }).find("t1.tif: not a TIFF"), std::string::npos);
  o.task = "denoising";
  o.targets.clear();
  fs::remove(path("tiles/t1.tif"));
  EXPECT_NE(error_of([&] { run_pack(o); }).find("for --task segmentation only"), std::string::npos);
}

TEST_F(GeoTiff, LoaderScalesUint16ByItsRangeAndRefusesColourJitterOnFourBands) {
  write_tiles(1);
  run_pack(options());
  DataConfig c;
  c.batch_size = 12;
  c.image_size = 16;
  c.loader_threads = 0;
  c.augment.color_jitter = 0.0f;
  LoaderOptions lo;
  lo.train = false;
  Loader loader(c, path("out/train"), lo);
  loader.start_epoch(0);
  auto b = loader.next();
  ASSERT_TRUE(b.has_value());
  ASSERT_EQ(b->inputs.sizes(), (std::vector<int64_t>{12, 4, 16, 16}));
  const int64_t k = b->indices[0];
  const int x0 = static_cast<int>(k % 4) * 16, y0 = static_cast<int>(k / 4) * 16;
  for (int band = 0; band < 4; ++band) {
    EXPECT_FLOAT_EQ(b->inputs[0][band][3][5].item<float>(),
                    static_cast<float>(value_at(0, band, x0 + 5, y0 + 3, 16) / 65535.0));
  }
  // Geometric augmentation works on 4 channels; colour jitter is refused.
  c.augment.crop = true;
  c.augment.hflip = c.augment.vflip = c.augment.rot90 = true;
  lo.train = true;
  EXPECT_EQ(error_of([&] { Loader ok(c, path("out/train"), lo); }), "");  // control
  c.augment.color_jitter = 0.1f;
  EXPECT_NE(error_of([&] {
              Loader bad(c, path("out/train"), lo);
            }).find("has 4 input channels; data.augment.color_jitter"),
            std::string::npos);
}

// Flips and quarter turns on 4 channels: every output sample is one transform of its source tile,
// the same one for all four bands and the label map (a band-mixing or per-band geometry would
// fail; the control is the check itself finding a transform for band 1 only by matching).
TEST_F(GeoTiff, FlipsAndRotationsMoveEveryBandAndTheMaskTogether) {
  write_tiles(1);
  run_pack(options());
  DataConfig c;
  c.batch_size = 12;
  c.image_size = 16;
  c.loader_threads = 0;
  c.augment.crop = false;
  c.augment.hflip = c.augment.vflip = c.augment.rot90 = true;
  c.augment.color_jitter = 0.0f;
  LoaderOptions lo;
  lo.seed = 3;
  Loader loader(c, path("out/train"), lo);
  loader.start_epoch(0);
  auto b = loader.next();
  ASSERT_TRUE(b.has_value());
  int transformed = 0;
  for (int j = 0; j < 12; ++j) {
    const int64_t k = b->indices[static_cast<size_t>(j)];
    const int x0 = static_cast<int>(k % 4) * 16, y0 = static_cast<int>(k / 4) * 16;
    torch::Tensor src = torch::empty({4, 16, 16}), mask = torch::empty({16, 16}, torch::kInt64);
    for (int y = 0; y < 16; ++y) {
      for (int x = 0; x < 16; ++x) {
        for (int band = 0; band < 4; ++band) {
          src[band][y][x] = static_cast<float>(value_at(0, band, x0 + x, y0 + y, 16) / 65535.0);
        }
        mask[y][x] = ((x0 + x + y0 + y) % 5 == 0) ? 1 : 0;
      }
    }
    auto apply = [](const torch::Tensor& t, int r, bool f) {
      torch::Tensor u = f ? t.flip({-1}) : t;
      return torch::rot90(u, r, {-2, -1});
    };
    int found = -1;
    for (int r = 0; r < 4 && found < 0; ++r) {
      for (int f = 0; f < 2 && found < 0; ++f) {
        if (torch::allclose(apply(src[0], r, f), b->inputs[j][0], 0, 1e-6)) found = r * 2 + f;
      }
    }
    ASSERT_GE(found, 0) << "sample " << k << ": band 1 is no flip/rotation of its tile";
    const int r = found / 2;
    const bool f = found % 2;
    EXPECT_TRUE(torch::allclose(apply(src, r, f), b->inputs[j], 0, 1e-6)) << "sample " << k;
    EXPECT_TRUE(torch::equal(apply(mask, r, f), b->targets[j])) << "sample " << k;
    transformed += found != 0;
  }
  EXPECT_GT(transformed, 0);  // the augmentation did something
}

TEST_F(GeoTiff, PacksThirteenByteBandsAsUint8) {
  write_tiles(2, GDT_Byte, 13);
  const PackSummary s = run_pack(options());
  EXPECT_EQ(s.info.in_channels, 13);
  EXPECT_EQ(s.info.input_dtype, "uint8");
  DatasetReader reader(path("out/train"));
  RawSample raw;
  reader.read(13, raw);  // image 1, tile 1: x0 = 16, y0 = 0
  ASSERT_EQ(raw.input.size(), 16u * 16 * 13);
  EXPECT_EQ(raw.input[(2 * 16 + 3) * 13 + 12], value_at(1, 12, 16 + 3, 2, 8));
  EXPECT_EQ(load_manifest(path("out/train")).sources[1]["sample_type"], "Byte");
}

TEST(PackRasters, PatchGeotransformsFollowTheFitMode) {
  const std::array<double, 6> gt = {100.0, 2.0, 0.0, 50.0, 0.0, -2.0};
  const auto tiles = patch_geotransforms(gt, 40, 20, 10, FitMode::tile);
  ASSERT_EQ(tiles.size(), 8u);
  EXPECT_EQ(tiles[5], (std::array<double, 6>{120.0, 2.0, 0.0, 30.0, 0.0, -2.0}));
  const auto resized = patch_geotransforms(gt, 40, 20, 10, FitMode::resize);
  EXPECT_EQ(resized.at(0), (std::array<double, 6>{100.0, 8.0, 0.0, 50.0, 0.0, -4.0}));
  const auto crop = patch_geotransforms(gt, 40, 20, 10, FitMode::center_crop);
  // Shorter side 20 -> 10: 2x2 source pixels per patch pixel, the centred 10 of 20 columns.
  EXPECT_EQ(crop.at(0), (std::array<double, 6>{120.0, 4.0, 0.0, 50.0, 0.0, -4.0}));
}

}  // namespace
}  // namespace tessera
