#include "trainer/predictor.h"

#include "common/progress.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <vector>

#include "common/error.h"
#include "datasets/geotiff.h"
#include "datasets/loader.h"
#include "models/cpu_backend.h"
#include "trainer/image_grid.h"
#include "trainer/session.h"
#include "trainer/task_io.h"
#include "trainer/tiling.h"

namespace tessera {
namespace fs = std::filesystem;

namespace {

struct Item {
  std::string stem;
  torch::Tensor input;   // C x h x w float [0,1] (RGB)
  torch::Tensor target;  // H x W int64 labels, or C x H x W float; undefined when unknown
};

bool is_image_file(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  return e == ".png" || e == ".jpg" || e == ".jpeg" || e == ".tif" || e == ".tiff" || e == ".bmp";
}

bool is_dataset_dir(const fs::path& p) {
  if (!fs::is_directory(p)) return false;
  if (fs::exists(p / "manifest.json")) return true;
  for (const auto& e : fs::directory_iterator(p)) {
    if (e.path().extension() == ".h5") return true;
  }
  return false;
}

// A TIFF through GDAL (datasets/geotiff.h) as float C x H x W: every band as stored, mapped to
// [0, 1] as the loader maps its dtype (8-bit / 255, 16-bit / 65535). A 1-band TIFF is
// replicated into 3 channels and a last alpha band dropped, as `tessera pack` does.
torch::Tensor read_tiff_image(const fs::path& path, int channels) {
  RasterHeader h;
  cv::Mat m = read_tiff(path.string(), &h);
  int use = h.bands;
  if (h.alpha_last && h.bands == channels + 1) use = channels;
  TESSERA_CHECK(use == channels || (h.bands == 1 && channels == 3),
                "predict: {} has {} band(s); the model takes task.in_channels {}", path.string(),
                h.bands, channels);
  const bool u16 = h.bits == 16;
  if (u16) m.convertTo(m, CV_32S);  // no uint16 tensors in LibTorch 1.13: widen first
  torch::Tensor t =
      torch::from_blob(m.data, {m.rows, m.cols, h.bands}, u16 ? torch::kInt32 : torch::kUInt8);
  t = t.narrow(2, 0, use).permute({2, 0, 1}).to(torch::kFloat32).div(u16 ? 65535.0 : 255.0);
  if (h.bands == 1 && channels == 3) t = t.expand({3, t.size(1), t.size(2)});
  return t.contiguous();
}

// Reads an image file as RGB float C x H x W with `channels` channels.
torch::Tensor read_image(const fs::path& path, int channels) {
  if (is_tiff_name(path.string())) return read_tiff_image(path, channels);
  cv::Mat m = cv::imread(path.string(), cv::IMREAD_UNCHANGED);
  TESSERA_CHECK(!m.empty(), "predict: cannot read image {} (not an image OpenCV can decode)",
                path.string());
  if (m.depth() == CV_16U) m.convertTo(m, CV_8U, 1.0 / 257.0);
  TESSERA_CHECK(m.depth() == CV_8U, "predict: {}: unsupported pixel depth (expected 8 or 16 bit)",
                path.string());
  if (m.channels() == 4) cv::cvtColor(m, m, cv::COLOR_BGRA2BGR);
  if (channels == 1 && m.channels() == 3) cv::cvtColor(m, m, cv::COLOR_BGR2GRAY);
  if (channels == 3 && m.channels() == 1) cv::cvtColor(m, m, cv::COLOR_GRAY2BGR);
  if (m.channels() == 3) cv::cvtColor(m, m, cv::COLOR_BGR2RGB);
  TESSERA_CHECK(m.channels() == channels, "predict: {} has {} channels; the model takes {}",
                path.string(), m.channels(), channels);
  m = m.clone();
  auto t = torch::from_blob(m.data, {m.rows, m.cols, m.channels()}, torch::kUInt8).clone();
  return t.permute({2, 0, 1}).to(torch::kFloat32).div(255.0);
}

std::string band_list(const std::vector<int>& bands) {
  std::string out;
  for (int b : bands) out += (out.empty() ? "" : ",") + std::to_string(b);
  return out;
}

void write_png(const fs::path& path, const cv::Mat& m) {
  TESSERA_CHECK(cv::imwrite(path.string(), m), "predict: cannot write {}", path.string());
}

// Ground truth for an image file: the file in `dir` with the same stem. Segmentation masks are
// label PNGs (binary: 0/255 or 0/1); other tasks' targets are images.
torch::Tensor read_target(const Config& cfg, const std::string& dir, const std::string& stem) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().stem().string() != stem || !is_image_file(e.path())) {
      continue;
    }
    if (cfg.task.kind != TaskKind::segmentation) {
      return read_image(e.path(), cfg.task.out_channels);
    }
    cv::Mat m = cv::imread(e.path().string(), cv::IMREAD_GRAYSCALE);
    TESSERA_CHECK(!m.empty(), "predict: cannot read target {}", e.path().string());
    auto t = torch::from_blob(m.data, {m.rows, m.cols}, torch::kUInt8).clone().to(torch::kInt64);
    if (cfg.task.classes == 1) t = (t > 0).to(torch::kInt64);
    return t;
  }
  TESSERA_THROW("predict: no target for '{}' in {} (targets are matched by file stem)", stem, dir);
}

