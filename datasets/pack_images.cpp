#include "datasets/pack_images.h"

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>

#include "common/error.h"
#include "datasets/nifti_volume.h"

namespace tessera {

namespace fs = std::filesystem;

FitMode fit_mode_from_string(const std::string& s) {
  if (s == "resize") return FitMode::resize;
  if (s == "tile") return FitMode::tile;
  if (s == "center-crop" || s == "center_crop") return FitMode::center_crop;
  TESSERA_THROW("unknown fit mode '{}'; accepted: resize, tile, center-crop", s);
}

const char* to_string(FitMode mode) {
  switch (mode) {
    case FitMode::resize:
      return "resize";
    case FitMode::tile:
      return "tile";
    case FitMode::center_crop:
      return "center-crop";
  }
  return "?";
}

std::string file_stem(const std::string& path) {
  if (is_nifti_name(path)) {  // "case.nii.gz" -> "case", not "case.nii"
    const std::string name = fs::path(path).filename().string();
    return name.substr(0, name.size() - (name.size() >= 7 && name[name.size() - 3] == '.' ? 7 : 4));
  }
  return fs::path(path).stem().string();
}

bool is_image_name(const std::string& path) {
  static const char* kExt[] = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"};
  const fs::path p(path);
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (p.filename().string().front() == '.') return false;
  if (is_nifti_name(path)) return true;
  return std::find_if(std::begin(kExt), std::end(kExt),
                      [&](const char* e) { return ext == e; }) != std::end(kExt);
}

bool holds_images(const std::string& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && is_image_name(it->path().string())) return true;
  }
  return false;
}

std::vector<std::string> list_images(const std::string& dir) {
  std::error_code ec;
  TESSERA_CHECK(fs::is_directory(dir, ec), "image folder {} does not exist or is not a directory",
                dir);
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && is_image_name(entry.path().string())) {
      files.push_back(entry.path().string());
    }
  }
  TESSERA_CHECK(!ec, "cannot list {}: {}", dir, ec.message());
  TESSERA_CHECK(!files.empty(), "no images (png, jpg, jpeg, tif, tiff, bmp, nii, nii.gz) in {}", dir);
  std::sort(files.begin(), files.end());
  std::map<std::string, std::string> seen;
  for (const auto& f : files) {
    auto [it, inserted] = seen.emplace(file_stem(f), f);
    TESSERA_CHECK(inserted,
                  "{} and {} have the same stem '{}'; images are matched by stem, so "
                  "stems must be unique in a folder",
                  it->second, f, it->first);
  }
  return files;
}

