// `tessera synth`: deterministic synthetic datasets, written as OUT/train, OUT/val, OUT/test.
//
// Tasks (docs/synthetic-data.md): roads, cells, multiclass (segmentation); style (translation);
// superres (super_resolution); denoise (denoising); inpaint (inpainting); anomaly (anomaly).
//
// Determinism: sample i of a data set is a pure function of (task, size, scale, degradation,
// noise, seed, i)
// (SynthRng::for_sample), and the split assignment of a pure function of (samples, fractions,
// seed); the same options always produce byte-identical samples. Anomaly: samples assigned to the
// training split are always normal (defect fraction 0); val/test samples carry a defect with
// probability SynthParams::defect_fraction (0.3).
//
// run_synth() validates every option first (throws tessera::Error naming the option and the
// accepted values), refuses a non-empty OUT/{train,val,test} unless `overwrite`, writes the three
// splits and logs a summary (spdlog). Single-threaded; OpenCV may use its own thread pool.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "datasets/degradation.h"
#include "datasets/sample.h"
#include "datasets/shard_format.h"
#include "datasets/splits.h"

namespace tessera {

enum class SynthTask { roads, cells, multiclass, style, superres, denoise, inpaint, anomaly };

// "roads", "cells", ... in the order of the enum.
const std::vector<std::string>& synth_task_names();
std::string to_string(SynthTask task);
// Throws tessera::Error listing the accepted names.
SynthTask synth_task_from_string(const std::string& name);
// The config task.kind a synth task trains (roads -> segmentation, superres -> super_resolution..).
TaskKind synth_task_kind(SynthTask task);

struct SynthParams {
  int size = 64;                 // target image size (square)
  int scale = 2;                 // superres: input size = size / scale
  Degradation degradation = Degradation::bicubic_aa;  // superres: how the input is made
  double noise = 0.1;            // denoise: Gaussian sigma in [0, 1] units
  double defect_fraction = 0.3;  // anomaly: probability of a defect (0 for the train split)
  double mask_fraction = 0.25;   // inpaint: approximate hidden fraction
};

// Sample `index` of the data set seeded `seed`.
Sample synth_sample(SynthTask task, const SynthParams& params, uint64_t seed, int64_t index);

// The DatasetInfo describing samples of this task/params (shapes, dtypes, classes).
DatasetInfo synth_dataset_info(SynthTask task, const SynthParams& params);

struct SynthOptions {
  std::string task;        // one of synth_task_names()
  std::string out;         // output directory (train/val/test are created inside)
  int64_t samples = 1000;  // total over the three splits
  int size = 64;           // >= 32 (16 for superres inputs: size / scale >= 16)
  int shards = 1;          // shards per split (a split with fewer samples gets fewer shards)
  uint64_t seed = 42;
  double val_fraction = 0.1;
  double test_fraction = 0.1;
  int scale = 2;       // superres: 2, 3, 4 or 8; size must be divisible by scale
  // superres: bicubic_aa | opencv_cubic | area (datasets/degradation.h); "" = bicubic_aa.
  // Refused for other tasks.
  std::string degradation;
  double noise = 0.1;  // denoise: sigma in (0, 1]
  int gzip = 0;        // 0 = uncompressed, 1..9 = gzip level
  bool overwrite = false;
};

struct SynthSummary {
  DatasetInfo info;
  SplitCounts counts;
  int64_t defects_val = 0, defects_test = 0;  // anomaly only
  double seconds = 0.0;
};

// Checks every option; throws tessera::Error naming the option, its value and what is accepted.
void validate_synth_options(const SynthOptions& options);

SynthSummary run_synth(const SynthOptions& options);

}  // namespace tessera
