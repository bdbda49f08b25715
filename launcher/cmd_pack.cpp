// tessera pack --task KIND --inputs DIR [--targets DIR] --out DIR --size S: real image folders
// into HDF5 shards (issue #4).
#include <memory>

#include "launcher/commands.h"

namespace tessera::cli {

namespace {
struct PackArgs {
  std::string task;
  std::string inputs;
  std::string targets;
  std::string out;
  int size = 0;
  int scale = 2;
  double noise = 0.1;
  int shards = 4;
  uint64_t seed = 42;
  double val_fraction = 0.1;
  double test_fraction = 0.1;
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
  cmd->add_option("--inputs", a->inputs, "Directory of input images (PNG/JPEG/TIFF)")
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
  cmd->callback([a] {  // capturing `a` keeps the option storage alive
    not_implemented("pack", "4");
  });
}

}  // namespace tessera::cli
