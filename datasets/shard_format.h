// Shard format: the on-disk layout of a tessera dataset (docs/data-format.md is the normative
// description; keep both in sync).
//
// A dataset is a directory holding shard-00000.h5, shard-00001.h5, ... and manifest.json. Each
// shard is an HDF5 file with
//   inputs   (N, h, w, C)  uint8 | uint16 | float32   h,w = input size (H/scale for
//                                                      super-resolution); C any (1..)
//   targets  (N, H, W)     uint8 label maps     (target_kind "labels")
//            (N, H, W, Ct) uint8 | float32      (target_kind "image")
//   labels   (N,)          int32                optional, image-level labels (anomaly sets)
// chunked one sample per chunk, optionally gzip-compressed, and root attributes
// format_version (int), task, target_kind (strings), classes, in_channels (ints), ...
// Every shard of a dataset has the same shapes and dtypes (variable image sizes are rejected).
//
// DatasetInfo is a plain value type describing a dataset (shared by writer, reader, manifest,
// loader). validate_info() throws tessera::Error naming the offending field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

inline constexpr int kShardFormatVersion = 1;
inline constexpr const char* kInputsName = "inputs";
inline constexpr const char* kTargetsName = "targets";
inline constexpr const char* kLabelsName = "labels";
inline constexpr const char* kManifestName = "manifest.json";

struct DatasetInfo {
  std::string task;           // config task.kind string: segmentation, translation, ...
  int height = 0, width = 0;  // target size
  int input_height = 0,
      input_width = 0;  // input size (differs from target for super_resolution: H/scale)
  int in_channels = 3;
  std::string input_dtype = "uint8";   // uint8 | uint16 (16-bit sources) | float32
  std::string target_kind = "labels";  // labels (N,H,W uint8) | image (N,H,W,C)
  int target_channels = 0;             // image targets only
  std::string target_dtype = "uint8";  // uint8 | float32
  int classes = 1;                     // labels: 1 = binary (values 0/1), >1 = values 0..classes-1
  bool has_labels = false;             // image-level int labels dataset `labels` (anomaly)
  // labels only: the stored value of pixels excluded from the loss and metrics (the config's
  // loss.ignore_index must equal it), -1 = none. `tessera pack --ignore-value` stores 255.
  int ignore_index = -1;
  // labels only, optional: a name per label value (classes entries; 2 for binary), e.g. from
  // `tessera pack --palette`. Empty = unnamed.
  std::vector<std::string> class_names;
  // super_resolution only: how the inputs were made from the targets (datasets/degradation.h:
  // bicubic_aa, opencv_cubic, area, unknown). "" = not recorded (made before the key existed,
  // i.e. with opencv_cubic; comparisons use effective_degradation()).
  std::string degradation;
};

// The largest label value of a class (1 for binary datasets, classes - 1 otherwise), and whether
// a stored label value is valid for the dataset (a class, or its ignore_index).
int max_label(const DatasetInfo& info);
bool valid_label(const DatasetInfo& info, int value);

bool operator==(const DatasetInfo& a, const DatasetInfo& b);
inline bool operator!=(const DatasetInfo& a, const DatasetInfo& b) {
  return !(a == b);
}

// Every field in which two datasets differ, one line each, e.g. "task differs: train has
// segmentation, val has denoising" (a_name, b_name name the two). Empty when a == b.
std::vector<std::string> info_differences(const DatasetInfo& a, const DatasetInfo& b,
                                          const std::string& a_name, const std::string& b_name);

// Checks every field (known task/dtype/kind strings, positive sizes, channels, classes);
// `where` names the source in the error ("manifest.json of DIR", "DatasetWriter", ...).
void validate_info(const DatasetInfo& info, const std::string& where);

// Whether `task` is one of the task names a shard may carry (segmentation, translation, ...).
bool is_known_task(const std::string& task);

// Bytes per element of "uint8" (1) / "uint16" (2) / "float32" (4); throws on anything else.
int dtype_size(const std::string& dtype);

// The factor that maps stored values to the [0, 1] the models see: uint8 1/255, uint16 1/65535,
// float32 1 (stored in [0, 1] already). Throws on an unknown dtype.
double dtype_value_scale(const std::string& dtype);

// Bytes of one sample's input / target as stored (h*w*C*dtype).
int64_t input_bytes(const DatasetInfo& info);
int64_t target_bytes(const DatasetInfo& info);

// Dataset shapes of one sample (without the leading N): {h,w,C} / {H,W} or {H,W,Ct}.
std::vector<int64_t> input_sample_shape(const DatasetInfo& info);
std::vector<int64_t> target_sample_shape(const DatasetInfo& info);

// Human-readable one-line summary: "segmentation 64x64x3 uint8 -> labels 64x64 (classes 1)".
std::string describe(const DatasetInfo& info);

// shard file name for index i: "shard-00012.h5".
std::string shard_file_name(int64_t index);

}  // namespace tessera
