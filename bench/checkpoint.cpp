// bench_checkpoint: what saving and loading a training checkpoint costs, against writing and
// reading the same bytes with plain file I/O.
//
//   build/bin/bench_checkpoint [--dir DIR] [--reps 5] [--filters 16] [--depth 4]
//
// The state is the trainer's (trainer/train_state.h capture_state): the article's U-Net
// (default filters 16, depth 4: 2,161,649 parameters) after one Adam step, so model.pt holds
// parameters + BN buffers and optim.pt the two Adam moments. Measured, each the median of --reps
// repetitions, interleaved (rep r of every method, then rep r+1) so drift hits all alike:
//   serialize        capture_state(): module_to_bytes + optimizer_to_bytes (+ config, state.json)
//   store.save       CheckpointStore::save of those bytes: SHA-256 of every file, write + fsync,
//                    meta.json, rename publish, `latest` pointer, retention (keep_last 2)
//   plain write      the same files written with write(2) into a fresh directory (no fsync)
//   plain write+fsync  the same, each file fsync()ed and the directory fsync()ed
//   store.load       CheckpointStore::load("latest"): read every file, verify size + SHA-256
//   plain read       the same files read back with read(2) (page cache warm in both cases)
//   deserialize      restore_state() into a fresh model + optimizer
//   SHA-256          hashing every file's bytes in memory: OpenSSL's EVP SHA-256 (what the store
//                    uses, checkpoints/sha256.h) and the scalar implementation it replaced
//                    (bench/sha256_scalar.h); the digests must agree
// Output: a Markdown table (ms, MB/s, ratio to the plain I/O baseline).
#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "checkpoints/checkpoint_store.h"
#include "checkpoints/sha256.h"
#include "common/config.h"
#include "common/error.h"
#include "models/model.h"
#include "trainer/optim.h"
#include "trainer/train_state.h"
#include "sha256_scalar.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string dir;
  int reps = 5;
  int filters = 16;
  int depth = 4;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    TESSERA_CHECK(i + 1 < argc, "bench_checkpoint: option {} needs a value", k);
    const std::string v = argv[++i];
    if (k == "--dir") a.dir = v;
    else if (k == "--reps") a.reps = std::stoi(v);
    else if (k == "--filters") a.filters = std::stoi(v);
    else if (k == "--depth") a.depth = std::stoi(v);
    else TESSERA_THROW("bench_checkpoint: unknown option '{}' (see bench/checkpoint.cpp)", k);
  }
  TESSERA_CHECK(a.reps >= 1, "bench_checkpoint: --reps must be >= 1");
  return a;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void write_plain(const std::string& path, const std::string& bytes, bool sync) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  TESSERA_CHECK(fd >= 0, "bench_checkpoint: cannot create {}", path);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    TESSERA_CHECK(n > 0, "bench_checkpoint: write to {} failed", path);
    done += static_cast<size_t>(n);
  }
  if (sync) TESSERA_CHECK(::fsync(fd) == 0, "bench_checkpoint: fsync {} failed", path);
  ::close(fd);
}

size_t read_plain(const std::string& path, std::string& buf) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  TESSERA_CHECK(fd >= 0, "bench_checkpoint: cannot open {}", path);
  buf.resize(static_cast<size_t>(fs::file_size(path)));
  size_t done = 0;
  while (done < buf.size()) {
    const ssize_t n = ::read(fd, buf.data() + done, buf.size() - done);
    TESSERA_CHECK(n > 0, "bench_checkpoint: read of {} failed", path);
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return done;
}

void fsync_path(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  TESSERA_CHECK(fd >= 0, "bench_checkpoint: cannot open {}", dir);
  ::fsync(fd);
  ::close(fd);
}

struct Trainable {
  tessera::ImageModel model{nullptr};
  std::unique_ptr<torch::optim::Optimizer> optimizer;
};

Trainable make_trainable(const tessera::Config& cfg, bool step) {
  torch::manual_seed(1);
  Trainable t;
  t.model = tessera::make_model(cfg.model, cfg.task);
  t.optimizer = tessera::make_optimizer(cfg.optim, t.model->parameters());
  if (step) {  // one Adam step so the optimizer state (moments, step counts) exists
    const auto x = torch::rand({2, cfg.task.in_channels, 64, 64});
    const auto y = torch::rand({2, cfg.task.out_channels, 64, 64});
    t.optimizer->zero_grad();
    torch::mse_loss(t.model->forward(x), y).backward();
    t.optimizer->step();
  }
  return t;
}

