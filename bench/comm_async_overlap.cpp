// bench_comm_async_overlap: how well each way of running an allreduce "in the background"
// overlaps with computation, which decided MpiCommunicator's design (docs/distributed.md).
//
//   mpirun -np 2 build/bin/bench_comm_async_overlap [--sizes-mib 1,8,32] [--trials 7]
//
// For each float32 buffer size it first measures the blocking allreduce time R and calibrates a
// compute kernel (torch::mm loop) to take about the same time C ~ R, then times
//   serial      compute, then the blocking allreduce                     (no overlap: C + R)
//   thread      allreduce_async (communication thread), compute, wait   (tessera's design)
//   iallreduce  MPI_Iallreduce, compute without calling MPI, MPI_Wait   (what autograd allows)
//   ipoll       MPI_Iallreduce, compute in 16 pieces with MPI_Test after each, MPI_Wait
//               (needs hooks that poll MPI inside the computation; autograd has none)
// A trial's time is the slowest rank's; a method's figure is the median over trials.
// overlap = (serial - method) / min(C, R): 1 = communication fully hidden, 0 = none.
#include <mpi.h>

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "comm/mpi_communicator.h"
#include "comm/mpi_environment.h"
#include "common/check_mpi.h"
#include "common/error.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Compute {
  torch::Tensor a = torch::rand({192, 192});
  torch::Tensor b = torch::rand({192, 192});
  torch::Tensor c = torch::empty({192, 192});
  void run(int iters) {
    for (int i = 0; i < iters; ++i) torch::mm_out(c, a, b);
  }
};

double slowest(MPI_Comm comm, double t) {
  double m = t;
  TESSERA_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &m, 1, MPI_DOUBLE, MPI_MAX, comm));
  return m;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<double> parse_sizes(const std::string& text) {
  std::vector<double> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::atof(item.c_str()));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    tessera::MpiEnvironment env(&argc, &argv);
    std::vector<double> sizes_mib{1, 8, 32};
    int trials = 7;
    for (int i = 1; i + 1 < argc; i += 2) {
      if (std::strcmp(argv[i], "--sizes-mib") == 0) sizes_mib = parse_sizes(argv[i + 1]);
      else if (std::strcmp(argv[i], "--trials") == 0) trials = std::atoi(argv[i + 1]);
    }
    torch::set_num_threads(1);
    tessera::MpiCommunicator comm(env);
    tessera::MpiComm raw(env.dup_world());
    MPI_Comm world = raw.get();
    Compute compute;

    if (env.rank() == 0) {
      std::printf("ranks: %d, torch threads: 1\n\n", env.size());
      std::printf("| MiB | allreduce R ms | compute C ms | serial ms | thread ms | iallreduce ms "
                  "| ipoll ms | overlap thread | overlap iallreduce | overlap ipoll |\n");
      std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
    }
    for (double mib : sizes_mib) {
      const int64_t n = static_cast<int64_t>(mib * 1024 * 1024 / 4);
      torch::Tensor buf = torch::ones({n});
      // R: blocking allreduce.
      std::vector<double> rs;
      for (int t = 0; t < trials; ++t) {
        TESSERA_CHECK_MPI(MPI_Barrier(world));
        auto t0 = Clock::now();
        comm.allreduce(buf, tessera::ReduceOp::sum);
        rs.push_back(slowest(world, seconds_since(t0)));
      }
      const double r = median(rs);
      // Calibrate compute to ~R (same iteration count on every rank: rank 0 decides).
      auto t0 = Clock::now();
      compute.run(20);
      double per_iter = seconds_since(t0) / 20;
      int iters = std::max(1, static_cast<int>(r / per_iter));
      TESSERA_CHECK_MPI(MPI_Bcast(&iters, 1, MPI_INT, 0, world));
      std::vector<double> cs;
      for (int t = 0; t < trials; ++t) {
        auto c0 = Clock::now();
        compute.run(iters);
        cs.push_back(slowest(world, seconds_since(c0)));
      }
      const double c = median(cs);

      std::function<void()> methods[4] = {
          [&] {
            compute.run(iters);
            comm.allreduce(buf, tessera::ReduceOp::sum);
          },
          [&] {
            auto work = comm.allreduce_async(buf, tessera::ReduceOp::sum);
            compute.run(iters);
            work->wait();
          },
          [&] {
            MPI_Request req;
            TESSERA_CHECK_MPI(MPI_Iallreduce(MPI_IN_PLACE, buf.data_ptr(), static_cast<int>(n),
                                             MPI_FLOAT, MPI_SUM, world, &req));
            compute.run(iters);
            TESSERA_CHECK_MPI(MPI_Wait(&req, MPI_STATUS_IGNORE));
          },
          [&] {
            MPI_Request req;
            TESSERA_CHECK_MPI(MPI_Iallreduce(MPI_IN_PLACE, buf.data_ptr(), static_cast<int>(n),
                                             MPI_FLOAT, MPI_SUM, world, &req));
            const int pieces = 16;
            int flag = 0;
            for (int p = 0; p < pieces; ++p) {
              compute.run(std::max(1, iters / pieces));
              if (!flag) TESSERA_CHECK_MPI(MPI_Test(&req, &flag, MPI_STATUS_IGNORE));
            }
            TESSERA_CHECK_MPI(MPI_Wait(&req, MPI_STATUS_IGNORE));
          }};
      std::vector<double> times[4];
      for (int t = 0; t < trials; ++t) {
        for (int m = 0; m < 4; ++m) {  // interleaved: drift on a shared machine hits all alike
          TESSERA_CHECK_MPI(MPI_Barrier(world));
          auto m0 = Clock::now();
          methods[m]();
          times[m].push_back(slowest(world, seconds_since(m0)));
        }
      }
      double med[4];
      for (int m = 0; m < 4; ++m) med[m] = median(times[m]);
      const double hideable = std::min(c, r);
      auto overlap = [&](int m) { return (med[0] - med[m]) / hideable; };
      if (env.rank() == 0) {
        std::printf("| %g | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", mib,
                    r * 1e3, c * 1e3, med[0] * 1e3, med[1] * 1e3, med[2] * 1e3, med[3] * 1e3,
                    overlap(1), overlap(2), overlap(3));
        std::fflush(stdout);
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_comm_async_overlap: %s\n", e.what());
    tessera::mpi_abort_world(1, e.what());
  }
}
