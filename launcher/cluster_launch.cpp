#include "launcher/cluster_launch.h"

#include <algorithm>
#include <cstdlib>

#include "launcher/cluster_shell.h"

namespace tessera {

namespace {

int env_int(const std::function<const char*(const char*)>& getenv, const char* name) {
  const char* v = getenv(name);
  if (!v || !*v) return 0;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return end && *end == '\0' && n > 0 ? static_cast<int>(n) : 0;
}

bool looks_like_cidr(const std::string& net) {
  return net.find('/') != std::string::npos ||
         net.find_first_not_of("0123456789.") == std::string::npos;
}

// cluster.bind -> srun's --cpu-bind names.
std::string srun_cpu_bind(const std::string& bind) {
  if (bind == "core") return "cores";
  if (bind == "socket") return "sockets";
  return "none";
}

std::string join_hosts(const std::vector<HostSlots>& hosts) {
  std::string out;
  for (const auto& h : hosts) {
    if (!out.empty()) out += ',';
    out += h.host;
    if (h.slots > 0) out += ":" + std::to_string(h.slots);
  }
  return out;
}

}  // namespace

JobEnvironment detect_job_environment(const std::function<const char*(const char*)>& getenv) {
  JobEnvironment e;
  if (const char* size = getenv("OMPI_COMM_WORLD_SIZE"); size && *size) {
    e.in_mpi = true;
    e.mpi_size = std::max(1, env_int(getenv, "OMPI_COMM_WORLD_SIZE"));
    e.mpi_rank = env_int(getenv, "OMPI_COMM_WORLD_RANK");
  } else if (const char* pmix = getenv("PMIX_RANK"); pmix && *pmix) {
    e.in_mpi = true;  // a task of `srun --mpi=pmix`
    e.mpi_rank = env_int(getenv, "PMIX_RANK");
    e.mpi_size = std::max(1, env_int(getenv, "SLURM_NTASKS"));
  }
  if (const char* job = getenv("SLURM_JOB_ID"); job && *job) {
    e.in_slurm = true;
    e.slurm_job_id = job;
    e.slurm_ntasks = env_int(getenv, "SLURM_NTASKS");
    e.slurm_nodes = env_int(getenv, "SLURM_JOB_NUM_NODES");
  }
  return e;
}

JobEnvironment detect_job_environment() {
  return detect_job_environment([](const char* name) { return std::getenv(name); });
}

const char* to_string(LaunchMode mode) {
  switch (mode) {
    case LaunchMode::mpirun: return "mpirun";
    case LaunchMode::srun: return "srun";
    case LaunchMode::direct: return "direct";
  }
  return "?";
}

std::string LaunchPlan::command_line() const {
  return shell_env_command(env, argv, "cluster.env");
}

std::vector<std::string> train_argv(const LaunchRequest& req) {
  std::vector<std::string> argv = {req.tessera_exe, "train", req.config_path};
  for (const auto& o : req.overrides) {
    argv.push_back("--set");
    argv.push_back(o);
  }
  argv.insert(argv.end(), req.train_args.begin(), req.train_args.end());
  return argv;
}

LaunchPlan plan_launch(const Config& cfg, const LaunchRequest& req, const JobEnvironment& where) {
  const ClusterConfig& cl = cfg.cluster;
  const int threads = cfg.train.threads_per_rank;
  const int cpus = cl.cpus_per_task > 0 ? cl.cpus_per_task : threads;
  TESSERA_CHECK(req.np >= 0, "--np: expected a positive number of ranks, found {}", req.np);
  TESSERA_CHECK(cfg.train.device != "cuda" || cl.gpus_per_node == 0 ||
                    cl.ranks_per_node <= cl.gpus_per_node,
                "cluster.ranks_per_node={} but cluster.gpus_per_node={}: with train.device=cuda "
                "every rank needs a GPU of its own (its local rank picks it)",
                cl.ranks_per_node, cl.gpus_per_node);
  LaunchPlan plan;
  plan.env.emplace_back("OMP_NUM_THREADS", std::to_string(threads));

  // 1. Already a rank: run the training directly.
  if (where.in_mpi) {
    plan.mode = LaunchMode::direct;
    plan.ranks = where.mpi_size;
    plan.argv = train_argv(req);
    for (const auto& e : cl.env) {
      if (auto eq = e.find('='); eq != std::string::npos) {
        plan.env.emplace_back(e.substr(0, eq), e.substr(eq + 1));
      }
    }
    plan.notes.push_back(fmt::format(
        "already inside an MPI job (rank {} of {}): running `tessera train` directly",
        where.mpi_rank, where.mpi_size));
    if (req.np > 0 || !req.hostfile.empty() || !req.hosts.empty()) {
      plan.notes.push_back("--np/--hostfile/--host ignored: the running MPI job fixed the ranks");
    }
    return plan;
  }

  // 2. Which hosts (outside Slurm).
  std::vector<HostSlots> hosts;
  std::string hostfile;
  std::string host_source;
  if (!req.hostfile.empty()) {
    hostfile = req.hostfile;
    host_source = "--hostfile " + hostfile;
  } else if (!req.hosts.empty()) {
    hosts = parse_host_list(req.hosts, "--host");
    host_source = "--host";
  } else if (!cl.hostfile.empty()) {
    hostfile = cl.hostfile;
    host_source = "cluster.hostfile " + hostfile;
  } else if (!cl.hosts.empty()) {
    std::string joined;
    for (const auto& h : cl.hosts) joined += (joined.empty() ? "" : ",") + h;
    hosts = parse_host_list(joined, "cluster.hosts");
    host_source = "cluster.hosts";
  }
  if (where.in_slurm && (!hostfile.empty() || !hosts.empty())) {
    plan.notes.push_back(fmt::format(
        "{} ignored: inside Slurm allocation {} the ranks go to the allocation's nodes",
        host_source, where.slurm_job_id));
    hostfile.clear();
    hosts.clear();
  }
  int node_count = cl.nodes;
  if (!where.in_slurm && (!hostfile.empty() || !hosts.empty())) {
    if (!hostfile.empty()) {
      auto read = req.read_file ? req.read_file
                                : [](const std::string& p) { return read_text_file(p, "hostfile"); };
      node_count = static_cast<int>(parse_hostfile(read(hostfile), hostfile).size());
    } else {
      node_count = static_cast<int>(hosts.size());
    }
    if (node_count != cl.nodes) {
      plan.notes.push_back(fmt::format("{} names {} host(s): using {} node(s) (cluster.nodes={} "
                                       "applies to `tessera submit`)",
                                       host_source, node_count, node_count, cl.nodes));
    }
  } else if (!where.in_slurm && cl.nodes > 1 && cl.launcher == "mpirun") {
    TESSERA_THROW("cluster.nodes={} but no hosts: give cluster.hostfile, cluster.hosts, "
                  "--hostfile or --host, run inside a Slurm allocation, or use `tessera submit`",
                  cl.nodes);
  }
  const int per_node = cl.ranks_per_node;
  const int natural = node_count * per_node;
  if (where.in_slurm) {
    plan.ranks = req.np;  // 0: the allocation decides
  } else {
    plan.ranks = req.np > 0 ? req.np : natural;
  }

  // 3a. srun (cluster.launcher=srun): Slurm starts the ranks through PMIx.
  if (cl.launcher == "srun") {
    plan.mode = LaunchMode::srun;
    plan.argv = {"srun", "--mpi=pmix"};
    if (!where.in_slurm) {
      plan.argv.push_back("--nodes=" + std::to_string(cl.nodes));
      plan.argv.push_back("--ntasks-per-node=" + std::to_string(per_node));
      if (cl.gpus_per_node > 0) plan.argv.push_back("--gpus-per-node=" + std::to_string(cl.gpus_per_node));
      if (!cl.partition.empty()) plan.argv.push_back("--partition=" + cl.partition);
      if (!cl.account.empty()) plan.argv.push_back("--account=" + cl.account);
      plan.argv.push_back("--time=" + cl.time);
      plan.notes.push_back("cluster.launcher=srun outside an allocation: srun asks Slurm for one");
    } else {
      plan.notes.push_back(fmt::format("inside Slurm allocation {}: srun starts the ranks there",
                                       where.slurm_job_id));
    }
    if (plan.ranks > 0) plan.argv.push_back("--ntasks=" + std::to_string(plan.ranks));
    plan.argv.push_back("--cpus-per-task=" + std::to_string(cpus));
    plan.argv.push_back("--cpu-bind=" + srun_cpu_bind(cl.bind));
    plan.argv.push_back("--kill-on-bad-exit=1");
    for (const auto& e : cl.env) {
      if (auto eq = e.find('='); eq != std::string::npos) {
        plan.env.emplace_back(e.substr(0, eq), e.substr(eq + 1));
      }
    }
    if (!cl.tcp_interface.empty()) {
      plan.env.emplace_back("OMPI_MCA_btl_tcp_if_include", cl.tcp_interface);
      if (!looks_like_cidr(cl.tcp_interface)) {
        plan.env.emplace_back("NCCL_SOCKET_IFNAME", cl.tcp_interface);
      }
    }
    const auto train = train_argv(req);
    plan.argv.insert(plan.argv.end(), train.begin(), train.end());
    return plan;
  }

  // 3b. mpirun.
  plan.mode = LaunchMode::mpirun;
  plan.argv = {"mpirun"};
  if (plan.ranks > 0) {
    plan.argv.push_back("-np");
    plan.argv.push_back(std::to_string(plan.ranks));
  }
  if (!hostfile.empty()) {
    plan.argv.push_back("--hostfile");
    plan.argv.push_back(hostfile);
  } else if (!hosts.empty()) {
    plan.argv.push_back("--host");
    plan.argv.push_back(join_hosts(hosts));
  }
  const bool pe = cl.bind == "core" && cpus > 1;
  const std::string pe_suffix = pe ? ":PE=" + std::to_string(cpus) : "";
  if (!where.in_slurm && node_count > 1 && plan.ranks == natural) {
    plan.argv.push_back("--map-by");
    plan.argv.push_back("ppr:" + std::to_string(per_node) + ":node" + pe_suffix);
  } else if (pe) {
    plan.argv.push_back("--map-by");
    plan.argv.push_back("slot" + pe_suffix);
  }
  plan.argv.push_back("--bind-to");
  plan.argv.push_back(cl.bind);
  plan.argv.push_back("-x");
  plan.argv.push_back("OMP_NUM_THREADS=" + std::to_string(threads));
  plan.env.clear();  // -x carries OMP_NUM_THREADS to every rank
  for (const auto& e : cl.env) {
    plan.argv.push_back("-x");
    plan.argv.push_back(e);
  }
  if (!cl.tcp_interface.empty()) {
    for (const char* key : {"oob_tcp_if_include", "btl_tcp_if_include"}) {
      plan.argv.insert(plan.argv.end(), {"--mca", key, cl.tcp_interface});
    }
    if (!looks_like_cidr(cl.tcp_interface)) {
      plan.argv.push_back("-x");
      plan.argv.push_back("NCCL_SOCKET_IFNAME=" + cl.tcp_interface);
    }
  }
  plan.argv.insert(plan.argv.end(),
                   {"--mca", "oob_tcp_keepalive_time", std::to_string(req.keepalive.time_s),
                    "--mca", "oob_tcp_keepalive_intvl", std::to_string(req.keepalive.interval_s),
                    "--mca", "oob_tcp_keepalive_probes", std::to_string(req.keepalive.probes)});
  if (req.run_as_root) plan.argv.push_back("--allow-run-as-root");
  const auto train = train_argv(req);
  plan.argv.insert(plan.argv.end(), train.begin(), train.end());
  if (where.in_slurm) {
    plan.notes.push_back(fmt::format(
        "inside Slurm allocation {} ({} task(s) on {} node(s)): mpirun takes the nodes and slots "
        "from the allocation",
        where.slurm_job_id, where.slurm_ntasks, where.slurm_nodes));
  } else {
    plan.notes.push_back(fmt::format("{} rank(s) on {} node(s){}", plan.ranks, node_count,
                                     host_source.empty() ? " (this machine)" : " from " + host_source));
  }
  return plan;
}

}  // namespace tessera
