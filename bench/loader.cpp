// bench_loader: data-loader throughput (samples/s) against a plain sequential read of the same
// bytes, and peak memory (RSS) for a dataset 1x and 10x larger. The loader's memory is bounded
// by data.prefetch_batches x batch bytes, so its peak RSS must stay flat from 1x to 10x.
//
// Usage: bench_loader [--samples N] [--size S] [--image-size C] [--batch B] [--threads T]
//                     [--prefetch P] [--gzip G] [--epochs E] [--dir DIR] [--keep]
// Writes DIR/x1 (N samples) and DIR/x10 (10N samples) of S x S x 3 uint8 inputs with S x S
// label maps (shards of 256), then runs each measurement in a fresh child process (so peak RSS
// is per measurement, from wait4) with the page cache warm (datasets were just written):
//   fread      plain read() of every shard file, front to back (I/O ceiling)
//   h5-seq     every sample's input+target bytes in storage order, one thread, no decode
//   h5-seq-crc the same with each sample checked against its stored CRC32C (sample_crc32c), as
//              every Loader mode does: the difference is the per-sample check's whole cost
//   loader-*   Loader epochs: train (global shuffle, random crop C, flips/rot90/color jitter),
//              train-shards (shards mode), eval (full images, no augmentation)
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "datasets/dataset_reader.h"
#include "datasets/dataset_writer.h"
#include "datasets/loader.h"

extern char** environ;

using namespace tessera;
namespace fs = std::filesystem;