void render_segmentation(const Config& cfg, const Item& it, const torch::Tensor& prob,
                         const fs::path& out, const std::vector<int>& bands) {
  torch::Tensor pred = predicted_labels(cfg, prob);
  cv::Mat input = to_bgr_image(display_bands(it.input, bands));
  cv::Mat mask =
      to_bgr_image(pred.unsqueeze(0).to(torch::kFloat32) * (cfg.task.classes > 1 ? 1.0 / 255.0 : 1.0));
  cv::cvtColor(mask, mask, cv::COLOR_BGR2GRAY);
  write_png(out / (it.stem + "_mask.png"), mask);
  cv::Mat color = labels_to_color(pred);
  cv::Mat overlay = input.clone();
  if (cfg.task.classes > 1) {
    cv::addWeighted(input, 0.55, color, 0.45, 0, overlay);
    write_png(out / (it.stem + "_color.png"), color);
  } else {
    torch::Tensor pred_cpu = pred.to(torch::kCPU).contiguous();
    const bool has_target = it.target.defined();
    torch::Tensor tgt_cpu =
        has_target ? it.target.to(torch::kCPU).to(torch::kInt64).contiguous() : pred_cpu;
    auto p = pred_cpu.accessor<int64_t, 2>();
    auto t = tgt_cpu.accessor<int64_t, 2>();
    for (int y = 0; y < overlay.rows; ++y) {
      for (int x = 0; x < overlay.cols; ++x) {
        const bool pv = p[y][x] != 0;
        const bool tv = t[y][x] != 0;
        cv::Vec3b c;
        if (pv && tv)
          c = has_target ? cv::Vec3b(0, 200, 0) : cv::Vec3b(0, 0, 255);  // TP green / pred red
        else if (pv)
          c = cv::Vec3b(0, 0, 255);  // FP red
        else if (tv)
          c = cv::Vec3b(255, 0, 0);  // FN blue
        else
          continue;
        cv::Vec3b& o = overlay.at<cv::Vec3b>(y, x);
        for (int k = 0; k < 3; ++k) o[k] = static_cast<uint8_t>(0.5 * o[k] + 0.5 * c[k]);
      }
    }
  }
  write_png(out / (it.stem + "_overlay.png"), overlay);
  write_png(out / (it.stem + "_grid.png"), comparison_grid(cfg, it.input, it.target, prob, bands));
}

}  // namespace

