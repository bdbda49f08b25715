// Metrics over real MPI ranks (run by ctest as `mpirun -np 1|2|3` through tests/run_mpi.sh).
//
// Every rank builds the same deterministic evaluation split (13 images), takes an uneven,
// unpadded contiguous share of it (weights 1:2:..:P, so 13 images split 4+9 over 2 ranks and
// 2+4+7 over 3), feeds it in batches of 2, and calls all_reduce().
// Every rank also computes one accumulator over the whole split locally; the reduced metrics must
// equal it: confusion counts exactly, float metrics within 1e-12, per-image lists identical.
// Covered: binary segmentation (threshold, ignore_index), multi-class segmentation, image
// metrics (PSNR/SSIM/Y), anomaly (AUC with ties). Prints one line per check; exit status 0 only
// when every check on every rank passed. An exception aborts the whole job (no rank left
// waiting in a collective).
//
// Communicator: tessera::MpiEnvironment env(&argc, &argv) once in main, then
// tessera::MpiCommunicator comm(env) (comm/mpi_environment.h, comm/mpi_communicator.h).
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>

#include "comm/mpi_communicator.h"
#include "comm/mpi_environment.h"
#include "common/config.h"
#include "trainer/metrics.h"
#include "trainer/metrics_segmentation.h"

