// `tessera pack`: real image folders -> OUT/train, OUT/val, OUT/test datasets.
//
// The task is a config task.kind:
//   segmentation      --inputs images, --targets masks/label maps (matched by stem)
//   translation       --inputs images, --targets images of the same size (matched by stem)
//   super_resolution  --inputs clean HR images; pairs made here: target = HR patch S x S,
//                     input = its down-scaling to S/scale by --degradation (default bicubic_aa,
//                     datasets/degradation.h). With --targets, inputs are the LR images and
//                     targets the HR images (input = target/scale); the manifest then records
//                     degradation `unknown` unless --degradation declares how they were made.
//   denoising         --inputs clean images; input = clip(clean + N(0, noise^2)) seeded per sample.
//                     With --targets, inputs are the noisy and targets the clean images.
//   inpainting        --inputs clean images; holes (rectangles, strokes) seeded per sample, value
//   0. anomaly           --inputs normal images (label 0, split by the fractions); --anomalies
//                     defective images (label 1, val/test only). input = target = image.
// Splits, in this order of precedence:
//   --split NAME      every image goes to OUT/NAME (train, val or test); only that split
//                     directory is written (or replaced with --overwrite), so a held-out folder
//                     joins a root packed before; it must agree with the splits already there
//                     (task, channels, sizes, dtypes, classes), or it is refused.
//   own folders       --inputs ROOT holding no images but train/ (val/, test/) subfolders of
//                     them: each subfolder becomes that split (--targets ROOT likewise, matched
//                     within each split). The fractions are not used.
//   random (default)  drawn per source image (all tiles of an image land in the same split), with
//                     a permutation seeded by --seed, by --val-fraction and --test-fraction.
// Setting a fraction together with --split or own folders is an error (it would be ignored).
// NIfTI volumes (.nii, .nii.gz; segmentation with label volumes): 2D slices along --slice-axis,
// intensities through --intensity, split by volume: datasets/pack_volumes.h.
// Conversions and fit modes: datasets/pack_images.h; multi-band and 16-bit TIFFs through GDAL,
// with their georeferencing in the manifest's `sources` (every page of a multi-page TIFF an image
// of its own, paired page by page with a mask stack): datasets/pack_rasters.h; mask formats (palette PNGs, colour masks
// with a class table, ignored pixels): datasets/label_maps.h.
//
// run_pack() validates options, lists and matches files, then reads every image twice: a first
// pass checks each file (decodable, sizes, label range) and counts samples before anything is
// written; the second pass writes. Errors name the file. Single-threaded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/shard_format.h"
#include "datasets/splits.h"

namespace tessera {

struct PackOptions {
  std::string task;     // config task.kind
  std::string inputs;   // folder of input images
  std::string targets;  // folder of targets (segmentation, translation; optional for SR/denoising)
  std::string anomalies;      // anomaly: folder of defective images
  std::string target_suffix;  // stripped from target stems before matching (e.g. "_mask")
  std::string out;
  int size = 128;               // target patch size S
  int scale = 2;                // super_resolution
  // super_resolution: bicubic_aa | opencv_cubic | area; "" = bicubic_aa, or with --targets
  // "unknown" (the LR images came from elsewhere; a value given is recorded as declared).
  std::string degradation;
  double noise = 0.1;           // denoising sigma in [0, 1] units
  double mask_fraction = 0.25;  // inpainting
  int classes = 1;              // segmentation: 1 = binary, > 1 = label values 0..classes-1
  std::string palette;          // segmentation: class table of colour masks (label_maps.h)
  int ignore_value = -1;        // segmentation: source value stored as 255 = ignored; -1 none
  // Input channels: 3 (RGB) or 1 (grey) for PNG/JPEG; any band count of TIFFs (pack_rasters.h).
  // 0 = from the first input: its band count for a TIFF, 3 otherwise.
  int channels = 0;
  std::string fit = "resize";   // resize | tile | center-crop
  double val_fraction = 0.1;
  double test_fraction = 0.1;
  bool fractions_set = false;  // the caller set a fraction explicitly (refused with split/folders)
  std::string split;           // "" or train | val | test: every image into that split
  int shards = 1;              // per split
  uint64_t seed = 42;
  int gzip = 0;
  bool overwrite = false;
  // NIfTI volumes (datasets/pack_volumes.h); both refused for other inputs.
  std::string slice_axis;  // i | j | k; "" = k
  std::string intensity;   // window:LO,HI | percentile:P,Q | zscore:K; required for volumes
};

struct PackSummary {
  DatasetInfo info;
  SplitCounts images;   // source images per split
  SplitCounts samples;  // samples (patches) per split
  double seconds = 0.0;
};

void validate_pack_options(const PackOptions& options);

// The input root's own split folders (train/ val/ test/ holding images), when --inputs itself
// holds no image and no --split is given; empty otherwise.
std::vector<Split> own_split_folders(const PackOptions& options);

PackSummary run_pack(const PackOptions& options);

}  // namespace tessera