namespace {

struct Args {
  int64_t samples = 2000;
  int size = 64;
  int image_size = 48;
  int batch = 32;
  int threads = 2;
  int prefetch = 4;
  int gzip = 0;
  int epochs = 1;
  std::string dir;
  bool keep = false;
};

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void make_dataset(const std::string& dir, int64_t n, int size, int gzip) {
  DatasetInfo info;
  info.task = "segmentation";
  info.height = info.width = info.input_height = info.input_width = size;
  DatasetWriter w(dir, info, 256, gzip);
  Sample s;
  s.input = cv::Mat(size, size, CV_8UC3);
  s.target = cv::Mat(size, size, CV_8UC1);
  cv::RNG rng(1);
  for (int64_t k = 0; k < n; ++k) {
    rng.fill(s.input, cv::RNG::UNIFORM, 0, 256);
    for (int y = 0; y < size; ++y) {
      for (int x = 0; x < size; ++x) s.target.at<uint8_t>(y, x) = ((x + y + k) / 9) % 2;
    }
    w.add(s);
  }
  w.finish();
}

// Child: runs one measurement, prints "samples seconds bytes".
int child(const std::string& mode, const std::string& dir, const Args& a) {
  double t0 = now_s();
  int64_t samples = 0;
  uint64_t bytes = 0;
  if (mode == "fread") {
    std::vector<char> buf(1 << 20);
    DatasetReader r(dir, ReaderOptions{VerifyMode::none});
    for (int s = 0; s < r.num_shards(); ++s) {
      FILE* f = std::fopen(r.shard_path(s).c_str(), "rb");
      TESSERA_CHECK(f, "cannot open {}", r.shard_path(s));
      size_t got;
      while ((got = std::fread(buf.data(), 1, buf.size(), f)) > 0) bytes += got;
      std::fclose(f);
    }
    samples = r.size();
  } else if (mode == "h5-seq" || mode == "h5-seq-crc") {
    DatasetReader r(dir, ReaderOptions{mode == "h5-seq" ? VerifyMode::none : VerifyMode::size});
    RawSample raw;
    t0 = now_s();
    for (int64_t k = 0; k < r.size(); ++k) {
      r.read(k, raw);
      bytes += raw.input.size() + raw.target.size();
    }
    samples = r.size();
  } else {
    DataConfig cfg;
    cfg.batch_size = a.batch;
    cfg.image_size = a.image_size;
    cfg.loader_threads = a.threads;
    cfg.prefetch_batches = a.prefetch;
    cfg.shuffle = mode == "loader-train-shards" ? "shards" : "global";
    cfg.shuffle_buffer = 1024;
    LoaderOptions o;
    o.train = mode != "loader-eval";
    Loader l(cfg, dir, o);
    t0 = now_s();
    for (int e = 0; e < a.epochs; ++e) {
      l.start_epoch(e);
      while (auto b = l.next()) {
        samples += b->inputs.size(0);
        bytes += static_cast<uint64_t>(b->inputs.numel() * 4 + b->targets.numel() * 8);
      }
    }
  }
  double dt = now_s() - t0;
  std::printf("%lld %.6f %llu\n", static_cast<long long>(samples), dt,
              static_cast<unsigned long long>(bytes));
  return 0;
}

struct Result {
  double samples_per_s = 0;
  double peak_rss_mib = 0;
};

Result run_child(const std::string& mode, const std::string& dir, const Args& a) {
  std::string out = dir + "/.bench-" + mode + ".txt";
  std::vector<std::string> argv_s = {"/proc/self/exe",
                                     "--child",
                                     mode,
                                     dir,
                                     "--batch",
                                     std::to_string(a.batch),
                                     "--image-size",
                                     std::to_string(a.image_size),
                                     "--threads",
                                     std::to_string(a.threads),
                                     "--prefetch",
                                     std::to_string(a.prefetch),
                                     "--epochs",
                                     std::to_string(a.epochs)};
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  TESSERA_CHECK(rc == 0, "posix_spawn failed: {}", std::strerror(rc));
  int status = 0;
  struct rusage ru {};
  TESSERA_CHECK(wait4(pid, &status, 0, &ru) == pid, "wait4 failed");
  TESSERA_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child {} failed", mode);
  std::ifstream in(out);
  long long n = 0;
  double dt = 0;
  unsigned long long bytes = 0;
  in >> n >> dt >> bytes;
  fs::remove(out);
  return {n / dt, ru.ru_maxrss / 1024.0};
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Args a;
    std::vector<std::string> args(argv + 1, argv + argc);
    std::string child_mode, child_dir;
    for (size_t i = 0; i < args.size(); ++i) {
      auto val = [&]() -> std::string {
        TESSERA_CHECK(i + 1 < args.size(), "missing value after {}", args[i]);
        return args[++i];
      };
      if (args[i] == "--child") {
        child_mode = val();
        child_dir = val();
      } else if (args[i] == "--samples") {
        a.samples = std::stoll(val());
      } else if (args[i] == "--size") {
        a.size = std::stoi(val());
      } else if (args[i] == "--image-size") {
        a.image_size = std::stoi(val());
      } else if (args[i] == "--batch") {
        a.batch = std::stoi(val());
      } else if (args[i] == "--threads") {
        a.threads = std::stoi(val());
      } else if (args[i] == "--prefetch") {
        a.prefetch = std::stoi(val());
      } else if (args[i] == "--epochs") {
        a.epochs = std::stoi(val());
      } else if (args[i] == "--gzip") {
        a.gzip = std::stoi(val());
      } else if (args[i] == "--dir") {
        a.dir = val();
      } else if (args[i] == "--keep") {
        a.keep = true;
      } else {
        TESSERA_THROW("unknown argument {}", args[i]);
      }
    }
    if (!child_mode.empty()) return child(child_mode, child_dir, a);

    if (a.dir.empty()) a.dir = (fs::temp_directory_path() / "tessera-bench-loader").string();
    fs::remove_all(a.dir);
    const std::vector<std::pair<std::string, int64_t>> sets = {{"x1", a.samples},
                                                               {"x10", 10 * a.samples}};
    std::map<std::string, uint64_t> bytes;
    for (const auto& [name, n] : sets) {
      std::string d = a.dir + "/" + name;
      double t0 = now_s();
      make_dataset(d, n, a.size, a.gzip);
      uint64_t b = 0;
      for (const auto& e : fs::directory_iterator(d)) b += e.is_regular_file() ? e.file_size() : 0;
      bytes[name] = b;
      std::printf("wrote %s: %lld samples, %.1f MiB in %.1f s\n", d.c_str(),
                  static_cast<long long>(n), b / 1048576.0, now_s() - t0);
    }
    std::printf(
        "\nsamples %dx%dx3 uint8 + %dx%d labels, gzip %d; loader: batch %d, crop %d, "
        "threads %d, prefetch %d\n\n",
        a.size, a.size, a.size, a.size, a.gzip, a.batch, a.image_size, a.threads, a.prefetch);
    const std::vector<std::string> modes = {"fread",       "h5-seq",       "h5-seq-crc",
                                            "loader-eval", "loader-train", "loader-train-shards"};
    std::map<std::string, std::map<std::string, Result>> res;
    for (const auto& m : modes) {
      for (const auto& [name, n] : sets) res[m][name] = run_child(m, a.dir + "/" + name, a);
    }
    std::printf("%-20s %14s %14s %12s %12s %10s\n", "mode", "x1 samples/s", "x10 samples/s",
                "x1 RSS MiB", "x10 RSS MiB", "vs h5-seq");
    for (const auto& m : modes) {
      const Result& r1 = res[m]["x1"];
      const Result& r10 = res[m]["x10"];
      std::printf("%-20s %14.0f %14.0f %12.1f %12.1f %9.2fx\n", m.c_str(), r1.samples_per_s,
                  r10.samples_per_s, r1.peak_rss_mib, r10.peak_rss_mib,
                  r10.samples_per_s / res["h5-seq"]["x10"].samples_per_s);
    }
    const double crc_us =
        1e6 / res["h5-seq-crc"]["x10"].samples_per_s - 1e6 / res["h5-seq"]["x10"].samples_per_s;
    std::printf(
        "\nper-sample CRC32C check: %.2f us per sample = %.1f%% of a loader-train sample (%.1f us)"
        "\n",
        crc_us, 100.0 * crc_us * res["loader-train"]["x10"].samples_per_s / 1e6,
        1e6 / res["loader-train"]["x10"].samples_per_s);
    std::printf("\nloader-train peak RSS x10 / x1 = %.3f (dataset bytes x10 / x1 = %.1f)\n",
                res["loader-train"]["x10"].peak_rss_mib / res["loader-train"]["x1"].peak_rss_mib,
                static_cast<double>(bytes["x10"]) / bytes["x1"]);
    if (!a.keep) fs::remove_all(a.dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_loader: %s\n", e.what());
    return 1;
  }
  return 0;
}
