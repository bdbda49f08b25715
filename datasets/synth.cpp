#include "datasets/synth.h"

#include "common/progress.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "common/error.h"
#include "datasets/synth_generators.h"

namespace tessera {

const std::vector<std::string>& synth_task_names() {
  static const std::vector<std::string> kNames = {"roads",    "cells",   "multiclass", "style",
                                                  "superres", "denoise", "inpaint",    "anomaly"};
  return kNames;
}

std::string to_string(SynthTask task) {
  return synth_task_names()[static_cast<size_t>(task)];
}

SynthTask synth_task_from_string(const std::string& name) {
  const auto& names = synth_task_names();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<SynthTask>(i);
  }
  TESSERA_THROW("unknown synth task '{}'; accepted: {}", name, fmt::join(names, ", "));
}

TaskKind synth_task_kind(SynthTask task) {
  switch (task) {
    case SynthTask::roads:
    case SynthTask::cells:
    case SynthTask::multiclass:
      return TaskKind::segmentation;
    case SynthTask::style:
      return TaskKind::translation;
    case SynthTask::superres:
      return TaskKind::super_resolution;
    case SynthTask::denoise:
      return TaskKind::denoising;
    case SynthTask::inpaint:
      return TaskKind::inpainting;
    case SynthTask::anomaly:
      return TaskKind::anomaly;
  }
  TESSERA_THROW("invalid SynthTask {}", static_cast<int>(task));
}

Sample synth_sample(SynthTask task, const SynthParams& p, uint64_t seed, int64_t index) {
  SynthRng rng = SynthRng::for_sample(seed, static_cast<uint64_t>(index));
  switch (task) {
    case SynthTask::roads:
      return synth::roads(p.size, rng);
    case SynthTask::cells:
      return synth::cells(p.size, rng);
    case SynthTask::multiclass:
      return synth::multiclass(p.size, rng);
    case SynthTask::style:
      return synth::style(p.size, rng);
    case SynthTask::superres:
      return synth::superres(p.size, p.scale, p.degradation, rng);
    case SynthTask::denoise: {
      SynthRng noise = SynthRng::for_sample(seed, static_cast<uint64_t>(index), /*stream=*/1);
      return synth::denoise(p.size, p.noise, rng, noise);
    }
    case SynthTask::inpaint:
      return synth::inpaint(p.size, p.mask_fraction, rng);
    case SynthTask::anomaly:
      return synth::anomaly(p.size, p.defect_fraction, rng);
  }
  TESSERA_THROW("invalid SynthTask {}", static_cast<int>(task));
}

DatasetInfo synth_dataset_info(SynthTask task, const SynthParams& p) {
  DatasetInfo info;
  info.task = to_string(synth_task_kind(task));
  info.height = info.width = p.size;
  info.input_height = info.input_width = p.size;
  info.in_channels = 3;
  info.input_dtype = "uint8";
  info.target_dtype = "uint8";
  switch (task) {
    case SynthTask::roads:
    case SynthTask::cells:
      info.target_kind = "labels";
      info.classes = 1;
      break;
    case SynthTask::multiclass:
      info.target_kind = "labels";
      info.classes = synth::kMulticlassClasses;
      break;
    case SynthTask::superres:
      info.input_height = info.input_width = p.size / p.scale;
      info.degradation = to_string(p.degradation);
      [[fallthrough]];
    case SynthTask::style:
    case SynthTask::denoise:
    case SynthTask::inpaint:
    case SynthTask::anomaly:
      info.target_kind = "image";
      info.target_channels = 3;
      info.classes = 1;
      break;
  }
  info.has_labels = task == SynthTask::anomaly;
  return info;
}

