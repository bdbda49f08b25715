// Image-folder helpers of `tessera pack`: listing, stem matching, decoding with the documented
// conversions, and fitting images to the dataset size (docs/synthetic-data.md, "pack").
//
// Conversions (read_image): decoded with OpenCV (PNG, JPEG, TIFF, BMP; EXIF orientation applied);
// alpha is dropped; 16-bit images are scaled to 8 bits (v / 257, rounded); 32-bit float images
// are taken as [0, 1] and scaled by 255 (clipped); grey images are replicated to 3 channels when
// 3 are wanted, colour images converted to grey (ITU-R BT.601 weights) when 1 is wanted; channel
// order is RGB. Anything else (other depths, undecodable files) throws naming the file.
//
// Label maps: datasets/label_maps.h.
//
// Fitting (FitMode): resize (whole image to S x S, aspect not kept; INTER_AREA when shrinking,
// INTER_CUBIC when enlarging, nearest for label maps), center-crop (shorter side scaled to S,
// then the centred S x S crop), tile (non-overlapping S x S tiles from the top-left corner,
// remainder dropped; an image smaller than S is an error).
//
// Thread safety: pure functions.
#pragma once

#include <opencv2/core.hpp>

#include <string>
#include <utility>
#include <vector>

namespace tessera {

enum class FitMode { resize, tile, center_crop };
FitMode fit_mode_from_string(const std::string& s);  // "resize" | "tile" | "center-crop"
const char* to_string(FitMode mode);

// Image files (png, jpg, jpeg, tif, tiff, bmp; case-insensitive) directly inside `dir`, sorted
// by file name. Throws when dir is missing or holds none, or when two files share a stem.
std::vector<std::string> list_images(const std::string& dir);

// A file name list_images() takes (png, jpg, jpeg, tif, tiff, bmp, any case; not hidden), and
// whether `dir` holds at least one such file (false for a missing directory).
bool is_image_name(const std::string& path);
bool holds_images(const std::string& dir);

// File stem ("a/b/img_01.png" -> "img_01").
std::string file_stem(const std::string& path);

struct MatchedPair {
  std::string input, target;
};
// Matches inputs to targets by stem (a target's stem minus `target_suffix`, when it ends with
// it). Throws an error listing every unmatched input and every unmatched target (up to 10 each).
std::vector<MatchedPair> match_by_stem(const std::vector<std::string>& inputs,
                                       const std::vector<std::string>& targets,
                                       const std::string& target_suffix);

// Decodes an image as CV_8UC(channels), RGB order; channels is 1 or 3.
cv::Mat read_image(const std::string& path, int channels);

// Decodes a file as OpenCV reads it (any depth and channel count, BGR order, EXIF orientation
// applied); throws naming the file when OpenCV cannot decode it. `page` >= 0: that page (0-based)
// of a multi-page TIFF (no EXIF orientation).
cv::Mat decode_image(const std::string& path, int page = -1);

// "stack.tif page 3" for page 2 (pages counted from 1 in messages), the path for page -1.
std::string page_label(const std::string& path, int page);

// Fits one image to size x size patches (1 patch for resize / center-crop, k for tile).
// `what` names the file in errors.
std::vector<cv::Mat> fit_image(const cv::Mat& img, int size, FitMode mode, bool labels,
                               const std::string& what);

// Fits a pair whose target is `ratio` times the input (1, or the super-resolution scale):
// inputs to in_size, targets to in_size * ratio, at corresponding positions. The input must be
// the target's size divided by ratio (rounded down) or the pair is rejected, naming both files.
std::vector<std::pair<cv::Mat, cv::Mat>> fit_pair(const cv::Mat& input, const cv::Mat& target,
                                                  int in_size, int ratio, FitMode mode,
                                                  bool target_labels, const std::string& input_what,
                                                  const std::string& target_what);

// Number of patches fit_image would produce for an image of this size (tile: floor division).
int64_t patch_count(int rows, int cols, int size, FitMode mode);

}  // namespace tessera
