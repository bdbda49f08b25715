#include "datasets/shard_format.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "common/error.h"
#include "common/text.h"
#include "datasets/degradation.h"

namespace tessera {

namespace {
const std::array<const char*, 6> kTasks = {"segmentation", "translation", "super_resolution",
                                           "denoising",    "inpainting",  "anomaly"};

// A value read from a file, fit for an error message: escaped, at most 64 bytes of it (a
// damaged attribute is arbitrary bytes).
std::string printable(const std::string& s) {
  return escape_text(s, {/*non_ascii=*/true, /*max_bytes=*/64});
}
}  // namespace

bool is_known_task(const std::string& task) {
  return std::find(kTasks.begin(), kTasks.end(), task) != kTasks.end();
}

bool operator==(const DatasetInfo& a, const DatasetInfo& b) {
  return a.task == b.task && a.height == b.height && a.width == b.width &&
         a.input_height == b.input_height && a.input_width == b.input_width &&
         a.in_channels == b.in_channels && a.input_dtype == b.input_dtype &&
         a.target_kind == b.target_kind && a.target_channels == b.target_channels &&
         a.target_dtype == b.target_dtype && a.classes == b.classes &&
         a.has_labels == b.has_labels && a.ignore_index == b.ignore_index &&
         a.class_names == b.class_names && effective_degradation(a) == effective_degradation(b);
}

int max_label(const DatasetInfo& info) {
  return info.classes == 1 ? 1 : info.classes - 1;
}

bool valid_label(const DatasetInfo& info, int value) {
  return (value >= 0 && value <= max_label(info)) ||
         (info.ignore_index >= 0 && value == info.ignore_index);
}

std::vector<std::string> info_differences(const DatasetInfo& a, const DatasetInfo& b,
                                          const std::string& a_name, const std::string& b_name) {
  const auto fields = [](const DatasetInfo& i) -> std::vector<std::pair<const char*, std::string>> {
    return {{"task", i.task},
            {"in_channels", std::to_string(i.in_channels)},
            {"input size", fmt::format("{}x{}", i.input_height, i.input_width)},
            {"input dtype", i.input_dtype},
            {"target kind", i.target_kind},
            {"target size", fmt::format("{}x{}", i.height, i.width)},
            {"target channels", std::to_string(i.target_channels)},
            {"target dtype", i.target_dtype},
            {"classes", std::to_string(i.classes)},
            {"image-level labels", i.has_labels ? "yes" : "no"},
            {"ignore_index", std::to_string(i.ignore_index)},
            {"class names", [&i] {
               std::string names;
               for (const auto& n : i.class_names) names += (names.empty() ? "" : ",") + n;
               return names.empty() ? std::string("(none)") : names;
             }()},
            {"degradation", i.task == "super_resolution" ? effective_degradation(i) : "(none)"}};
  };
  const auto fa = fields(a), fb = fields(b);
  std::vector<std::string> out;
  for (size_t k = 0; k < fa.size(); ++k) {
    if (fa[k].second == fb[k].second) continue;
    out.push_back(fmt::format("{} differs: {} has {}, {} has {}", fa[k].first, a_name,
                              fa[k].second, b_name, fb[k].second));
  }
  return out;
}

void validate_info(const DatasetInfo& info, const std::string& where) {
  TESSERA_CHECK(is_known_task(info.task),
                "{}: task '{}' is not one of segmentation, translation, super_resolution, "
                "denoising, inpainting, anomaly",
                where, printable(info.task));
  TESSERA_CHECK(info.height > 0 && info.width > 0, "{}: target size {}x{} must be positive", where,
                info.height, info.width);
  TESSERA_CHECK(info.input_height > 0 && info.input_width > 0,
                "{}: input size {}x{} must be positive", where, info.input_height,
                info.input_width);
  TESSERA_CHECK(info.in_channels >= 1, "{}: in_channels {} must be >= 1", where, info.in_channels);
  TESSERA_CHECK(info.input_dtype == "uint8" || info.input_dtype == "uint16" ||
                    info.input_dtype == "float32",
                "{}: input dtype '{}' must be uint8, uint16 or float32", where, info.input_dtype);
  if (info.target_kind == "labels") {
    TESSERA_CHECK(info.target_dtype == "uint8", "{}: label-map targets must be uint8, not '{}'",
                  where, info.target_dtype);
    TESSERA_CHECK(info.target_channels == 0,
                  "{}: label-map targets have no channel axis: target_channels must be 0, not {}",
                  where, info.target_channels);
    TESSERA_CHECK(info.classes >= 1 && info.classes <= 256,
                  "{}: classes {} must be in 1..256 (1 = binary 0/1 masks)", where, info.classes);
    TESSERA_CHECK(info.ignore_index == -1 ||
                      (info.ignore_index > max_label(info) && info.ignore_index <= 255),
                  "{}: ignore_index {} must be -1 (none) or a label value above the classes "
                  "(> {}) and <= 255",
                  where, info.ignore_index, max_label(info));
    const size_t values = static_cast<size_t>(max_label(info)) + 1;
    TESSERA_CHECK(info.class_names.empty() || info.class_names.size() == values,
                  "{}: {} class names for {} label values (classes {}); expected one per value",
                  where, info.class_names.size(), values, info.classes);
  } else if (info.target_kind == "image") {
    TESSERA_CHECK(info.target_channels >= 1, "{}: image targets need target_channels >= 1", where);
    TESSERA_CHECK(info.target_dtype == "uint8" || info.target_dtype == "float32",
                  "{}: target dtype '{}' must be uint8 or float32", where, info.target_dtype);
    TESSERA_CHECK(info.classes == 1, "{}: classes must be 1 for image targets, not {}", where,
                  info.classes);
    TESSERA_CHECK(info.ignore_index == -1 && info.class_names.empty(),
                  "{}: ignore_index and class names are for label-map targets only", where);
  } else {
    TESSERA_THROW("{}: target_kind '{}' must be 'labels' or 'image'", where, info.target_kind);
  }
  TESSERA_CHECK(info.degradation.empty() ||
                    (info.task == "super_resolution" && recordable_degradation(info.degradation)),
                "{}: degradation '{}' must be empty or, for super_resolution, one of bicubic_aa, "
                "opencv_cubic, area, unknown",
                where, printable(info.degradation));
  if (info.task == "super_resolution") {
    TESSERA_CHECK(info.height % info.input_height == 0 && info.width % info.input_width == 0 &&
                      info.height / info.input_height == info.width / info.input_width,
                  "{}: super-resolution target {}x{} must be an integer multiple (same in both "
                  "axes) of the input {}x{}",
                  where, info.height, info.width, info.input_height, info.input_width);
  } else {
    TESSERA_CHECK(info.height == info.input_height && info.width == info.input_width,
                  "{}: task {} needs inputs and targets of the same size; inputs are {}x{}, "
                  "targets {}x{}",
                  where, info.task, info.input_height, info.input_width, info.height, info.width);
  }
}

int dtype_size(const std::string& dtype) {
  if (dtype == "uint8") return 1;
  if (dtype == "uint16") return 2;
  if (dtype == "float32") return 4;
  TESSERA_THROW("unknown dtype '{}': expected uint8, uint16 or float32", dtype);
}

double dtype_value_scale(const std::string& dtype) {
  if (dtype == "uint8") return 1.0 / 255.0;
  if (dtype == "uint16") return 1.0 / 65535.0;
  if (dtype == "float32") return 1.0;
  TESSERA_THROW("unknown dtype '{}': expected uint8, uint16 or float32", dtype);
}

int64_t input_bytes(const DatasetInfo& info) {
  return int64_t{info.input_height} * info.input_width * info.in_channels *
         dtype_size(info.input_dtype);
}

int64_t target_bytes(const DatasetInfo& info) {
  int64_t c = info.target_kind == "labels" ? 1 : info.target_channels;
  return int64_t{info.height} * info.width * c * dtype_size(info.target_dtype);
}

std::vector<int64_t> input_sample_shape(const DatasetInfo& info) {
  return {info.input_height, info.input_width, info.in_channels};
}

std::vector<int64_t> target_sample_shape(const DatasetInfo& info) {
  if (info.target_kind == "labels") return {info.height, info.width};
  return {info.height, info.width, info.target_channels};
}

std::string describe(const DatasetInfo& info) {
  std::string target =
      info.target_kind == "labels"
          ? fmt::format("labels {}x{} (classes {}{})", info.height, info.width, info.classes,
                        info.ignore_index >= 0
                            ? fmt::format(", ignore_index {}", info.ignore_index)
                            : std::string())
          : fmt::format("image {}x{}x{} {}", info.height, info.width, info.target_channels,
                        info.target_dtype);
  return fmt::format("{} {}x{}x{} {} -> {}{}{}", info.task, info.input_height, info.input_width,
                     info.in_channels, info.input_dtype, target,
                     info.has_labels ? " + image labels" : "",
                     info.task == "super_resolution"
                         ? fmt::format(" (degradation {})", effective_degradation(info))
                         : std::string());
}

std::string shard_file_name(int64_t index) {
  return fmt::format("shard-{:05d}.h5", index);
}

}  // namespace tessera
