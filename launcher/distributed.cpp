#include "launcher/distributed.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

#include "comm/make_communicator.h"
#include "comm/mpi_environment.h"
#include "common/log.h"

namespace tessera::cli {

void run_distributed(const Config& cfg, const std::function<void(Communicator&)>& body) {
  // CPU ranks share cores with their communication thread: let waiting MPI calls yield instead
  // of spinning (measured in docs/PERFORMANCE.md, section 2). A value set by the user wins.
  setenv("OMPI_MCA_mpi_yield_when_idle", "1", /*overwrite=*/0);
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
    if (env.size() <= 1) throw;
    const std::string what = dynamic_cast<const ConfigError*>(&e)
                                 ? static_cast<const ConfigError&>(e).message()
                                 : std::string(e.what());
    std::fprintf(stderr, "[%d/%d] tessera: error: %s\n", env.rank(), env.size(), what.c_str());
    std::fflush(stderr);
    env.abort(1, "rank " + std::to_string(env.rank()) + " failed; aborting the job");
  }
}

}  // namespace tessera::cli