namespace {
// nnU-Net names each channel of a case `CASE_XXXX` and its labels `CASE`: channel 0000 matches
// the labels; another channel is refused (one modality per dataset). end() when `input` has no
// such name or no target of that case.
std::map<std::string, std::string>::iterator match_channel_name(
    std::map<std::string, std::string>& by_stem, const std::string& input) {
  const std::string stem = file_stem(input);
  const size_t n = stem.size();
  if (n < 6 || stem[n - 5] != '_' ||
      !std::all_of(stem.end() - 4, stem.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return by_stem.end();
  const auto it = by_stem.find(stem.substr(0, n - 5));
  TESSERA_CHECK(it == by_stem.end() || stem.compare(n - 4, 4, "0000") == 0,
                "{} is channel {} of case '{}' (nnU-Net naming, labels {}); several channels per "
                "case are not supported: pack one channel (modality) per dataset",
                input, stem.substr(n - 4), stem.substr(0, n - 5), it->second);
  return it;
}

std::string name_list(const std::vector<std::string>& paths) {
  std::string out;
  const size_t shown = std::min<size_t>(paths.size(), 10);
  for (size_t i = 0; i < shown; ++i)
    out += (i ? ", " : "") + fs::path(paths[i]).filename().string();
  if (paths.size() > shown) out += fmt::format(" ... and {} more", paths.size() - shown);
  return out;
}
}  // namespace

std::vector<MatchedPair> match_by_stem(const std::vector<std::string>& inputs,
                                       const std::vector<std::string>& targets,
                                       const std::string& target_suffix) {
  std::map<std::string, std::string> by_stem;
  for (const auto& t : targets) {
    std::string stem = file_stem(t);
    if (!target_suffix.empty() && stem.size() > target_suffix.size() &&
        stem.compare(stem.size() - target_suffix.size(), target_suffix.size(), target_suffix) ==
            0) {
      stem.resize(stem.size() - target_suffix.size());
    }
    auto [it, inserted] = by_stem.emplace(stem, t);
    TESSERA_CHECK(inserted, "targets {} and {} both match stem '{}'", it->second, t, stem);
  }
  std::vector<MatchedPair> pairs;
  std::vector<std::string> lonely_inputs;
  std::map<std::string, bool> used;
  for (const auto& in : inputs) {
    auto it = by_stem.find(file_stem(in));
    if (it == by_stem.end()) it = match_channel_name(by_stem, in);
    if (it == by_stem.end()) {
      lonely_inputs.push_back(in);
    } else {
      pairs.push_back({in, it->second});
      used[it->first] = true;
    }
  }
  std::vector<std::string> lonely_targets;
  for (const auto& [stem, path] : by_stem) {
    if (!used.count(stem)) lonely_targets.push_back(path);
  }
  if (!lonely_inputs.empty() || !lonely_targets.empty()) {
    std::string msg = "inputs and targets are matched by file stem";
    if (!target_suffix.empty())
      msg += fmt::format(" (target stems minus suffix '{}')", target_suffix);
    msg += ", and some have no partner:";
    if (!lonely_inputs.empty()) {
      msg += fmt::format(" {} input(s) without a target: {};", lonely_inputs.size(),
                         name_list(lonely_inputs));
    }
    if (!lonely_targets.empty()) {
      msg += fmt::format(" {} target(s) without an input: {};", lonely_targets.size(),
                         name_list(lonely_targets));
    }
    if (target_suffix.empty() && !lonely_targets.empty())
      msg += " (masks named like img_mask.png need --target-suffix _mask)";
    TESSERA_THROW("{}", msg);
  }
  return pairs;
}

std::string page_label(const std::string& path, int page) {
  return page < 0 ? path : path + " page " + std::to_string(page + 1);
}

cv::Mat decode_image(const std::string& path, int page) {
  if (page >= 0) {
    std::vector<cv::Mat> pages;
    const bool ok = cv::imreadmulti(path, pages, page, 1, cv::IMREAD_ANYDEPTH | cv::IMREAD_ANYCOLOR);
    TESSERA_CHECK(ok && pages.size() == 1 && !pages[0].empty(),
                  "cannot decode {} (the file has fewer pages, or is damaged)",
                  page_label(path, page));
    return pages[0];
  }
  cv::Mat img = cv::imread(path, cv::IMREAD_ANYDEPTH | cv::IMREAD_ANYCOLOR);
  TESSERA_CHECK(!img.empty(),
                "cannot decode image {} (not a PNG/JPEG/TIFF/BMP OpenCV can read, "
                "or a truncated file)",
                path);
  return img;
}

cv::Mat read_image(const std::string& path, int channels) {
  TESSERA_CHECK(channels == 1 || channels == 3, "channels must be 1 or 3, got {}", channels);
  cv::Mat img = decode_image(path);
  switch (img.depth()) {
    case CV_8U:
      break;
    case CV_16U:
      img.convertTo(img, CV_8U, 1.0 / 257.0);
      break;
    case CV_32F:
      img.convertTo(img, CV_8U, 255.0);
      break;
    default:
      TESSERA_THROW(
          "image {} has pixel depth {} (OpenCV depth code); supported: 8-bit, 16-bit "
          "unsigned, 32-bit float in [0,1]",
          path, img.depth());
  }
  cv::Mat out;
  switch (img.channels()) {
    case 1:
      if (channels == 3)
        cv::cvtColor(img, out, cv::COLOR_GRAY2RGB);
      else
        out = img;
      break;
    case 2: {  // grey + alpha
      cv::Mat grey;
      cv::extractChannel(img, grey, 0);
      if (channels == 3)
        cv::cvtColor(grey, out, cv::COLOR_GRAY2RGB);
      else
        out = grey;
      break;
    }
    case 3:
      cv::cvtColor(img, out, channels == 3 ? cv::COLOR_BGR2RGB : cv::COLOR_BGR2GRAY);
      break;
    case 4:
      cv::cvtColor(img, out, channels == 3 ? cv::COLOR_BGRA2RGB : cv::COLOR_BGRA2GRAY);
      break;
    default:
      TESSERA_THROW("image {} has {} channels; supported: 1 to 4", path, img.channels());
  }
  return out;
}

namespace {
cv::Mat resize_to(const cv::Mat& img, cv::Size size, bool labels) {
  if (img.size() == size) return img.clone();
  int interp = cv::INTER_NEAREST;
  if (!labels)
    interp = (size.width <= img.cols && size.height <= img.rows) ? cv::INTER_AREA : cv::INTER_CUBIC;
  cv::Mat out;
  cv::resize(img, out, size, 0, 0, interp);
  return out;
}

cv::Mat centre_crop(const cv::Mat& img, int size, bool labels) {
  const double s = static_cast<double>(size) / std::min(img.rows, img.cols);
  const cv::Size scaled(std::max(size, static_cast<int>(std::lround(img.cols * s))),
                        std::max(size, static_cast<int>(std::lround(img.rows * s))));
  const cv::Mat r = resize_to(img, scaled, labels);
  return r(cv::Rect((scaled.width - size) / 2, (scaled.height - size) / 2, size, size)).clone();
}
}  // namespace

int64_t patch_count(int rows, int cols, int size, FitMode mode) {
  if (mode != FitMode::tile) return 1;
  return int64_t{rows / size} * (cols / size);
}

std::vector<cv::Mat> fit_image(const cv::Mat& img, int size, FitMode mode, bool labels,
                               const std::string& what) {
  switch (mode) {
    case FitMode::resize:
      return {resize_to(img, cv::Size(size, size), labels)};
    case FitMode::center_crop:
      return {centre_crop(img, size, labels)};
    case FitMode::tile: {
      TESSERA_CHECK(img.rows >= size && img.cols >= size,
                    "{} is {}x{} (w x h), smaller than the {}x{} tile; use --fit resize or "
                    "center-crop, or a smaller --size",
                    what, img.cols, img.rows, size, size);
      std::vector<cv::Mat> tiles;
      for (int y = 0; y + size <= img.rows; y += size) {
        for (int x = 0; x + size <= img.cols; x += size)
          tiles.push_back(img(cv::Rect(x, y, size, size)).clone());
      }
      return tiles;
    }
  }
  TESSERA_THROW("invalid fit mode");
}

std::vector<std::pair<cv::Mat, cv::Mat>> fit_pair(const cv::Mat& input, const cv::Mat& target,
                                                  int in_size, int ratio, FitMode mode,
                                                  bool target_labels, const std::string& input_what,
                                                  const std::string& target_what) {
  TESSERA_CHECK(input.cols == target.cols / ratio && input.rows == target.rows / ratio,
                "{} is {}x{} but its target {} is {}x{}: {}", input_what, input.cols, input.rows,
                target_what, target.cols, target.rows,
                ratio == 1
                    ? "paired images must have the same size"
                    : fmt::format("the input must be the target size / {} (rounded down)", ratio));
  std::vector<std::pair<cv::Mat, cv::Mat>> out;
  const int t_size = in_size * ratio;
  if (mode != FitMode::tile) {
    auto in = fit_image(input, in_size, mode, false, input_what);
    auto tg = fit_image(target, t_size, mode, target_labels, target_what);
    out.emplace_back(in.front(), tg.front());
    return out;
  }
  TESSERA_CHECK(input.rows >= in_size && input.cols >= in_size,
                "{} is {}x{} (w x h), smaller than the {}x{} tile; use --fit resize or "
                "center-crop, or a smaller --size",
                input_what, input.cols, input.rows, in_size, in_size);
  for (int y = 0; y + in_size <= input.rows; y += in_size) {
    for (int x = 0; x + in_size <= input.cols; x += in_size) {
      out.emplace_back(input(cv::Rect(x, y, in_size, in_size)).clone(),
                       target(cv::Rect(x * ratio, y * ratio, t_size, t_size)).clone());
    }
  }
  return out;
}

}  // namespace tessera
