// Failure-path program for watchdog_hang_* and comm_killed_rank_* (run under mpirun by
// watchdog_expect_abort.sh, which checks the exit status and the log):
//   watchdog_hang_main hang <culprit> <timeout_s>: every rank trains a fake loop with the
//       watchdog on; at step 2 the culprit blocks forever in "forward" while the others wait in
//       "allreduce #2". The watchdog must end the job and name the culprit.
//   watchdog_hang_main kill <culprit>: no watchdog; at step 2 the culprit raise(SIGKILL)s while
//       the others wait in an allreduce. mpirun must end the job.
// Without the failure the program finishes 5 steps and exits 0 (so the test fails).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "comm/mpi_communicator.h"
#include "comm/mpi_environment.h"
#include "comm/watchdog.h"

int main(int argc, char** argv) {
  tessera::MpiEnvironment env(&argc, &argv);
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s hang|kill <culprit> [timeout_s]\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const int culprit = std::atoi(argv[2]);
  const double timeout = argc > 3 ? std::atof(argv[3]) : 2.0;
  tessera::MpiCommunicator comm(env);
  comm.barrier();  // every rank is up before the clock starts (slow starts on a loaded machine)
  std::unique_ptr<tessera::Watchdog> dog;
  if (mode == "hang") dog = std::make_unique<tessera::Watchdog>(comm, timeout);

  for (int step = 0; step < 5; ++step) {
    if (dog) dog->set_step(step);
    {
      std::unique_ptr<tessera::Watchdog::Scope> s;
      if (dog) s = std::make_unique<tessera::Watchdog::Scope>(dog->enter(tessera::Phase::forward));
      if (step == 2 && comm.rank() == culprit) {
        std::fprintf(stderr, "rank %d: deliberately %s at step %d\n", culprit,
                     mode == "hang" ? "hanging" : "killing itself", step);
        std::fflush(stderr);
        if (mode == "kill") raise(SIGKILL);
        for (;;) pause();  // a deliberate hang: only a signal (MPI_Abort's kill) ends it
      }
    }
    std::unique_ptr<tessera::Watchdog::Scope> s;
    if (dog) {
      s = std::make_unique<tessera::Watchdog::Scope>(dog->enter(tessera::Phase::allreduce, step));
    }
    auto t = torch::ones({16});
    comm.allreduce(t, tessera::ReduceOp::sum);
  }
  std::printf("rank %d: finished all steps\n", comm.rank());
  return 0;
}
