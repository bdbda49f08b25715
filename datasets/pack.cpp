#include "datasets/pack.h"

#include "common/progress.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>
#include <vector>

#include "common/error.h"
#include "datasets/label_maps.h"
#include "datasets/manifest.h"
#include "datasets/pack_images.h"
#include "datasets/synth_generators.h"
#include "datasets/synth_rng.h"

namespace tessera {

namespace {

namespace fs = std::filesystem;

const char* const kKinds[] = {"segmentation", "translation", "super_resolution",
                              "denoising",    "inpainting",  "anomaly"};

bool paired(const PackOptions& o) {
  return !o.targets.empty();
}
// Target / input size ratio of a pair.
int ratio(const PackOptions& o) {
  return o.task == "super_resolution" ? o.scale : 1;
}

struct Item {
  std::string input, target;
  int label = 0;
  Split split = Split::train;
  int64_t samples = 0;
};

DatasetInfo pack_info(const PackOptions& o, const ClassPalette* palette) {
  DatasetInfo info;
  info.task = o.task;
  info.height = info.width = o.size;
  info.input_height = info.input_width = o.size / ratio(o);
  info.in_channels = o.channels;
  if (o.task == "segmentation") {
    info.target_kind = "labels";
    info.classes = o.classes;
    if (o.ignore_value >= 0 || (palette != nullptr && palette->has_ignore))
      info.ignore_index = kIgnoreLabel;
    if (palette != nullptr) info.class_names = class_names(*palette, o.classes);
  } else {
    info.target_kind = "image";
    info.target_channels = o.channels;
  }
  info.has_labels = o.task == "anomaly";
  if (o.task == "super_resolution") {
    info.degradation = !o.degradation.empty() ? o.degradation
                       : paired(o)            ? kUnknownDegradation
                                              : to_string(Degradation::bicubic_aa);
  }
  return info;
}

// The (input, target) patches of one item, built from decoded files. `first_index` is the global
// index of the item's first sample: the seed of per-sample noise and holes.
std::vector<Sample> make_samples(const PackOptions& o, FitMode mode, const LabelMapOptions& lo,
                                 const Item& item, int64_t first_index) {
  std::vector<Sample> out;
  const int in_size = o.size / ratio(o);
  if (paired(o)) {
    const bool labels = o.task == "segmentation";
    const cv::Mat input = read_image(item.input, o.channels);
    const cv::Mat target =
        labels ? read_label_map(item.target, lo) : read_image(item.target, o.channels);
    for (auto& [in, tg] :
         fit_pair(input, target, in_size, ratio(o), mode, labels, item.input, item.target)) {
      Sample s;
      s.input = in;
      s.target = tg;
      out.push_back(s);
    }
    return out;
  }
  const cv::Mat image = read_image(item.input, o.channels);
  int64_t k = first_index;
  for (cv::Mat& patch : fit_image(image, o.size, mode, false, item.input)) {
    Sample s;
    s.label = item.label;
    if (o.task == "super_resolution") {
      s.target = patch;
      s.input = synth::downscale(
          patch, o.scale,
          o.degradation.empty() ? Degradation::bicubic_aa
                                : degradation_from_string(o.degradation, "pack: --degradation"));
    } else if (o.task == "denoising") {
      SynthRng rng = SynthRng::for_sample(o.seed, static_cast<uint64_t>(k), /*stream=*/1);
      s.target = patch;
      s.input = synth::add_noise_u8(patch, o.noise, rng);
    } else if (o.task == "inpainting") {
      SynthRng rng = SynthRng::for_sample(o.seed, static_cast<uint64_t>(k), /*stream=*/2);
      s.input = synth::make_holes(patch, o.mask_fraction, rng, &s.target);
    } else {  // anomaly
      s.input = patch;
      s.target = patch;
    }
    out.push_back(std::move(s));
    ++k;
  }
  return out;
}

// The input root's own split folders (train/ val/ test/ holding images), when --inputs itself
// holds no image; empty otherwise.
std::vector<Split> own_split_folders(const PackOptions& o) {
  std::vector<Split> out;
  if (!o.split.empty() || holds_images(o.inputs)) return out;
  for (Split s : kAllSplits) {
    if (holds_images((fs::path(o.inputs) / to_string(s)).string())) out.push_back(s);
  }
  return out;
}

std::vector<Item> list_items(const PackOptions& o, const std::string& sub, Split split) {
  auto below = [&sub](const std::string& dir) {
    return sub.empty() ? dir : (fs::path(dir) / sub).string();
  };
  std::vector<Item> items;
  const auto inputs = list_images(below(o.inputs));
  if (paired(o)) {
    for (const auto& m : match_by_stem(inputs, list_images(below(o.targets)), o.target_suffix)) {
      items.push_back({m.input, m.target, 0, split, 0});
    }
  } else {
    for (const auto& f : inputs) items.push_back({f, "", 0, split, 0});
  }
  return items;
}

std::vector<Item> collect_items(const PackOptions& o) {
  if (!o.split.empty()) return list_items(o, "", split_from_string(o.split));
  const auto folders = own_split_folders(o);
  if (!folders.empty()) {
    std::vector<Item> items;
    for (Split s : folders) {
      auto part = list_items(o, to_string(s), s);
      items.insert(items.end(), part.begin(), part.end());
    }
    spdlog::info("pack: splits from the folders below {}: {}", o.inputs, [&] {
      std::string names;
      for (Split s : folders) names += std::string(names.empty() ? "" : ", ") + to_string(s) + "/";
      return names;
    }());
    return items;
  }
  std::vector<Item> items = list_items(o, "", Split::train);
  const auto splits =
      assign_splits(static_cast<int64_t>(items.size()), o.val_fraction, o.test_fraction, o.seed);
  for (size_t i = 0; i < items.size(); ++i) items[i].split = splits[i];
  if (!o.anomalies.empty()) {
    // Defective images go to val and test only, in proportion to their fractions.
    auto defects = list_images(o.anomalies);
    SynthRng rng = SynthRng::for_sample(o.seed, 0, /*stream=*/0xa40);
    for (int64_t i = static_cast<int64_t>(defects.size()) - 1; i > 0; --i) {
      std::swap(defects[static_cast<size_t>(i)], defects[static_cast<size_t>(rng.integer(0, i))]);
    }
    const double share = o.val_fraction / (o.val_fraction + o.test_fraction);
    const auto n_val =
        static_cast<size_t>(std::llround(share * static_cast<double>(defects.size())));
    for (size_t i = 0; i < defects.size(); ++i) {
      items.push_back({defects[i], "", 1, i < n_val ? Split::val : Split::test, 0});
    }
  }
  return items;
}

// --split NAME joins a root packed before: the splits already there must describe the same kind
// of data as this one, or a run would pair incompatible train and val sets.
void check_existing_splits(const PackOptions& o, const DatasetInfo& info) {
  for (Split s : kAllSplits) {
    if (to_string(s) == o.split) continue;
    const fs::path manifest = fs::path(o.out) / to_string(s) / kManifestName;
    std::error_code ec;
    if (!fs::exists(manifest, ec)) continue;
    const DatasetInfo there = read_manifest_file(manifest.string()).info;
    const auto diffs = info_differences(there, info, manifest.string(), "this pack");
    if (diffs.empty()) continue;
    std::string lines;
    for (const auto& d : diffs) lines += "\n  " + d;
    TESSERA_THROW("pack --split {}: the {} split already in {} holds other data:{}\n(pack into "
                  "another --out, or repack every split)",
                  o.split, to_string(s), o.out, lines);
  }
}

}  // namespace

void validate_pack_options(const PackOptions& o) {
  TESSERA_CHECK(std::find(std::begin(kKinds), std::end(kKinds), o.task) != std::end(kKinds),
                "pack: unknown --task '{}'; accepted (config task.kind): segmentation, "
                "translation, super_resolution, denoising, inpainting, anomaly",
                o.task);
  TESSERA_CHECK(!o.inputs.empty(), "pack: --inputs DIR is required");
  TESSERA_CHECK(!o.out.empty(), "pack: --out DIR is required");
  TESSERA_CHECK(o.size >= 8 && o.size <= 8192, "pack: --size must be in 8..8192, got {}", o.size);
  TESSERA_CHECK(o.channels == 1 || o.channels == 3, "pack: --channels must be 1 or 3, got {}",
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

PackSummary run_pack(const PackOptions& o) {
  validate_pack_options(o);
  const auto t0 = std::chrono::steady_clock::now();
  const FitMode mode = fit_mode_from_string(o.fit);
  std::vector<Item> items = collect_items(o);
  std::optional<ClassPalette> palette;
  if (!o.palette.empty()) palette = read_class_palette(o.palette, o.classes);
  TESSERA_CHECK(!palette || !palette->has_ignore || o.classes <= 255,
                "pack: the class table {} marks colours `ignore`, stored as 255, so --classes "
                "must be at most 255, got {}",
                o.palette, o.classes);
  LabelMapOptions lo;
  lo.classes = o.classes;
  lo.ignore_value = o.ignore_value;
  lo.palette = palette ? &*palette : nullptr;

  // Pass 1: decode and check everything, count samples; nothing is written yet.
  PackSummary summary;
  summary.info = pack_info(o, lo.palette);
  validate_info(summary.info, "pack");
  auto bump = [](SplitCounts& c, Split s, int64_t n) {
    (s == Split::train ? c.train : s == Split::val ? c.val : c.test) += n;
  };
  for (Item& item : items) {
    item.samples = static_cast<int64_t>(make_samples(o, mode, lo, item, 0).size());
    bump(summary.images, item.split, 1);
    bump(summary.samples, item.split, item.samples);
  }

  // Pass 2: write.
  if (o.split.empty()) {
    prepare_output_dir(o.out, o.overwrite);
  } else {
    check_existing_splits(o, summary.info);
    prepare_output_dir(o.out, o.overwrite, {split_from_string(o.split)});
  }
  SplitWriter writer(o.out, summary.info, summary.samples, o.shards, o.gzip);
  int64_t index = 0;
  Progress progress("pack " + o.task, static_cast<int64_t>(items.size()));
  for (const Item& item : items) {
    for (const Sample& s : make_samples(o, mode, lo, item, index)) writer.add(item.split, s);
    index += item.samples;
    progress.update(static_cast<int64_t>(&item - items.data()) + 1);
  }
  writer.finish();
  progress.finish();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  spdlog::info("pack {} ({}, fit {}): {} images -> {} samples in {:.2f} s -> {}", o.task, o.inputs,
               o.fit, items.size(), summary.samples.total(), summary.seconds, o.out);
  spdlog::info("  {}", describe(summary.info));
  for (Split s : kAllSplits) {
    spdlog::info("  {:5}: {} images, {} samples in {} shard(s)", to_string(s), summary.images.of(s),
                 summary.samples.of(s), shards_for(summary.samples.of(s), o.shards));
  }
  return summary;
}

}  // namespace tessera
