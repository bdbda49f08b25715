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
#include "datasets/pack_rasters.h"
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
  std::optional<RasterHeader> raster;  // TIFF inputs: header and georeferencing (pass 1)
};

DatasetInfo pack_info(const PackOptions& o, const ClassPalette* palette, const InputFormat& f) {
  DatasetInfo info;
  info.task = o.task;
  info.height = info.width = o.size;
  info.input_height = info.input_width = o.size / ratio(o);
  info.in_channels = f.channels;
  info.input_dtype = f.dtype;
  if (o.task == "segmentation") {
    info.target_kind = "labels";
    info.classes = o.classes;
    if (o.ignore_value >= 0 || (palette != nullptr && palette->has_ignore))
      info.ignore_index = kIgnoreLabel;
    if (palette != nullptr) info.class_names = class_names(*palette, o.classes);
  } else {
    info.target_kind = "image";
    info.target_channels = f.channels;
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
// `raster` (optional) receives the input's TIFF header.
std::vector<Sample> make_samples(const PackOptions& o, FitMode mode, const LabelMapOptions& lo,
                                 const InputFormat& f, const Item& item, int64_t first_index,
                                 std::optional<RasterHeader>* raster = nullptr) {
  std::vector<Sample> out;
  const int in_size = o.size / ratio(o);
  RasterHeader header;
  header.bands = 0;
  auto read_input = [&](const std::string& path) {
    cv::Mat m = read_input_image(path, f, &header);
    if (raster != nullptr && header.bands > 0) *raster = header;
    return m;
  };
  if (paired(o)) {
    const bool labels = o.task == "segmentation";
    const cv::Mat input = read_input(item.input);
    const cv::Mat target =
        labels ? read_label_map(item.target, lo) : read_input_image(item.target, f);
    for (auto& [in, tg] :
         fit_pair(input, target, in_size, ratio(o), mode, labels, item.input, item.target)) {
      Sample s;
      s.input = in;
      s.target = tg;
      out.push_back(s);
    }
    return out;
  }
  const cv::Mat image = read_input(item.input);
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
      items.push_back({m.input, m.target, 0, split, 0, std::nullopt});
    }
  } else {
    for (const auto& f : inputs) items.push_back({f, "", 0, split, 0, std::nullopt});
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
      items.push_back({defects[i], "", 1, i < n_val ? Split::val : Split::test, 0, std::nullopt});
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

// The manifest of every written split gets `sources`: each TIFF input's sample range and
// georeferencing (pack_rasters.h), in the order its samples were written.
void record_sources(const PackOptions& o, FitMode mode, const std::vector<Item>& items,
                    const SplitWriter& writer) {
  for (Split s : kAllSplits) {
    if (writer.count(s) == 0) continue;
    nlohmann::json sources = nlohmann::json::array();
    int64_t first = 0;
    for (const Item& item : items) {
      if (item.split != s) continue;
      if (item.raster) {
        sources.push_back(source_entry(item.input, item.target, *item.raster, first, item.samples,
                                       o.size, mode));
      }
      first += item.samples;
    }
    const std::string dir = writer.dir(s);
    Manifest m = read_manifest_file((fs::path(dir) / kManifestName).string());
    m.sources = std::move(sources);
    write_manifest(dir, m);
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

  const InputFormat format = resolve_input_format(items.at(0).input, o.channels);
  TESSERA_CHECK(o.task == "segmentation" || (format.dtype == "uint8" &&
                                             (format.channels == 1 || format.channels == 3)),
                "pack: the first input {} gives {} channel(s) of {} samples; multi-band and 16-bit "
                "inputs are packed for --task segmentation only (--task {} makes or reads 8-bit "
                "grey or RGB image targets); pass --channels 3 or 1 for RGB/grey 8-bit TIFFs",
                format.first_file, format.channels, format.dtype, o.task);

  // Pass 1: decode and check everything, count samples; nothing is written yet.
  PackSummary summary;
  summary.info = pack_info(o, lo.palette, format);
  validate_info(summary.info, "pack");
  auto bump = [](SplitCounts& c, Split s, int64_t n) {
    (s == Split::train ? c.train : s == Split::val ? c.val : c.test) += n;
  };
  for (Item& item : items) {
    item.samples =
        static_cast<int64_t>(make_samples(o, mode, lo, format, item, 0, &item.raster).size());
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
    for (const Sample& s : make_samples(o, mode, lo, format, item, index)) {
      writer.add(item.split, s);
    }
    index += item.samples;
    progress.update(static_cast<int64_t>(&item - items.data()) + 1);
  }
  writer.finish();
  progress.finish();
  if (format.tiff) record_sources(o, mode, items, writer);
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
