// Helpers of the GeoTIFF tests (geotiff_test.cpp, pack_rasters_test.cpp): GeoTIFFs written
// through GDAL's C API with a known value per band and pixel (value_at), a UTM geotransform and
// EPSG:32633, and a fixture with tiles/ and masks/ folders and the pack options of a tile pack.
#pragma once

#include <cpl_conv.h>
#include <gdal.h>
#include <gtest/gtest.h>
#include <ogr_srs_api.h>
#include <opencv2/imgcodecs.hpp>

#include <unistd.h>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "data_test_util.h"
#include "datasets/dataset_reader.h"
#include "datasets/geotiff.h"
#include "datasets/loader.h"
#include "datasets/manifest.h"
#include "datasets/pack.h"
#include "datasets/pack_rasters.h"

namespace tessera::geotest {

namespace fs = std::filesystem;

inline const std::array<double, 6> kGeo = {500000.0, 10.0, 0.0, 4100000.0, 0.0, -10.0};

// The value of band b (0-based) at (x, y) of test image `seed`: spans the whole uint16 range.
inline int value_at(int seed, int b, int x, int y, int bits) {
  const int v = (seed * 7919 + b * 20011 + y * 257 + x * 131) % 65536;
  return bits == 16 ? v : v % 256;
}

inline void write_tiff(const std::string& path, int w, int h, int bands, GDALDataType type,
                       int seed, bool georef = true, const char* const* options = nullptr) {
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

}  // namespace tessera::geotest