void validate_synth_options(const SynthOptions& o) {
  const SynthTask task = synth_task_from_string(o.task);
  TESSERA_CHECK(!o.out.empty(), "synth: --out DIR is required");
  TESSERA_CHECK(o.samples >= 1, "synth: --samples must be >= 1, got {}", o.samples);
  TESSERA_CHECK(o.size >= 32 && o.size <= 4096,
                "synth: --size must be in 32..4096 (the generators draw structures a few pixels "
                "wide at size 64), got {}",
                o.size);
  TESSERA_CHECK(o.shards >= 1, "synth: --shards must be >= 1, got {}", o.shards);
  TESSERA_CHECK(o.gzip >= 0 && o.gzip <= 9, "synth: --gzip must be a level in 0..9, got {}",
                o.gzip);
  TESSERA_CHECK(o.val_fraction >= 0 && o.val_fraction < 1,
                "synth: --val-fraction must be in [0, 1), got {}", o.val_fraction);
  TESSERA_CHECK(o.test_fraction >= 0 && o.test_fraction < 1,
                "synth: --test-fraction must be in [0, 1), got {}", o.test_fraction);
  TESSERA_CHECK(o.val_fraction + o.test_fraction < 1,
                "synth: --val-fraction + --test-fraction must be < 1, got {} + {}", o.val_fraction,
                o.test_fraction);
  if (task == SynthTask::superres) {
    TESSERA_CHECK(o.scale == 2 || o.scale == 3 || o.scale == 4 || o.scale == 8,
                  "synth: --scale must be 2, 3, 4 or 8, got {}", o.scale);
    TESSERA_CHECK(o.size % o.scale == 0, "synth: --size {} is not divisible by --scale {}", o.size,
                  o.scale);
    TESSERA_CHECK(o.size / o.scale >= 16,
                  "synth: --size / --scale must be >= 16 (input size), got {} / {} = {}", o.size,
                  o.scale, o.size / o.scale);
  }
  if (!o.degradation.empty()) {
    TESSERA_CHECK(task == SynthTask::superres,
                  "synth: --degradation is for --task superres (how its inputs are made)");
    degradation_from_string(o.degradation, "synth: --degradation");
  }
  if (task == SynthTask::denoise) {
    TESSERA_CHECK(o.noise > 0 && o.noise <= 1,
                  "synth: --noise (Gaussian sigma in [0,1] units) must be in (0, 1], got {}",
                  o.noise);
  }
  plan_split(o.samples, o.val_fraction, o.test_fraction);  // throws when N is too small
}

SynthSummary run_synth(const SynthOptions& o) {
  validate_synth_options(o);
  const auto t0 = std::chrono::steady_clock::now();
  const SynthTask task = synth_task_from_string(o.task);
  SynthParams params;
  params.size = o.size;
  params.scale = o.scale;
  params.noise = o.noise;
  if (!o.degradation.empty())
    params.degradation = degradation_from_string(o.degradation, "synth: --degradation");
  SynthSummary summary;
  summary.info = synth_dataset_info(task, params);
  summary.counts = plan_split(o.samples, o.val_fraction, o.test_fraction);
  const std::vector<Split> splits =
      assign_splits(o.samples, o.val_fraction, o.test_fraction, o.seed);

  prepare_output_dir(o.out, o.overwrite);
  SplitWriter writer(o.out, summary.info, summary.counts, o.shards, o.gzip);
  Progress progress("synth " + o.task, o.samples);
  for (int64_t i = 0; i < o.samples; ++i) {
    const Split split = splits[static_cast<size_t>(i)];
    SynthParams p = params;
    if (split == Split::train) p.defect_fraction = 0.0;  // anomaly: train on normal data only
    const Sample s = synth_sample(task, p, o.seed, i);
    if (task == SynthTask::anomaly && s.label) {
      (split == Split::val ? summary.defects_val : summary.defects_test) += 1;
    }
    writer.add(split, s);
    progress.update(i + 1);
  }
  writer.finish();
  progress.finish();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  spdlog::info("synth {}: {} samples in {:.2f} s -> {}", o.task, o.samples, summary.seconds, o.out);
  spdlog::info("  {}", describe(summary.info));
  for (Split s : kAllSplits) {
    const int64_t n = summary.counts.of(s);
    if (n == 0) {
      spdlog::info("  {:5}: 0 samples (no directory written)", to_string(s));
      continue;
    }
    std::string extra;
    if (task == SynthTask::anomaly) {
      const int64_t d = s == Split::val    ? summary.defects_val
                        : s == Split::test ? summary.defects_test
                                           : 0;
      extra = fmt::format(", {} defective / {} normal", d, n - d);
    }
    spdlog::info("  {:5}: {} samples in {} shard(s){} -> {}", to_string(s), n,
                 shards_for(n, o.shards), extra, writer.dir(s));
  }
  return summary;
}

}  // namespace tessera
