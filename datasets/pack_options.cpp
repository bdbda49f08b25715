// validate_pack_options() and own_split_folders() of `tessera pack` (datasets/pack.h): every
// option is checked before a file is read.
#include <algorithm>
#include <filesystem>
#include <iterator>

#include "common/error.h"
#include "datasets/degradation.h"
#include "datasets/geotiff.h"
#include "datasets/nifti_volume.h"
#include "datasets/pack.h"
#include "datasets/pack_images.h"
#include "datasets/pack_volumes.h"

namespace tessera {

namespace {

namespace fs = std::filesystem;

const char* const kKinds[] = {"segmentation", "translation", "super_resolution",
                              "denoising",    "inpainting",  "anomaly"};

}  // namespace

std::vector<Split> own_split_folders(const PackOptions& o) {
  std::vector<Split> out;
  if (!o.split.empty() || holds_images(o.inputs)) return out;
  for (Split s : kAllSplits) {
    if (holds_images((fs::path(o.inputs) / to_string(s)).string())) out.push_back(s);
  }
  return out;
}

void validate_pack_options(const PackOptions& o) {
  TESSERA_CHECK(std::find(std::begin(kKinds), std::end(kKinds), o.task) != std::end(kKinds),
                "pack: unknown --task '{}'; accepted (config task.kind): segmentation, "
                "translation, super_resolution, denoising, inpainting, anomaly",
                o.task);
  TESSERA_CHECK(!o.inputs.empty(), "pack: --inputs DIR is required");
  TESSERA_CHECK(!o.out.empty(), "pack: --out DIR is required");
  TESSERA_CHECK(o.size >= 8 && o.size <= 8192, "pack: --size must be in 8..8192, got {}", o.size);
  TESSERA_CHECK(o.channels >= 0 && o.channels <= kMaxTiffBands,
                "pack: --channels must be in 1..{} (or 0: from the first input), got {}",
                kMaxTiffBands, o.channels);
  TESSERA_CHECK(o.channels == 0 || o.channels == 1 || o.channels == 3 || o.task == "segmentation",
                "pack: --channels {}: multi-band inputs are packed for --task segmentation only "
                "(other tasks make or read image targets of 1 or 3 channels)",
                o.channels);
  TESSERA_CHECK(o.shards >= 1, "pack: --shards must be >= 1, got {}", o.shards);
  TESSERA_CHECK(o.gzip >= 0 && o.gzip <= 9, "pack: --gzip must be a level in 0..9, got {}", o.gzip);
  fit_mode_from_string(o.fit);
  TESSERA_CHECK(
      o.val_fraction >= 0 && o.val_fraction < 1 && o.test_fraction >= 0 && o.test_fraction < 1 &&
          o.val_fraction + o.test_fraction < 1,
      "pack: --val-fraction {} and --test-fraction {} must each be in [0, 1) with a sum < 1",
      o.val_fraction, o.test_fraction);
  const bool needs_targets = o.task == "segmentation" || o.task == "translation";
  const bool may_pair = needs_targets || o.task == "super_resolution" || o.task == "denoising";
  TESSERA_CHECK(!needs_targets || !o.targets.empty(), "pack: --task {} needs --targets DIR",
                o.task);
  TESSERA_CHECK(
      may_pair || o.targets.empty(),
      "pack: --task {} makes its targets from the images in --inputs; --targets is not used",
      o.task);
  TESSERA_CHECK(o.anomalies.empty() || o.task == "anomaly",
                "pack: --anomalies is only for --task anomaly");
  if (o.task == "segmentation") {
    TESSERA_CHECK(o.classes >= 1 && o.classes <= 256, "pack: --classes must be in 1..256, got {}",
                  o.classes);
    TESSERA_CHECK(o.ignore_value >= -1 && o.ignore_value <= 65535,
                  "pack: --ignore-value must be a grey value or palette index in 0..65535, got {}",
                  o.ignore_value);
    TESSERA_CHECK(o.ignore_value < 0 || o.classes <= 255,
                  "pack: --ignore-value stores ignored pixels as 255, so --classes must be at "
                  "most 255, got {}",
                  o.classes);
    TESSERA_CHECK(o.ignore_value < 0 || o.palette.empty(),
                  "pack: --ignore-value is for grey values and palette indices; with --palette "
                  "mark the ignored colours `ignore` in the table's class column");
  } else {
    TESSERA_CHECK(o.palette.empty() && o.ignore_value < 0,
                  "pack: --palette and --ignore-value are for --task segmentation masks");
  }
  if (o.task == "super_resolution") {
    TESSERA_CHECK(o.scale >= 2 && o.scale <= 8, "pack: --scale must be in 2..8, got {}", o.scale);
    TESSERA_CHECK(o.size % o.scale == 0, "pack: --size {} is not divisible by --scale {}", o.size,
                  o.scale);
    if (!o.degradation.empty()) degradation_from_string(o.degradation, "pack: --degradation");
  } else {
    TESSERA_CHECK(o.degradation.empty(),
                  "pack: --degradation is for --task super_resolution (how its inputs are made)");
  }
  if (o.task == "denoising" && o.targets.empty()) {
    TESSERA_CHECK(o.noise > 0 && o.noise <= 1, "pack: --noise must be in (0, 1], got {}", o.noise);
  }
  if (o.task == "inpainting") {
    TESSERA_CHECK(o.mask_fraction > 0 && o.mask_fraction < 0.9,
                  "pack: mask fraction must be in (0, 0.9), got {}", o.mask_fraction);
  }
  if (!o.slice_axis.empty()) slice_axis_from_string(o.slice_axis, "pack: --slice-axis");
  if (!o.intensity.empty()) parse_intensity(o.intensity);
  TESSERA_CHECK(o.split.empty() || o.split == "train" || o.split == "val" || o.split == "test",
                "pack: --split must be train, val or test, got '{}'", o.split);
  TESSERA_CHECK(o.split.empty() || !o.fractions_set,
                "pack: --split {} puts every image into that split; --val-fraction and "
                "--test-fraction are not used with it",
                o.split);
  TESSERA_CHECK(o.split.empty() || o.anomalies.empty(),
                "pack: --anomalies with --split is not supported: the defective images are "
                "divided between val/ and test/ by the fractions (pack without --split)");
  const bool folders = !own_split_folders(o).empty();
  TESSERA_CHECK(!folders || !o.fractions_set,
                "pack: {} holds its own split folders (train/ val/ test/), which decide the "
                "splits; --val-fraction and --test-fraction are not used with them",
                o.inputs);
  TESSERA_CHECK(!folders || o.anomalies.empty(),
                "pack: --anomalies with split folders below {} is not supported: the defective "
                "images are split by the fractions",
                o.inputs);
  if (!o.anomalies.empty()) {
    TESSERA_CHECK(
        o.val_fraction + o.test_fraction > 0,
        "pack: --anomalies go to val/test only, but --val-fraction and --test-fraction are 0");
  }
}

}  // namespace tessera
