// plan_launch(): the mpirun / srun / direct command for every place `tessera launch` runs in.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "launcher/cluster_launch.h"
#include "launcher/cluster_shell.h"

namespace tessera {
namespace {

using Argv = std::vector<std::string>;

const Argv kKeepalive = {"--mca", "oob_tcp_keepalive_time",  "5", "--mca",
                         "oob_tcp_keepalive_intvl", "2", "--mca", "oob_tcp_keepalive_probes",
                         "3"};

Argv concat(std::initializer_list<Argv> parts) {
  Argv out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

LaunchRequest request() {
  LaunchRequest r;
  r.config_path = "configs/ci/roads.yaml";
  r.tessera_exe = "/opt/tessera/bin/tessera";
  r.read_file = [](const std::string& p) -> std::string {
    if (p == "hosts.txt") return "# cluster\nnodeA slots=2\n\nnodeB slots=2 max_slots=4\nnodeC\n";
    ADD_FAILURE() << "unexpected read of " << p;
    return "";
  };
  return r;
}

JobEnvironment env_of(const std::map<std::string, std::string>& vars) {
  return detect_job_environment([&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

bool has_note(const LaunchPlan& p, const std::string& text) {
  for (const auto& n : p.notes) {
    if (n.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(DetectJobEnvironment, Plain) {
  const auto e = env_of({{"HOME", "/root"}});
  EXPECT_FALSE(e.in_mpi);
  EXPECT_FALSE(e.in_slurm);
}

TEST(DetectJobEnvironment, MpirunRank) {
  const auto e = env_of({{"OMPI_COMM_WORLD_SIZE", "4"}, {"OMPI_COMM_WORLD_RANK", "3"}});
  EXPECT_TRUE(e.in_mpi);
  EXPECT_EQ(e.mpi_size, 4);
  EXPECT_EQ(e.mpi_rank, 3);
}

TEST(DetectJobEnvironment, SrunPmixTaskInsideAllocation) {
  const auto e = env_of({{"PMIX_RANK", "1"}, {"SLURM_NTASKS", "2"}, {"SLURM_JOB_ID", "17"},
                         {"SLURM_JOB_NUM_NODES", "1"}});
  EXPECT_TRUE(e.in_mpi);
  EXPECT_EQ(e.mpi_rank, 1);
  EXPECT_EQ(e.mpi_size, 2);
  EXPECT_TRUE(e.in_slurm);
  EXPECT_EQ(e.slurm_job_id, "17");
}

TEST(DetectJobEnvironment, BatchScript) {
  const auto e = env_of({{"SLURM_JOB_ID", "42"}, {"SLURM_NTASKS", "8"}, {"SLURM_JOB_NUM_NODES", "2"}});
  EXPECT_FALSE(e.in_mpi);
  EXPECT_TRUE(e.in_slurm);
  EXPECT_EQ(e.slurm_ntasks, 8);
  EXPECT_EQ(e.slurm_nodes, 2);
}

TEST(HostList, ParsesSlotsAndRejectsGarbage) {
  auto h = parse_host_list("a:2,b,c:16", "--host");
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].host, "a");
  EXPECT_EQ(h[0].slots, 2);
  EXPECT_EQ(h[1].slots, 0);
  EXPECT_EQ(h[2].slots, 16);
  for (const char* bad : {"", "a,,b", "a:0", "a:x", ":2", "a b", "a:2:3"}) {
    EXPECT_THROW(parse_host_list(bad, "--host"), Error) << bad;
  }
  try {
    parse_host_list("a:x", "cluster.hosts");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("cluster.hosts"), std::string::npos) << e.message();
  }
}

TEST(HostFile, ParsesOpenMpiSyntax) {
  auto h = parse_hostfile("# c\nn1 slots=4\n  n2   # two\n\nn3 max_slots=8 slots=1\n", "hf");
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].host, "n1");
  EXPECT_EQ(h[0].slots, 4);
  EXPECT_EQ(h[1].host, "n2");
  EXPECT_EQ(h[1].slots, 0);
  EXPECT_EQ(h[2].slots, 1);
  EXPECT_THROW(parse_hostfile("# only a comment\n", "hf"), Error);
  try {
    parse_hostfile("n1\nn2 cpus=3\n", "my.hosts");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("my.hosts:2"), std::string::npos) << e.message();
  }
}

TEST(PlanLaunch, LocalDefaultsExactArgv) {
  Config cfg;  // nodes 1, ranks_per_node 2, bind none, threads 1
  auto req = request();
  req.overrides = {"train.max_steps=5", "experiment.name=x y"};
  req.train_args = {"--resume", "auto"};
  req.run_as_root = true;
  const auto plan = plan_launch(cfg, req, JobEnvironment{});
  EXPECT_EQ(plan.mode, LaunchMode::mpirun);
  EXPECT_EQ(plan.ranks, 2);
  EXPECT_TRUE(plan.env.empty());
  const Argv expected = concat({{"mpirun", "-np", "2", "--bind-to", "none", "-x", "OMP_NUM_THREADS=1"},
                                kKeepalive,
                                {"--allow-run-as-root", "/opt/tessera/bin/tessera", "train",
                                 "configs/ci/roads.yaml", "--set", "train.max_steps=5", "--set",
                                 "experiment.name=x y", "--resume", "auto"}});
  EXPECT_EQ(plan.argv, expected);
  EXPECT_NE(plan.command_line().find("'experiment.name=x y'"), std::string::npos);
  EXPECT_TRUE(has_note(plan, "this machine"));
}

TEST(PlanLaunch, NpOverridesAndNoRootFlagForUsers) {
  Config cfg;
  auto req = request();
  req.np = 5;
  const auto plan = plan_launch(cfg, req, JobEnvironment{});
  EXPECT_EQ(plan.ranks, 5);
  EXPECT_EQ(Argv(plan.argv.begin(), plan.argv.begin() + 3), (Argv{"mpirun", "-np", "5"}));
  for (const auto& a : plan.argv) EXPECT_NE(a, "--allow-run-as-root");
}

TEST(PlanLaunch, HostListSetsNodesAndMapsPerNode) {
  Config cfg;
  cfg.cluster.ranks_per_node = 1;
  auto req = request();
  req.hosts = "ns1:1,ns2:1";
  const auto plan = plan_launch(cfg, req, JobEnvironment{});
  EXPECT_EQ(plan.ranks, 2);
  const Argv head = {"mpirun", "-np", "2", "--host", "ns1:1,ns2:1", "--map-by", "ppr:1:node",
                     "--bind-to", "none"};
  EXPECT_EQ(Argv(plan.argv.begin(), plan.argv.begin() + head.size()), head);
  EXPECT_TRUE(has_note(plan, "names 2 host(s)"));
}

TEST(PlanLaunch, HostfileCountsHostsAndFlagWinsOverConfig) {
  Config cfg;
  cfg.cluster.hosts = {"ignored1", "ignored2"};
  cfg.train.threads_per_rank = 2;
  cfg.cluster.bind = "core";
  auto req = request();
  req.hostfile = "hosts.txt";
  const auto plan = plan_launch(cfg, req, JobEnvironment{});
  EXPECT_EQ(plan.ranks, 6);  // 3 hosts x 2 ranks
  const Argv head = {"mpirun",    "-np",    "6",         "--hostfile", "hosts.txt",
                     "--map-by",  "ppr:2:node:PE=2",     "--bind-to",  "core",
                     "-x",        "OMP_NUM_THREADS=2"};
  EXPECT_EQ(Argv(plan.argv.begin(), plan.argv.begin() + head.size()), head);
}

TEST(PlanLaunch, BindCoreOnOneNodeUsesSlotPe) {
  Config cfg;
  cfg.cluster.bind = "core";
  cfg.cluster.cpus_per_task = 4;
  const auto plan = plan_launch(cfg, request(), JobEnvironment{});
  const Argv head = {"mpirun", "-np", "2", "--map-by", "slot:PE=4", "--bind-to", "core"};
  EXPECT_EQ(Argv(plan.argv.begin(), plan.argv.begin() + head.size()), head);
}

TEST(PlanLaunch, NetworkAndEnvironment) {
  Config cfg;
  cfg.cluster.tcp_interface = "10.200.0.0/24";
  cfg.cluster.env = {"NCCL_DEBUG=INFO", "HOME"};
  auto plan = plan_launch(cfg, request(), JobEnvironment{});
  const std::string line = shell_join(plan.argv);
  EXPECT_NE(line.find("-x NCCL_DEBUG=INFO -x HOME --mca oob_tcp_if_include 10.200.0.0/24 --mca "
                      "btl_tcp_if_include 10.200.0.0/24 --mca oob_tcp_keepalive_time 5"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.find("NCCL_SOCKET_IFNAME"), std::string::npos);
  cfg.cluster.tcp_interface = "ib0";
  plan = plan_launch(cfg, request(), JobEnvironment{});
  EXPECT_NE(shell_join(plan.argv).find("-x NCCL_SOCKET_IFNAME=ib0"), std::string::npos);
}

TEST(PlanLaunch, MultiNodeWithoutHostsOutsideSlurmIsAnError) {
  Config cfg;
  cfg.cluster.nodes = 2;
  try {
    plan_launch(cfg, request(), JobEnvironment{});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("cluster.nodes=2"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("--hostfile"), std::string::npos);
  }
}

TEST(PlanLaunch, CudaNeedsAGpuPerRank) {
  Config cfg;
  cfg.train.device = "cuda";
  cfg.cluster.gpus_per_node = 2;
  cfg.cluster.ranks_per_node = 4;
  EXPECT_THROW(plan_launch(cfg, request(), JobEnvironment{}), Error);
  cfg.cluster.ranks_per_node = 2;
  EXPECT_EQ(plan_launch(cfg, request(), JobEnvironment{}).ranks, 2);
}

TEST(PlanLaunch, InsideSlurmAllocationUsesIt) {
  Config cfg;
  cfg.cluster.nodes = 4;  // fine: the allocation has the nodes
  cfg.cluster.hosts = {"a", "b"};
  JobEnvironment slurm;
  slurm.in_slurm = true;
  slurm.slurm_job_id = "77";
  slurm.slurm_ntasks = 8;
  slurm.slurm_nodes = 4;
  const auto plan = plan_launch(cfg, request(), slurm);
  EXPECT_EQ(plan.ranks, 0);
  const Argv head = {"mpirun", "--bind-to", "none", "-x", "OMP_NUM_THREADS=1"};
  EXPECT_EQ(Argv(plan.argv.begin(), plan.argv.begin() + head.size()), head);
  EXPECT_TRUE(has_note(plan, "cluster.hosts ignored"));
  EXPECT_TRUE(has_note(plan, "allocation 77 (8 task(s) on 4 node(s))"));
}

TEST(PlanLaunch, InsideMpiRunsTrainDirectly) {
  Config cfg;
  cfg.train.threads_per_rank = 3;
  cfg.cluster.env = {"A=1", "B"};
  JobEnvironment mpi;
  mpi.in_mpi = true;
  mpi.mpi_size = 2;
  auto req = request();
  req.np = 7;
  req.train_args = {"--resume", "auto"};
  const auto plan = plan_launch(cfg, req, mpi);
  EXPECT_EQ(plan.mode, LaunchMode::direct);
  EXPECT_EQ(plan.argv, (Argv{"/opt/tessera/bin/tessera", "train", "configs/ci/roads.yaml",
                             "--resume", "auto"}));
  using Env = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(plan.env, (Env{{"OMP_NUM_THREADS", "3"}, {"A", "1"}}));
  EXPECT_TRUE(has_note(plan, "--np/--hostfile/--host ignored"));
  EXPECT_EQ(plan.command_line().rfind("env OMP_NUM_THREADS=3 A=1 /opt/tessera/bin/tessera", 0), 0u);
}

TEST(PlanLaunch, SrunOutsideAndInsideAllocation) {
  Config cfg;
  cfg.cluster.launcher = "srun";
  cfg.cluster.nodes = 2;
  cfg.cluster.ranks_per_node = 4;
  cfg.cluster.gpus_per_node = 4;
  cfg.cluster.partition = "gpu";
  cfg.cluster.bind = "socket";
  cfg.cluster.tcp_interface = "10.0.0.0/8";
  auto plan = plan_launch(cfg, request(), JobEnvironment{});
  EXPECT_EQ(plan.mode, LaunchMode::srun);
  const Argv head = {"srun", "--mpi=pmix", "--nodes=2", "--ntasks-per-node=4",
                     "--gpus-per-node=4", "--partition=gpu", "--time=01:00:00", "--ntasks=8",
                     "--cpus-per-task=1", "--cpu-bind=sockets", "--kill-on-bad-exit=1",
                     "/opt/tessera/bin/tessera"};
  EXPECT_EQ(Argv(plan.argv.begin(), plan.argv.begin() + head.size()), head);
  using Env = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(plan.env, (Env{{"OMP_NUM_THREADS", "1"}, {"OMPI_MCA_btl_tcp_if_include", "10.0.0.0/8"}}));

  JobEnvironment slurm;
  slurm.in_slurm = true;
  slurm.slurm_job_id = "5";
  plan = plan_launch(cfg, request(), slurm);
  const Argv inside = {"srun", "--mpi=pmix", "--cpus-per-task=1", "--cpu-bind=sockets",
                       "--kill-on-bad-exit=1", "/opt/tessera/bin/tessera"};
  EXPECT_EQ(Argv(plan.argv.begin(), plan.argv.begin() + inside.size()), inside);
}

TEST(ShellQuote, RoundTripsThroughSh) {
  EXPECT_EQ(shell_quote("plain-word_1.0/x:y=z,@%+"), "plain-word_1.0/x:y=z,@%+");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote("$HOME"), "'$HOME'");
  EXPECT_EQ(shell_join({"a", "b c", ""}), "a 'b c' ''");
}

}  // namespace
}  // namespace tessera
