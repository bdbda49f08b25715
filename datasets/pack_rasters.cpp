#include "datasets/pack_rasters.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "datasets/nifti_volume.h"

namespace tessera {

namespace {

const char* bits_name(const std::string& dtype) {
  return dtype == "uint16" ? "16-bit (UInt16)" : "8-bit (Byte)";
}

}  // namespace

InputFormat resolve_input_format(const std::string& first_input, int channels_option) {
  TESSERA_CHECK(channels_option >= 0 && channels_option <= kMaxTiffBands,
                "pack: --channels must be in 1..{}, got {}", kMaxTiffBands, channels_option);
  InputFormat f;
  f.first_file = first_input;
  if (is_nifti_name(first_input)) {  // one channel, windowed to uint16 (pack_volumes.h)
    TESSERA_CHECK(channels_option <= 1,
                  "pack: --channels {}: the first input {} is a NIfTI volume, packed as one "
                  "channel (one modality per dataset)",
                  channels_option, first_input);
    f.volume = true;
    f.channels = 1;
    f.dtype = "uint16";
    return f;
  }
  if (is_tiff_name(first_input)) {
    const RasterHeader h = read_tiff_header(first_input, tiff_pages(first_input) > 1 ? 0 : -1);
    f.tiff = true;
    f.channels = channels_option > 0 ? channels_option : h.bands - (h.alpha_last ? 1 : 0);
    f.dtype = h.bits == 16 ? "uint16" : "uint8";
    return f;
  }
  f.channels = channels_option > 0 ? channels_option : 3;
  TESSERA_CHECK(f.channels == 1 || f.channels == 3,
                "pack: --channels {} needs multi-band TIFF inputs (read through GDAL); the first "
                "input {} is not a TIFF, and PNG/JPEG/BMP images give 1 (grey) or 3 (RGB) "
                "channels",
                f.channels, first_input);
  return f;
}

cv::Mat read_input_image(const std::string& path, const InputFormat& f, RasterHeader* header,
                         int page) {
  TESSERA_CHECK(!is_nifti_name(path),
                "pack: {} is a NIfTI volume but the first input {} is not; a dataset is packed "
                "from volumes or from images, not both",
                path, f.first_file);
  if (!is_tiff_name(path)) {
    TESSERA_CHECK(f.dtype == "uint8" && (f.channels == 1 || f.channels == 3),
                  "pack: {} is not a TIFF, so it gives 8-bit grey or RGB pixels, but the dataset "
                  "has {} channels of {} samples (set by the first input {}); every input of a "
                  "multi-band or 16-bit dataset must be a TIFF with the same bands",
                  path, f.channels, bits_name(f.dtype), f.first_file);
    return read_image(path, f.channels);
  }
  RasterHeader h;
  cv::Mat m = read_tiff(path, &h, page);
  const std::string dtype = h.bits == 16 ? "uint16" : "uint8";
  TESSERA_CHECK(dtype == f.dtype,
                "pack: {} has {} samples, expected {} like the first input {} (16-bit values are "
                "stored as uint16, 8-bit as uint8; one dataset holds one of them)",
                page_label(path, page), bits_name(dtype), bits_name(f.dtype), f.first_file);
  if (h.bands == 1 && f.channels == 3) {
    cv::cvtColor(m, m, cv::COLOR_GRAY2RGB);  // as grey PNGs are
  } else if (h.alpha_last && h.bands == f.channels + 1) {
    cv::Mat colour;  // alpha dropped, as from RGBA PNGs
    std::vector<int> from_to;
    for (int c = 0; c < f.channels; ++c) from_to.insert(from_to.end(), {c, c});
    colour.create(m.rows, m.cols, CV_MAKETYPE(m.depth(), f.channels));
    cv::mixChannels(&m, 1, &colour, 1, from_to.data(), static_cast<size_t>(f.channels));
    m = colour;
  } else {
    TESSERA_CHECK(h.bands == f.channels,
                  "pack: {} has {} band(s), expected {} (the {}); multi-band inputs keep every "
                  "band, so all inputs need the same band count",
                  page_label(path, page), h.bands, f.channels,
                  f.first_file == path
                      ? std::string("--channels value")
                      : "band count of the first input " + f.first_file + " or --channels");
  }
  if (header != nullptr) *header = h;
  return m;
}

std::vector<std::array<double, 6>> patch_geotransforms(const std::array<double, 6>& gt, int width,
                                                       int height, int size, FitMode mode) {
  // A patch whose pixel (0, 0) starts at source pixel coordinates (px, py) and whose pixels are
  // fx x fy source pixels.
  auto patch = [&gt](double px, double py, double fx, double fy) {
    return std::array<double, 6>{gt[0] + px * gt[1] + py * gt[2], gt[1] * fx, gt[2] * fy,
                                 gt[3] + px * gt[4] + py * gt[5], gt[4] * fx, gt[5] * fy};
  };
  std::vector<std::array<double, 6>> out;
  switch (mode) {
    case FitMode::resize:
      out.push_back(patch(0, 0, double(width) / size, double(height) / size));
      break;
    case FitMode::center_crop: {  // the geometry of pack_images.cpp centre_crop()
      const double s = static_cast<double>(size) / std::min(width, height);
      const int sw = std::max(size, static_cast<int>(std::lround(width * s)));
      const int sh = std::max(size, static_cast<int>(std::lround(height * s)));
      const double fx = double(width) / sw, fy = double(height) / sh;
      out.push_back(patch((sw - size) / 2 * fx, (sh - size) / 2 * fy, fx, fy));
      break;
    }
    case FitMode::tile:
      for (int y = 0; y + size <= height; y += size) {
        for (int x = 0; x + size <= width; x += size) out.push_back(patch(x, y, 1, 1));
      }
      break;
  }
  return out;
}

nlohmann::json source_entry(const std::string& input, const std::string& target,
                            const RasterHeader& h, int64_t first_sample, int64_t samples, int size,
                            FitMode mode) {
  nlohmann::json e = {{"file", input},
                      {"first_sample", first_sample},
                      {"samples", samples},
                      {"width", h.width},
                      {"height", h.height},
                      {"bands", h.bands},
                      {"sample_type", h.sample_type}};
  if (!target.empty()) e["target"] = target;
  nlohmann::json geo = nlohmann::json::object();
  if (h.geo.has_geotransform) {
    geo["geotransform"] = h.geo.geotransform;
    nlohmann::json per = nlohmann::json::array();
    for (const auto& g : patch_geotransforms(h.geo.geotransform, h.width, h.height, size, mode)) {
      per.push_back(g);
    }
    geo["sample_geotransforms"] = per;
  }
  if (!h.geo.projection_wkt.empty()) geo["crs_wkt"] = h.geo.projection_wkt;
  if (h.geo.epsg > 0) geo["epsg"] = h.geo.epsg;
  e["georeference"] = geo;
  return e;
}

}  // namespace tessera
