#include "datasets/geotiff.h"

#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>
#include <ogr_srs_api.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <mutex>

#include "common/error.h"

namespace tessera {

namespace {

namespace fs = std::filesystem;

void register_drivers() {
  static std::once_flag once;
  std::call_once(once, [] { GDALAllRegister(); });
}

// GDAL's messages go to this thread's last-error slot instead of stderr while it lives.
class QuietGdal {
 public:
  QuietGdal() {
    CPLPushErrorHandler(CPLQuietErrorHandler);
    CPLErrorReset();
  }
  ~QuietGdal() { CPLPopErrorHandler(); }
  QuietGdal(const QuietGdal&) = delete;
  QuietGdal& operator=(const QuietGdal&) = delete;
  static std::string last() {
    const char* m = CPLGetLastErrorMsg();
    return (m != nullptr && *m != '\0') ? std::string(" (GDAL: ") + m + ")" : std::string();
  }
};

class GdalDataset {
 public:
  explicit GdalDataset(const std::string& path) {
    register_drivers();
    static const char* const kDrivers[] = {"GTiff", nullptr};
    h_ = GDALOpenEx(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, kDrivers, nullptr, nullptr);
  }
  ~GdalDataset() {
    if (h_ != nullptr) GDALClose(h_);
  }
  GdalDataset(const GdalDataset&) = delete;
  GdalDataset& operator=(const GdalDataset&) = delete;
  GDALDatasetH get() const { return h_; }

 private:
  GDALDatasetH h_ = nullptr;
};

class SpatialRef {
 public:
  explicit SpatialRef(const std::string& wkt) : h_(OSRNewSpatialReference(wkt.c_str())) {}
  ~SpatialRef() {
    if (h_ != nullptr) OSRDestroySpatialReference(h_);
  }
  SpatialRef(const SpatialRef&) = delete;
  SpatialRef& operator=(const SpatialRef&) = delete;
  OGRSpatialReferenceH get() const { return h_; }

