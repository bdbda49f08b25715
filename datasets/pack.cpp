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
#include "datasets/pack_volumes.h"
#include "datasets/synth_generators.h"
#include "datasets/synth_rng.h"

namespace tessera {

namespace {

namespace fs = std::filesystem;

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
  std::optional<nlohmann::json> volume;  // NIfTI inputs: the manifest source entry (pass 1)
  int page = -1;  // a page (0-based) of a multi-page TIFF input (and target); -1 = the file
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
                                 std::optional<RasterHeader>* raster = nullptr,
                                 std::optional<nlohmann::json>* volume = nullptr) {
  if (f.volume) {
    TESSERA_CHECK(is_nifti_name(item.input) && is_nifti_name(item.target),
                  "pack: {} with target {}: the first input {} is a NIfTI volume, so every input "
                  "and target must be one (.nii, .nii.gz)",
                  item.input, item.target, f.first_file);
    VolumeOptions vo;
    vo.axis = slice_axis_from_string(o.slice_axis.empty() ? "k" : o.slice_axis, "pack: --slice-axis");
    vo.intensity = parse_intensity(o.intensity);
    vo.size = o.size;
    vo.fit = mode;
    nlohmann::json source;
    auto out = volume_samples(vo, lo, item.input, item.target, &source);
    if (volume != nullptr) *volume = std::move(source);
    return out;
  }
  std::vector<Sample> out;
  const int in_size = o.size / ratio(o);
  RasterHeader header;
  header.bands = 0;
  auto read_input = [&](const std::string& path) {
    cv::Mat m = read_input_image(path, f, &header, item.page);
    if (raster != nullptr && header.bands > 0) *raster = header;
    return m;
  };
  if (paired(o)) {
    const bool labels = o.task == "segmentation";
    const cv::Mat input = read_input(item.input);
    const cv::Mat target = labels ? read_label_map(item.target, lo, item.page)
                                  : read_input_image(item.target, f, nullptr, item.page);
    for (auto& [in, tg] : fit_pair(input, target, in_size, ratio(o), mode, labels,
                                   page_label(item.input, item.page),
                                   page_label(item.target, item.page))) {
      Sample s;
      s.input = in;
      s.target = tg;
      out.push_back(s);
    }
    return out;
  }
  const cv::Mat image = read_input(item.input);
  int64_t k = first_index;
  for (cv::Mat& patch : fit_image(image, o.size, mode, false, page_label(item.input, item.page))) {
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

// Pages of one item's TIFF input; its target, if any, must have as many. 1 for other files.
int item_pages(const Item& item) {
  const int pages = is_tiff_name(item.input) ? tiff_pages(item.input) : 1;
  if (item.target.empty()) return pages;
  const int target_pages = is_tiff_name(item.target) ? tiff_pages(item.target) : 1;
  TESSERA_CHECK(target_pages == pages,
                "pack: {} has {} page(s) but its target {} has {}; a multi-page TIFF pairs page "
                "by page with a target of as many pages",
                item.input, pages, item.target, target_pages);
  return pages;
}

// Every page of a multi-page TIFF becomes an item of its own (an image, split like a file).
std::vector<Item> expand_pages(std::vector<Item> items) {
  std::vector<Item> out;
  for (Item& item : items) {
    const int pages = item_pages(item);
    for (int p = 0; p < pages; ++p) {
      Item page = item;
      page.page = pages > 1 ? p : -1;
      out.push_back(std::move(page));
    }
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
      items.push_back({m.input, m.target, 0, split, 0, std::nullopt, std::nullopt});
    }
  } else {
    for (const auto& f : inputs) items.push_back({f, "", 0, split, 0, std::nullopt, std::nullopt});
  }
  return expand_pages(std::move(items));
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
      items.push_back(
          {defects[i], "", 1, i < n_val ? Split::val : Split::test, 0, std::nullopt, std::nullopt});
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
// georeferencing (pack_rasters.h), or each volume's geometry and window (pack_volumes.h), in the
// order its samples were written.
void record_sources(const PackOptions& o, FitMode mode, const std::vector<Item>& items,
                    const SplitWriter& writer) {
  for (Split s : kAllSplits) {
    if (writer.count(s) == 0) continue;
    nlohmann::json sources = nlohmann::json::array();
    int64_t first = 0;
    for (const Item& item : items) {
      if (item.split != s) continue;
      if (item.raster) {
        nlohmann::json entry = source_entry(item.input, item.target, *item.raster, first,
                                            item.samples, o.size, mode);
        if (item.page >= 0) entry["page"] = item.page + 1;  // 1-based, as in messages
        sources.push_back(std::move(entry));
      } else if (item.volume) {
        nlohmann::json entry = *item.volume;
        entry["first_sample"] = first;
        sources.push_back(std::move(entry));
      }
      first += item.samples;
    }
    const std::string dir = writer.dir(s);
    Manifest m = read_manifest_file((fs::path(dir) / kManifestName).string());
    m.sources = std::move(sources);
    write_manifest(dir, m);
  }
}

// --intensity and --slice-axis are for NIfTI volumes, and volumes need --intensity.
void check_volume_options(const PackOptions& o, const InputFormat& f) {
  if (!f.volume) {
    TESSERA_CHECK(o.intensity.empty() && o.slice_axis.empty(),
                  "pack: --intensity and --slice-axis are for NIfTI volumes; the first input {} "
                  "is an image",
                  f.first_file);
    return;
  }
  TESSERA_CHECK(o.task == "segmentation",
                "pack: the first input {} is a NIfTI volume; volumes are packed for --task "
                "segmentation (image volumes with label volumes in --targets), not --task {}",
                f.first_file, o.task);
  TESSERA_CHECK(!o.intensity.empty(),
                "pack: the first input {} is a NIfTI volume: say how its intensities become "
                "inputs with --intensity window:LO,HI (fixed, e.g. CT window:-160,240), "
                "percentile:P,Q (per volume, e.g. MR percentile:0.5,99.5) or zscore:K",
                f.first_file);
  TESSERA_CHECK(o.palette.empty(),
                "pack: --palette is for colour masks; label volumes hold label values");
}

}  // namespace

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
  check_volume_options(o, format);
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
    item.samples = static_cast<int64_t>(
        make_samples(o, mode, lo, format, item, 0, &item.raster, &item.volume).size());
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
  if (format.tiff || format.volume) record_sources(o, mode, items, writer);
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