int64_t run_predict(const Config& cfg, const PredictOptions& opts) {
  TESSERA_CHECK(!opts.input.empty(), "predict: --input is required");
  TESSERA_CHECK(!opts.out.empty(), "predict: --out is required");
  TESSERA_CHECK(fs::exists(opts.input), "predict: input {} does not exist", opts.input);
  TESSERA_CHECK(opts.rgb_bands.empty() || opts.rgb_bands.size() == 1 || opts.rgb_bands.size() == 3,
                "predict: --rgb-bands takes 1 or 3 band numbers (e.g. 4,3,2), got {}",
                opts.rgb_bands.size());
  for (int b : opts.rgb_bands) {
    TESSERA_CHECK(b >= 1 && b <= cfg.task.in_channels,
                  "predict: --rgb-bands {}: band {} does not exist; the model's inputs have "
                  "task.in_channels {} bands, numbered 1..{}",
                  band_list(opts.rgb_bands), b, cfg.task.in_channels,
                  cfg.task.in_channels);
  }
  prepare_cpu_backend(cfg.train.threads_per_rank);  // threads; oneDNN numerics check
  torch::manual_seed(cfg.experiment.seed);
  auto model = make_model(cfg);
  const std::string ckpt = load_weights(cfg, opts.checkpoint, *model);
  model->eval();
  fs::create_directories(opts.out);
  spdlog::info("predict: weights from {}", ckpt);

  TilingOptions topt;
  topt.tile = cfg.eval.tile;
  topt.overlap = cfg.eval.tile_overlap;
  topt.multiple = size_multiple(cfg.model);
  topt.activation = cfg.model.activation;

  // Collect inputs lazily: files, or a dataset split.
  std::vector<fs::path> files;
  const fs::path in(opts.input);
  const bool dataset = is_dataset_dir(in);
  if (!dataset) {
    if (fs::is_directory(in)) {
      for (const auto& e : fs::directory_iterator(in)) {
        if (e.is_regular_file() && is_image_file(e.path())) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      TESSERA_CHECK(!files.empty(), "predict: no PNG/JPEG/TIFF/BMP images in {}", opts.input);
    } else {
      files.push_back(in);
    }
  }

  std::ofstream scores;
  if (cfg.task.kind == TaskKind::anomaly) {
    scores.open(fs::path(opts.out) / "scores.csv");
    scores << "stem,reconstruction_mse\n";
  }

  auto handle = [&](const Item& it) {
    torch::Tensor x = it.input;
    if (cfg.task.kind == TaskKind::super_resolution) {
      x = bicubic_upscale(x.unsqueeze(0), x.size(1) * cfg.task.scale, x.size(2) * cfg.task.scale)
              .squeeze(0);
    }
    torch::Tensor pred = infer_image(*model, x, topt);
    if (cfg.task.kind == TaskKind::segmentation) {
      render_segmentation(cfg, it, pred, opts.out, opts.rgb_bands);
      return;
    }
    pred = pred.clamp(0, 1);
    const fs::path out(opts.out);
    write_png(out / (it.stem + "_pred.png"),
              to_bgr_image(pred.size(0) == x.size(0) ? display_bands(pred, opts.rgb_bands) : pred));
    cv::Mat grid = comparison_grid(cfg, x, it.target, pred, opts.rgb_bands);
    if (cfg.task.kind == TaskKind::anomaly) {
      auto err = (pred - x).pow(2).mean(0);  // H x W
      const double mse = err.mean().item<double>();
      scores << it.stem << ',' << mse << '\n';
      auto e8 = (err / std::max(err.max().item<double>(), 1e-8)).unsqueeze(0);
      cv::Mat heat;
      cv::Mat gray = to_bgr_image(e8);
      cv::cvtColor(gray, gray, cv::COLOR_BGR2GRAY);
      cv::applyColorMap(gray, heat, cv::COLORMAP_JET);
      write_png(out / (it.stem + "_error.png"), heat);
      grid = hstack({grid, heat});
    }
    write_png(out / (it.stem + "_grid.png"), grid);
  };

  int64_t written = 0;
  if (dataset) {
    const int64_t limit = opts.limit > 0 ? opts.limit : std::max(cfg.eval.save_predictions, 1);
    Config one = cfg;
    one.data.batch_size = 1;
    const LoaderOptions lo = loader_options(cfg, 0, 1, /*train=*/false);
    Loader loader(one.data, opts.input, lo);
    TESSERA_CHECK(loader.info().in_channels == cfg.task.in_channels,
                  "predict: {} has {} input channels but task.in_channels is {}: the model takes "
                  "{}",
                  opts.input, loader.info().in_channels, cfg.task.in_channels,
                  cfg.task.in_channels);
    loader.start_epoch(0);
    Progress progress("predict", std::min(limit, loader.size()));
    while (written < limit) {
      auto b = loader.next();
      if (!b) break;
      Item it;
      it.stem = fmt::format("sample-{:06d}", b->indices.at(0));
      it.input = b->inputs[0];
      it.target = b->targets[0];
      handle(it);
      progress.update(++written);
    }
    progress.finish();
  } else {
    Progress progress("predict", static_cast<int64_t>(files.size()));
    for (const auto& f : files) {
      Item it;
      it.stem = f.stem().string();
      it.input = read_image(f, cfg.task.in_channels);
      if (!opts.targets.empty()) it.target = read_target(cfg, opts.targets, it.stem);
      handle(it);
      progress.update(++written);
    }
    progress.finish();
  }
  spdlog::info("predict: wrote {} input(s) to {}", written, opts.out);
  return written;
}

}  // namespace tessera
