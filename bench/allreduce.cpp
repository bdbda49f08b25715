// bench_allreduce: bus bandwidth of tessera's MPI allreduce (blocking, and asynchronous through
// the communication thread as GradReducer uses it) against raw MPI_Allreduce on the same
// buffer, for float32 buffers from --min-kib KiB to --max-mib MiB (x4 steps by default).
//
//   mpirun -np 2 build/bin/bench_allreduce [--min-kib 1] [--max-mib 64] [--factor 4]
//          [--trials 3] [--budget-mib 128]
//
// Each (size, method) is timed as `iters` back-to-back collectives (iters = budget / size,
// clamped to [5, 1000]); the time of one trial is the slowest rank's; a method's figure is its
// best trial. Methods are interleaved inside each trial so drift on a shared machine hits all
// of them alike. busbw = bytes / time * 2 (n-1) / n (the NCCL-tests convention: what each rank's
// link carries in a ring allreduce). Output: a Markdown table on rank 0 with ratios to raw MPI.
#include <mpi.h>

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "comm/mpi_communicator.h"
#include "comm/mpi_environment.h"
#include "common/check_mpi.h"
#include "common/error.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  double min_kib = 1;
  double max_mib = 64;
  int factor = 4;
  int trials = 3;
  double budget_mib = 128;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    TESSERA_CHECK(i + 1 < argc, "bench_allreduce: option {} needs a value", k);
    const double v = std::atof(argv[++i]);
    if (k == "--min-kib") a.min_kib = v;
    else if (k == "--max-mib") a.max_mib = v;
    else if (k == "--factor") a.factor = static_cast<int>(v);
    else if (k == "--trials") a.trials = static_cast<int>(v);
    else if (k == "--budget-mib") a.budget_mib = v;
    else TESSERA_THROW("bench_allreduce: unknown option '{}' (see the header of bench/allreduce.cpp)", k);
  }
  TESSERA_CHECK(a.factor >= 2 && a.trials >= 1 && a.min_kib > 0 && a.max_mib > 0,
                "bench_allreduce: bad options");
  return a;
}

// Seconds per call of `op` (iters calls), the slowest rank's.
double time_op(MPI_Comm comm, int iters, const std::function<void()>& op) {
  TESSERA_CHECK_MPI(MPI_Barrier(comm));
  const auto t0 = Clock::now();
  for (int i = 0; i < iters; ++i) op();
  double t = std::chrono::duration<double>(Clock::now() - t0).count() / iters;
  TESSERA_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, comm));
  return t;
}

int run(tessera::MpiEnvironment& env, int argc, char** argv) {
  const Args args = parse(argc, argv);
  tessera::MpiCommunicator comm(env);
  const MPI_Comm raw = comm.mpi_comm();
  const int n = comm.size();
  const double bus = n > 1 ? 2.0 * (n - 1) / n : 1.0;

  const char* names[] = {"raw MPI_Allreduce", "tessera allreduce (sync)",
                         "tessera allreduce_async+wait", "tessera async avg"};
  constexpr int kMethods = 4;
  if (comm.rank() == 0) {
    std::printf("ranks: %d, dtype float32, trials %d (best), threads per rank %d\n\n", n,
                args.trials, torch::get_num_threads());
    std::printf("| size | iters | raw MPI GB/s | sync GB/s | async GB/s | async avg GB/s |"
                " sync/raw | async/raw | async avg/raw |\n");
    std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  }
  for (double bytes = args.min_kib * 1024; bytes <= args.max_mib * 1024 * 1024 + 1;
       bytes *= args.factor) {
    const int64_t count = static_cast<int64_t>(bytes / sizeof(float));
    torch::Tensor t = torch::zeros({count}, torch::kFloat32);
    const int iters = static_cast<int>(
        std::clamp(args.budget_mib * 1024 * 1024 / bytes, 5.0, 1000.0));
    std::vector<std::function<void()>> ops = {
        [&] {
          TESSERA_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, t.data_ptr<float>(),
                                          static_cast<int>(count), MPI_FLOAT, MPI_SUM, raw));
        },
        [&] { comm.allreduce(t, tessera::ReduceOp::sum); },
        [&] { comm.allreduce_async(t, tessera::ReduceOp::sum)->wait(); },
        [&] { comm.allreduce_async(t, tessera::ReduceOp::avg)->wait(); },
    };
    for (auto& op : ops) op();  // warm-up (allocations, MPI's first-touch setup)
    std::vector<double> best(kMethods, 1e30);
    for (int trial = 0; trial < args.trials; ++trial) {
      for (int m = 0; m < kMethods; ++m) best[m] = std::min(best[m], time_op(raw, iters, ops[m]));
    }
    if (comm.rank() == 0) {
      auto gbs = [&](int m) { return bytes / best[m] * bus / 1e9; };
      std::string size = bytes >= 1024 * 1024 ? fmt::format("{:g} MiB", bytes / 1048576)
                                               : fmt::format("{:g} KiB", bytes / 1024);
      std::printf("| %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", size.c_str(),
                  iters, gbs(0), gbs(1), gbs(2), gbs(3), best[0] / best[1], best[0] / best[2],
                  best[0] / best[3]);
      std::fflush(stdout);
    }
  }
  if (comm.rank() == 0) {
    std::printf("\nratio = raw time / tessera time (1.00 = as fast as raw MPI; > 1 faster).\n");
    for (int m = 0; m < kMethods; ++m) std::printf("method %d: %s\n", m, names[m]);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  tessera::MpiEnvironment env(&argc, &argv);
  try {
    return run(env, argc, argv);
  } catch (const std::exception& e) {
    env.abort(1, std::string("bench_allreduce: ") + e.what());  // ends every rank
  }
}