int run(int argc, char** argv) {
  const Args args = parse(argc, argv);
  torch::set_num_threads(1);
  const std::string root =
      args.dir.empty() ? (fs::temp_directory_path() / "tessera-bench-checkpoint").string()
                       : args.dir;
  fs::remove_all(root);
  fs::create_directories(root);

  tessera::Config cfg;
  cfg.model.filters = args.filters;
  cfg.model.depth = args.depth;
  Trainable src = make_trainable(cfg, true);
  Trainable dst = make_trainable(cfg, true);
  tessera::TrainProgress progress;
  progress.step = 1;
  int64_t params = 0;
  for (const auto& p : src.model->parameters()) params += p.numel();

  tessera::checkpoints::CheckpointStore store(root + "/run", /*keep_last=*/2);
  const std::string plain = root + "/plain";
  std::vector<double> t_ser, t_save, t_pw, t_pws, t_load, t_pr, t_de, t_evp, t_scalar;
  uint64_t total_bytes = 0;
  std::string buf;
  auto secs = [](Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  for (int rep = 0; rep < args.reps + 1; ++rep) {  // rep 0 is a warm-up
    const bool keep = rep > 0;
    progress.step = rep + 1;
    auto t0 = Clock::now();
    auto data = tessera::capture_state(cfg, *src.model, *src.optimizer, progress, 1);
    if (keep) t_ser.push_back(secs(t0));
    total_bytes = 0;
    for (const auto& [name, bytes] : data.files) total_bytes += bytes.size();

    t0 = Clock::now();
    store.save(data);
    if (keep) t_save.push_back(secs(t0));

    for (const bool sync : {false, true}) {
      fs::remove_all(plain);
      fs::create_directories(plain);
      t0 = Clock::now();
      for (const auto& [name, bytes] : data.files) write_plain(plain + "/" + name, bytes, sync);
      if (sync) fsync_path(plain);
      if (keep) (sync ? t_pws : t_pw).push_back(secs(t0));
    }

    t0 = Clock::now();
    auto loaded = store.load("latest");
    if (keep) t_load.push_back(secs(t0));

    t0 = Clock::now();
    size_t got = 0;
    for (const auto& [name, bytes] : data.files) got += read_plain(plain + "/" + name, buf);
    if (keep) t_pr.push_back(secs(t0));
    TESSERA_CHECK(got == total_bytes, "bench_checkpoint: read back {} of {} bytes", got,
                  total_bytes);

    std::vector<std::string> evp, scalar;
    t0 = Clock::now();
    for (const auto& [name, bytes] : data.files) {
      evp.push_back(tessera::checkpoints::sha256_hex(bytes));
    }
    if (keep) t_evp.push_back(secs(t0));
    t0 = Clock::now();
    for (const auto& [name, bytes] : data.files) {
      bench::ScalarSha256 h;
      h.update(bytes.data(), bytes.size());
      scalar.push_back(tessera::checkpoints::to_hex(h.digest()));
    }
    if (keep) t_scalar.push_back(secs(t0));
    TESSERA_CHECK(evp == scalar, "bench_checkpoint: OpenSSL and scalar SHA-256 disagree");

    t0 = Clock::now();
    tessera::TrainProgress restored;
    tessera::restore_state(loaded, *dst.model, *dst.optimizer, restored);
    if (keep) t_de.push_back(secs(t0));
    TESSERA_CHECK(restored.step == progress.step, "bench_checkpoint: restored step {} != {}",
                  restored.step, progress.step);
  }
  // The round trip must be bit-exact (otherwise the timings compare different work).
  auto a = src.model->parameters();
  auto b = dst.model->parameters();
  for (size_t i = 0; i < a.size(); ++i) {
    TESSERA_CHECK(torch::equal(a[i], b[i]), "bench_checkpoint: parameter {} differs after load",
                  i);
  }

  const double mb = total_bytes / 1e6;
  std::printf("state: U-Net filters %d depth %d, %lld parameters, Adam after 1 step; checkpoint "
              "files %.2f MB in total; directory %s; median of %d reps\n\n",
              args.filters, args.depth, static_cast<long long>(params), mb, root.c_str(),
              args.reps);
  std::printf("| operation | ms (median) | MB/s | vs plain I/O |\n|---|---:|---:|---:|\n");
  auto row = [&](const char* name, const std::vector<double>& t, const std::vector<double>* base) {
    const double m = median(t);
    std::string ratio = base ? fmt::format("{:.2f}x", m / median(*base)) : "-";
    std::printf("| %s | %.2f | %.0f | %s |\n", name, m * 1e3, mb / m, ratio.c_str());
  };
  row("serialize (capture_state)", t_ser, nullptr);
  row("plain write (no fsync)", t_pw, nullptr);
  row("plain write + fsync", t_pws, nullptr);
  row("CheckpointStore::save (SHA-256, fsync, publish)", t_save, &t_pws);
  row("plain read", t_pr, nullptr);
  row("CheckpointStore::load (read + verify SHA-256)", t_load, &t_pr);
  row("deserialize (restore_state)", t_de, nullptr);
  row("SHA-256 of every file, OpenSSL EVP (the store's)", t_evp, nullptr);
  row("SHA-256 of every file, scalar (replaced, bench only)", t_scalar, nullptr);
  std::printf("\nsave total (serialize + store.save) %.2f ms; load total (store.load + "
              "restore_state) %.2f ms\n",
              (median(t_ser) + median(t_save)) * 1e3, (median(t_load) + median(t_de)) * 1e3);
  std::printf("SHA-256: OpenSSL EVP %.2fx the scalar implementation's speed (%s)\n",
              median(t_scalar) / median(t_evp), OpenSSL_version(OPENSSL_VERSION));
  fs::remove_all(root);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_checkpoint: %s\n", e.what());
    return 1;
  }
}
