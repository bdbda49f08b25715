#include "launcher/distributed.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "comm/make_communicator.h"
#include "comm/mpi_environment.h"
#include "common/log.h"

namespace tessera::cli {

void run_distributed(const Config& cfg, const std::function<void(Communicator&)>& body) {
  // CPU ranks share cores with their communication thread: let waiting MPI calls yield instead
  // of spinning (measured in docs/PERFORMANCE.md, section 2). A value set by the user wins.
  setenv("OMPI_MCA_mpi_yield_when_idle", "1", /*overwrite=*/0);
  std::exception_ptr failure;
  {
    MpiEnvironment env;
    LogSetup log;
    log.rank = env.rank();
    log.size = env.size();
    log.level = cfg.logging.level;
    log.all_ranks = cfg.logging.all_ranks;
    init_logging(log);
    try {
      auto comm = make_communicator(cfg.dist, env, cfg.train.device == "cuda");
      body(*comm);
    } catch (const std::exception& e) {
      if (env.size() > 1) {
        const auto* ce = dynamic_cast<const ConfigError*>(&e);
        const std::string what = ce ? ce->message() : std::string(e.what());
        std::fprintf(stderr, "[%d/%d] tessera: error: %s\n", env.rank(), env.size(), what.c_str());
        std::fflush(stderr);
        env.abort(1, "rank " + std::to_string(env.rank()) + " failed; aborting the job");
      }
      failure = std::current_exception();  // one process: finalise MPI, then main reports it
    }
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace tessera::cli
