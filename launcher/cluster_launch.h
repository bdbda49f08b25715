// Planning `tessera launch`: which launcher starts the ranks and with which argv.
//
// plan_launch() turns the config's `cluster` section, the command-line flags and the place it
// runs in (JobEnvironment) into a LaunchPlan: the argv to exec, environment variables to set
// before the exec, and notes that say what was decided and why. It is pure (no process state,
// no I/O except through LaunchRequest::read_file) so tests can check every decision.
//
//   outside any job      mpirun -np R [--host/--hostfile] [--map-by ppr:K:node] --bind-to B
//                        -x OMP_NUM_THREADS=T -x ENV... [--mca ..._if_include NET]
//                        --mca oob_tcp_keepalive_* (a lost host ends the job in seconds)
//                        [--allow-run-as-root] TESSERA train CONFIG --set ... EXTRA
//                        (cluster.launcher=srun: srun --mpi=pmix creates its own allocation)
//   in a Slurm allocation (SLURM_JOB_ID): mpirun without hosts or -np (it reads the allocation),
//                        or srun --mpi=pmix when cluster.launcher=srun
//   in an MPI job already (OMPI_COMM_WORLD_SIZE, or PMIX_RANK under srun): TESSERA train
//                        directly, once per rank
//
// Errors (a bad host list, a multi-node request without hosts outside Slurm, an unreadable
// hostfile) throw tessera::Error naming the key or flag. Thread-safe (no shared state).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"
#include "launcher/cluster_hosts.h"

namespace tessera {

// Where the launcher runs, from the environment.
struct JobEnvironment {
  bool in_mpi = false;  // a rank of an MPI job already (mpirun, or srun --mpi=pmix)
  int mpi_rank = 0;
  int mpi_size = 1;
  bool in_slurm = false;  // inside a Slurm allocation (sbatch script, salloc shell, step)
  std::string slurm_job_id;
  int slurm_ntasks = 0;  // SLURM_NTASKS; 0 = not given
  int slurm_nodes = 0;   // SLURM_JOB_NUM_NODES; 0 = not given
};

// `getenv` returns nullptr for unset variables (injectable for tests).
JobEnvironment detect_job_environment(const std::function<const char*(const char*)>& getenv);
// From this process's environment.
JobEnvironment detect_job_environment();

// OpenMPI's out-of-band TCP keepalive: with these, mpirun notices a lost host ~7-10 s after its
// link goes down (default: many minutes). Values in seconds / probes.
struct KeepaliveSettings {
  int time_s = 5;
  int interval_s = 2;
  int probes = 3;
};

struct LaunchRequest {
  std::string config_path;               // passed to `tessera train` as given
  std::vector<std::string> overrides;    // --set key=value, passed through
  std::vector<std::string> train_args;   // after `--` (e.g. --resume auto), passed through
  int np = 0;                            // --np; 0 = cluster.nodes * cluster.ranks_per_node
  std::string hostfile;                  // --hostfile; wins over cluster.hostfile / hosts
  std::string hosts;                     // --host h1:2,h2:2; wins over the config
  std::string tessera_exe;               // absolute path of the tessera binary
  bool run_as_root = false;              // add --allow-run-as-root
  KeepaliveSettings keepalive;
  // Reads a hostfile (to count its hosts); throws on failure. Default: the file system.
  std::function<std::string(const std::string&)> read_file;
};

enum class LaunchMode { mpirun, srun, direct };
const char* to_string(LaunchMode mode);

struct LaunchPlan {
  LaunchMode mode = LaunchMode::mpirun;
  std::vector<std::string> argv;                            // argv[0] is looked up in PATH
  std::vector<std::pair<std::string, std::string>> env;    // set before exec
  std::vector<std::string> notes;                           // what was decided, for the user
  int ranks = 0;  // total ranks; 0 = taken from the Slurm allocation

  // `env A=1 B=2 argv...` (or just argv), shell-quoted: runnable as printed.
  std::string command_line() const;
};

// `TESSERA train CONFIG --set k=v ... EXTRA...`
std::vector<std::string> train_argv(const LaunchRequest& req);

LaunchPlan plan_launch(const Config& cfg, const LaunchRequest& req, const JobEnvironment& where);

}  // namespace tessera