namespace {

using tessera::Metrics;

struct Split {
  std::vector<torch::Tensor> outputs, targets, labels;
};

int failures = 0;

void expect(bool ok, int rank, const std::string& what) {
  if (!ok) {
    ++failures;
    std::printf("rank %d: FAILED %s\n", rank, what.c_str());
    std::fflush(stdout);
  }
}

void feed(Metrics& m, const Split& s, int64_t begin, int64_t end, int64_t batch) {
  for (int64_t i = begin; i < end; i += batch) {
    const int64_t j = std::min(end, i + batch);
    std::vector<torch::Tensor> o(s.outputs.begin() + i, s.outputs.begin() + j);
    std::vector<torch::Tensor> t(s.targets.begin() + i, s.targets.begin() + j);
    std::vector<int64_t> ids;
    for (int64_t k = i; k < j; ++k) ids.push_back(k);
    torch::Tensor l;
    if (!s.labels.empty()) {
      l = torch::cat(std::vector<torch::Tensor>(s.labels.begin() + i, s.labels.begin() + j));
    }
    m.update(torch::cat(o), torch::cat(t), l, ids);
  }
}

// Uneven shares of n images over p ranks: rank r gets weight r + 1 (rank 0 the fewest).
std::pair<int64_t, int64_t> share(int64_t n, int rank, int size) {
  const int64_t total_w = static_cast<int64_t>(size) * (size + 1) / 2;
  int64_t begin = 0;
  for (int r = 0; r < rank; ++r) begin += n * (r + 1) / total_w;
  const int64_t len = rank == size - 1 ? n - begin : n * (rank + 1) / total_w;
  return {begin, begin + len};
}

void check(const std::string& name, tessera::Communicator& comm,
           const std::function<std::unique_ptr<Metrics>()>& make, const Split& s) {
  const int rank = comm.rank();
  const int64_t n = static_cast<int64_t>(s.outputs.size());
  auto whole = make();
  feed(*whole, s, 0, n, 4);
  const auto [b, e] = share(n, rank, comm.size());
  auto mine = make();
  feed(*mine, s, b, e, 2);
  mine->all_reduce(comm);
  const auto want = whole->compute();
  const auto got = mine->compute();
  expect(got.size() == want.size(), rank, name + ": same metric names");
  for (const auto& [k, v] : want) {
    const bool ok =
        got.count(k) && (std::isinf(v) ? got.at(k) == v : std::abs(got.at(k) - v) <= 1e-12);
    expect(ok, rank,
           name + ": " + k + " = " + (got.count(k) ? std::to_string(got.at(k)) : "?") +
               ", single process " + std::to_string(v));
  }
  expect(mine->per_image().size() == whole->per_image().size(), rank, name + ": image count");
  for (size_t i = 0; i < std::min(mine->per_image().size(), whole->per_image().size()); ++i) {
    expect(mine->per_image()[i].id == whole->per_image()[i].id &&
               mine->per_image()[i].values == whole->per_image()[i].values,
           rank, name + ": per-image row " + std::to_string(i));
  }
  const auto* sg = dynamic_cast<const tessera::SegmentationMetrics*>(mine.get());
  const auto* sw = dynamic_cast<const tessera::SegmentationMetrics*>(whole.get());
  if (sg && sw) {
    for (size_t c = 0; c < sw->counts().size(); ++c) {
      const auto &x = sg->counts()[c], &y = sw->counts()[c];
      expect(x.tp == y.tp && x.fp == y.fp && x.fn == y.fn && x.tn == y.tn, rank,
             name + ": exact counts of class " + std::to_string(c));
    }
  }
  std::printf("rank %d/%d: %s: images %lld..%lld of %lld checked\n", rank, comm.size(),
              name.c_str(), static_cast<long long>(b), static_cast<long long>(e),
              static_cast<long long>(n));
  std::fflush(stdout);
}

int run(tessera::Communicator& comm) {
  constexpr int64_t kImages = 13;
  tessera::ModelConfig sigmoid, softmax, none;
  softmax.activation = "softmax";
  none.activation = "none";

  torch::manual_seed(11);  // same data on every rank
  Split bin, mc, img, anom;
  for (int64_t i = 0; i < kImages; ++i) {
    auto y = torch::randint(0, 2, {1, 8, 8}, torch::kLong);
    y.masked_fill_(torch::rand({1, 8, 8}) < 0.1, 255);
    bin.outputs.push_back(torch::randn({1, 1, 8, 8}));
    bin.targets.push_back(y);
    mc.outputs.push_back(torch::randn({1, 3, 8, 8}));
    mc.targets.push_back(torch::randint(0, 3, {1, 8, 8}, torch::kLong));
    auto im = torch::rand({1, 3, 16, 16});
    img.outputs.push_back(torch::logit(im.clamp(0.02, 0.98)) + 0.3 * torch::randn({1, 3, 16, 16}));
    img.targets.push_back(im);
    auto a = torch::randint(0, 64, {1, 1, 8, 8}).to(torch::kFloat) / 64.0f;
    anom.outputs.push_back(a + 0.125f * static_cast<float>(i % 3));  // three tied error levels
    anom.targets.push_back(a);
    anom.labels.push_back(torch::tensor({i % 2}, torch::kLong));
  }

  tessera::TaskConfig seg1, seg3, sr, an;
  seg3.classes = 3;
  sr.kind = tessera::TaskKind::super_resolution;
  sr.out_channels = 3;
  an.kind = tessera::TaskKind::anomaly;
  an.out_channels = 1;
  tessera::EvalConfig eval;
  eval.threshold = 0.4;
  eval.border_crop = 1;

  check(
      "binary segmentation", comm, [&] { return tessera::make_metrics(seg1, sigmoid, eval, 255); },
      bin);
  check(
      "multi-class segmentation", comm, [&] { return tessera::make_metrics(seg3, softmax, eval); },
      mc);
  check(
      "image", comm, [&] { return tessera::make_metrics(sr, sigmoid, eval); }, img);
  check(
      "anomaly", comm, [&] { return tessera::make_metrics(an, none, eval); }, anom);

  // Every rank's verdict, so a failure anywhere fails every rank's exit status.
  int64_t total_failures = failures;
  comm.allreduce(&total_failures, 1, tessera::ReduceOp::sum);
  if (comm.rank() == 0) {
    std::printf("%s: %lld failed checks over %d ranks\n", total_failures ? "FAILED" : "OK",
                static_cast<long long>(total_failures), comm.size());
  }
  return total_failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  torch::set_num_threads(1);
  tessera::MpiEnvironment env(&argc, &argv);
  tessera::MpiCommunicator comm(env);
  try {
    return run(comm);
  } catch (const std::exception& e) {
    comm.abort(2, std::string("metrics_mpi_test: ") + e.what());
  }
}
