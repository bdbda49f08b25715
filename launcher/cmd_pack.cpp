// tessera pack --task KIND --inputs DIR [--targets DIR] --out DIR --size S: real image folders
// into HDF5 shards (issue #4).
#include <memory>

#include "launcher/commands.h"
#include "common/log.h"
#include "datasets/pack.h"

namespace tessera::cli {

namespace {
struct PackArgs {
  std::string task;
  std::string inputs;
  std::string targets;
  std::string out;
  int size = 0;
  int scale = 2;
  std::string degradation;
  double noise = 0.1;
  int shards = 4;
  uint64_t seed = 42;
  double val_fraction = 0.1;
  double test_fraction = 0.1;
  std::string split;
  std::string fit = "resize";
  std::string anomalies;
  std::string target_suffix;
  int classes = 1;
  std::string palette;
  int ignore_value = -1;
  int channels = 0;
  double mask_fraction = 0.25;
  int gzip = 0;
  bool overwrite = false;
  std::string slice_axis;
  std::string intensity;
};
}  // namespace

void add_pack_command(CLI::App& app) {
  auto a = std::make_shared<PackArgs>();
  CLI::App* cmd = app.add_subcommand(
      "pack", "Pack image folders into a dataset (OUT/train, OUT/val, OUT/test)");
  cmd->add_option("--task", a->task, "The config's task.kind")
      ->required()
      ->check(CLI::IsMember({"segmentation", "translation", "super_resolution", "denoising",
                             "inpainting", "anomaly"}));
  cmd->add_option("--inputs", a->inputs,
                  "Directory of input images (PNG/JPEG/BMP, or GeoTIFF/TIFF with any band count, "
                  "8- or 16-bit)")
      ->required();
  cmd->add_option("--targets", a->targets,
                  "Directory of targets matched by file stem (masks, label maps or images); "
                  "super_resolution/denoising make them from the inputs");
  cmd->add_option("--out", a->out, "Output directory")->required();
  cmd->add_option("--size", a->size, "Stored image side in pixels")
      ->required()
      ->check(CLI::Range(8, 16384));
  cmd->add_option("--scale", a->scale, "super_resolution: down-scaling factor")
      ->check(CLI::Range(2, 16))
      ->capture_default_str();
  cmd->add_option("--degradation", a->degradation,
                  "super_resolution: how the input is made from the HR image: bicubic_aa "
                  "(default; antialiased bicubic as MATLAB imresize / PIL), opencv_cubic "
                  "(cv::INTER_CUBIC, no antialiasing), area (cv::INTER_AREA); with --targets it "
                  "declares how the given LR images were made (default: recorded as unknown)")
      ->check(CLI::IsMember({"bicubic_aa", "opencv_cubic", "area"}));
  cmd->add_option("--noise", a->noise, "denoising: Gaussian noise std (images in [0,1])")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  cmd->add_option("--shards", a->shards, "HDF5 shards per split")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the split assignment")->capture_default_str();
  cmd->add_option("--val-fraction", a->val_fraction, "Fraction of samples in val/")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--test-fraction", a->test_fraction, "Fraction of samples in test/")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--split", a->split,
                  "Pack every image into this split only (train, val or test), e.g. a held-out "
                  "folder into OUT/test beside a train/ packed before; without it, --inputs "
                  "holding train/ val/ test/ folders gives those splits, else a random split")
      ->check(CLI::IsMember({"train", "val", "test"}));
  cmd->add_option("--fit", a->fit,
                  "How images become SIZE x SIZE samples: resize, tile (non-overlapping tiles, "
                  "remainder dropped) or center-crop")
      ->check(CLI::IsMember({"resize", "tile", "center-crop"}))
      ->capture_default_str();
  cmd->add_option("--anomalies", a->anomalies,
                  "anomaly: directory of defective images (go to val/test only)");
  cmd->add_option("--target-suffix", a->target_suffix,
                  "Suffix stripped from target stems before matching (e.g. _mask)");
  cmd->add_option("--classes", a->classes,
                  "segmentation: 1 = binary (0/255 masks), >1 = label values 0..classes-1")
      ->capture_default_str();
  cmd->add_option("--palette", a->palette,
                  "segmentation: class table of colour-coded masks, CSV name,r,g,b[,class] "
                  "(class: a label or `ignore`; without it rows are the classes in order)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--ignore-value", a->ignore_value,
                  "segmentation: mask value (grey value or palette index) of pixels to leave out "
                  "of loss and metrics; stored as 255 (set loss.ignore_index: 255)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--channels", a->channels,
                  "Input channels: 3 (RGB) or 1 (grey) for PNG/JPEG; for TIFFs (read through "
                  "GDAL) the band count every file must have. Default: the first input's band "
                  "count for a TIFF (8- or 16-bit, e.g. 4 for RGB+NIR), 3 otherwise")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--mask-fraction", a->mask_fraction, "inpainting: fraction of the image hidden")
      ->capture_default_str();
  cmd->add_option("--gzip", a->gzip, "gzip level of the shards (0 = none, 1..9)")
      ->check(CLI::Range(0, 9))
      ->capture_default_str();
  cmd->add_flag("--overwrite", a->overwrite, "Replace existing split directories");
  cmd->add_option("--slice-axis", a->slice_axis,
                  "NIfTI volumes: the voxel axis the 2D samples are sliced along (default k)")
      ->check(CLI::IsMember({"i", "j", "k"}));
  cmd->add_option("--intensity", a->intensity,
                  "NIfTI volumes (required): window:LO,HI (fixed, in the file's units, e.g. CT "
                  "window:-160,240), percentile:P,Q (each volume's own, e.g. MR "
                  "percentile:0.5,99.5) or zscore:K (each volume's mean -/+ K std); the window "
                  "maps to [0, 1], stored as uint16");
  cmd->callback([a, cmd] {
    init_logging(LogSetup{});
    PackOptions o;
    o.task = a->task;
    o.inputs = a->inputs;
    o.targets = a->targets;
    o.anomalies = a->anomalies;
    o.target_suffix = a->target_suffix;
    o.out = a->out;
    o.size = a->size;
    o.scale = a->scale;
    o.degradation = a->degradation;
    o.noise = a->noise;
    o.mask_fraction = a->mask_fraction;
    o.classes = a->classes;
    o.palette = a->palette;
    o.ignore_value = a->ignore_value;
    o.channels = a->channels;
    o.fit = a->fit;
    o.val_fraction = a->val_fraction;
    o.test_fraction = a->test_fraction;
    o.fractions_set = cmd->count("--val-fraction") + cmd->count("--test-fraction") > 0;
    o.split = a->split;
    o.shards = a->shards;
    o.seed = a->seed;
    o.gzip = a->gzip;
    o.overwrite = a->overwrite;
    o.slice_axis = a->slice_axis;
    o.intensity = a->intensity;
    run_pack(o);
  });
}

}  // namespace tessera::cli
