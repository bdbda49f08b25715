// tessera synth --task ... --out DIR: deterministic synthetic datasets (issue #4).
#include <memory>

#include "launcher/commands.h"
#include "common/log.h"
#include "datasets/synth.h"

namespace tessera::cli {

namespace {
struct SynthArgs {
  std::string task;
  std::string out;
  int samples = 256;
  int size = 128;
  int shards = 4;
  uint64_t seed = 42;
  double val_fraction = 0.1;
  double test_fraction = 0.1;
  int scale = 2;
  std::string degradation;
  double noise = 0.1;
  int gzip = 0;
  bool overwrite = false;
};
}  // namespace

void add_synth_command(CLI::App& app) {
  auto a = std::make_shared<SynthArgs>();
  CLI::App* cmd = app.add_subcommand(
      "synth", "Make a synthetic dataset (OUT/train, OUT/val, OUT/test shard directories)");
  cmd->add_option("--task", a->task, "Kind of data")
      ->required()
      ->check(CLI::IsMember(
          {"roads", "cells", "multiclass", "style", "superres", "denoise", "inpaint", "anomaly"}));
  cmd->add_option("--out", a->out, "Output directory")->required();
  cmd->add_option("--samples", a->samples, "Samples in all splits")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--size", a->size, "Image side in pixels")
      ->check(CLI::Range(32, 4096))  // datasets/synth.cpp refuses the rest, with the reason
      ->capture_default_str();
  cmd->add_option("--shards", a->shards, "HDF5 shards per split")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Random seed")->capture_default_str();
  cmd->add_option("--val-fraction", a->val_fraction, "Fraction of samples in val/")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--test-fraction", a->test_fraction, "Fraction of samples in test/")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--scale", a->scale, "superres: down-scaling factor (2, 3, 4 or 8)")
      ->capture_default_str();
  cmd->add_option("--degradation", a->degradation,
                  "superres: how the input is made from the target: bicubic_aa (default; "
                  "antialiased bicubic as MATLAB imresize / PIL), opencv_cubic (cv::INTER_CUBIC, "
                  "no antialiasing), area (cv::INTER_AREA)")
      ->check(CLI::IsMember({"bicubic_aa", "opencv_cubic", "area"}));
  cmd->add_option("--noise", a->noise, "denoise: Gaussian noise sigma (images in [0,1])")
      ->capture_default_str();
  cmd->add_option("--gzip", a->gzip, "gzip level of the shards (0 = none, 1..9)")
      ->check(CLI::Range(0, 9))
      ->capture_default_str();
  cmd->add_flag("--overwrite", a->overwrite, "Replace existing split directories");
  cmd->callback([a] {
    init_logging(LogSetup{});
    SynthOptions o;
    o.task = a->task;
    o.out = a->out;
    o.samples = a->samples;
    o.size = a->size;
    o.shards = a->shards;
    o.seed = a->seed;
    o.val_fraction = a->val_fraction;
    o.test_fraction = a->test_fraction;
    o.scale = a->scale;
    o.degradation = a->degradation;
    o.noise = a->noise;
    o.gzip = a->gzip;
    o.overwrite = a->overwrite;
    run_synth(o);
  });
}

}  // namespace tessera::cli