 private:
  OGRSpatialReferenceH h_;
};

int identify_epsg(const std::string& wkt) {
  if (wkt.empty()) return 0;
  SpatialRef srs(wkt);
  if (srs.get() == nullptr) return 0;
  OSRAutoIdentifyEPSG(srs.get());  // fills the authority when GDAL recognises the CRS
  for (const char* node : {static_cast<const char*>(nullptr), "PROJCS", "GEOGCS"}) {
    const char* name = OSRGetAuthorityName(srs.get(), node);
    const char* code = OSRGetAuthorityCode(srs.get(), node);
    if (name != nullptr && code != nullptr && std::string(name) == "EPSG") {
      try {
        return std::stoi(code);
      } catch (const std::exception&) {
        return 0;
      }
    }
    if (node == nullptr && name != nullptr) break;  // a non-EPSG authority on the root
  }
  return 0;
}

RasterHeader header_of(GDALDatasetH ds, const std::string& path) {
  RasterHeader h;
  h.width = GDALGetRasterXSize(ds);
  h.height = GDALGetRasterYSize(ds);
  h.bands = GDALGetRasterCount(ds);
  char** subdatasets = GDALGetMetadata(ds, "SUBDATASETS");
  TESSERA_CHECK(subdatasets == nullptr || *subdatasets == nullptr,
                "{}: a multi-page TIFF ({} pages); here one image per file is read: split the "
                "pages into files (gdal_translate {} page.tif -sds), or pack it with `tessera "
                "pack`, which reads every page",
                path, CSLCount(subdatasets) / 2, path);
  TESSERA_CHECK(
      h.width >= 1 && h.height >= 1 && h.width <= kMaxTiffSide && h.height <= kMaxTiffSide,
      "{}: image is {}x{} pixels; expected 1..{} pixels a side", path, h.width, h.height,
      kMaxTiffSide);
  TESSERA_CHECK(uint64_t(h.width) * uint64_t(h.height) <= kMaxTiffPixels,
                "{}: image is {}x{} = {} pixels; expected at most {}", path, h.width, h.height,
                uint64_t(h.width) * uint64_t(h.height), kMaxTiffPixels);
  TESSERA_CHECK(h.bands >= 1 && h.bands <= kMaxTiffBands,
                "{}: the file has {} bands; expected 1..{}", path, h.bands, kMaxTiffBands);
  const GDALDataType type = GDALGetRasterDataType(GDALGetRasterBand(ds, 1));
  for (int b = 2; b <= h.bands; ++b) {
    const GDALDataType tb = GDALGetRasterDataType(GDALGetRasterBand(ds, b));
    TESSERA_CHECK(tb == type, "{}: band {} is {} but band 1 is {}; expected one sample type", path,
                  b, GDALGetDataTypeName(tb), GDALGetDataTypeName(type));
  }
  TESSERA_CHECK(type == GDT_Byte || type == GDT_UInt16,
                "{}: samples are {}; supported: Byte (8-bit) and UInt16 (16-bit) unsigned "
                "integers (convert e.g. with gdal_translate -ot UInt16 -scale)",
                path, GDALGetDataTypeName(type));
  h.bits = type == GDT_Byte ? 8 : 16;
  h.sample_type = GDALGetDataTypeName(type);
  h.alpha_last = h.bands >= 2 &&
                 GDALGetRasterColorInterpretation(GDALGetRasterBand(ds, h.bands)) == GCI_AlphaBand;
  double gt[6];
  if (GDALGetGeoTransform(ds, gt) == CE_None) {
    h.geo.has_geotransform = true;
    std::copy(gt, gt + 6, h.geo.geotransform.begin());
  }
  const char* wkt = GDALGetProjectionRef(ds);
  h.geo.projection_wkt = wkt != nullptr ? wkt : "";
  h.geo.epsg = identify_epsg(h.geo.projection_wkt);
  CPLErrorReset();  // a GDAL warning met above is not the message of a later error
  return h;
}

// Pages of an open TIFF: its SUBDATASET_N_NAME entries (GTIFF_DIR:N:file), or 1.
int page_count(GDALDatasetH ds) {
  const int entries = CSLCount(GDALGetMetadata(ds, "SUBDATASETS"));
  return entries == 0 ? 1 : entries / 2;
}

// GDAL's name of page `page` (0-based): GTIFF_DIR:page+1:path; the file itself for -1.
std::string page_name(const std::string& path, int page) {
  TESSERA_CHECK(page >= -1 && page < kMaxTiffPages, "{}: page {} out of range", path, page);
  return page < 0 ? path : "GTIFF_DIR:" + std::to_string(page + 1) + ":" + path;
}

// How errors name a page: "stack.tif page 3" (1-based, as image viewers count).
std::string page_display(const std::string& path, int page) {
  return page < 0 ? path : path + " page " + std::to_string(page + 1);
}

std::string page_error(const std::string& path, int page) {
  return path + ": page " + std::to_string(page + 1) + " cannot be opened (the file has fewer " +
         "pages, or is damaged)" + QuietGdal::last();
}

std::string open_error(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return path + ": no such file";
  return path + ": not a TIFF GDAL's GTiff driver can open (named .tif/.tiff but another " +
         "format, or a truncated file)" + QuietGdal::last();
}

}  // namespace

bool is_tiff_name(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return e == ".tif" || e == ".tiff";
}

int tiff_pages(const std::string& path) {
  QuietGdal quiet;
  GdalDataset ds(path);
  TESSERA_CHECK(ds.get() != nullptr, "{}", open_error(path));
  const int pages = page_count(ds.get());
  TESSERA_CHECK(pages <= kMaxTiffPages, "{}: {} pages; expected at most {}", path, pages,
                kMaxTiffPages);
  return pages;
}

RasterHeader read_tiff_header(const std::string& path, int page) {
  QuietGdal quiet;
  const std::string name = page_name(path, page);
  GdalDataset ds(name);
  TESSERA_CHECK(ds.get() != nullptr, "{}", page < 0 ? open_error(path) : page_error(path, page));
  return header_of(ds.get(), page_display(path, page));
}

cv::Mat read_tiff(const std::string& path, RasterHeader* header, int page) {
  QuietGdal quiet;
  const std::string name = page_name(path, page);
  GdalDataset ds(name);
  TESSERA_CHECK(ds.get() != nullptr, "{}", page < 0 ? open_error(path) : page_error(path, page));
  const RasterHeader h = header_of(ds.get(), page_display(path, page));
  const int depth = h.bits == 8 ? CV_8U : CV_16U;
  const int elem = h.bits / 8;
  cv::Mat out(h.height, h.width, CV_MAKETYPE(depth, h.bands));
  // Interleaved read: pixel stride bands*elem, line stride width*bands*elem, band stride elem.
  const CPLErr err =
      GDALDatasetRasterIO(ds.get(), GF_Read, 0, 0, h.width, h.height, out.data, h.width, h.height,
                          h.bits == 8 ? GDT_Byte : GDT_UInt16, h.bands, nullptr, h.bands * elem,
                          static_cast<int>(out.step[0]), elem);
  TESSERA_CHECK(err == CE_None,
                "{}: reading {}x{}x{} {} pixels failed (truncated or damaged "
                "file?){}",
                page_display(path, page), h.width, h.height, h.bands, h.sample_type, QuietGdal::last());
  if (header != nullptr) *header = h;
  return out;
}

}  // namespace tessera
