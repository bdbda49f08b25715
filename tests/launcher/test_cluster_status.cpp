// Parsing scontrol / squeue / metrics.jsonl and the `tessera status` report. The scontrol and
// squeue texts are verbatim output of Slurm 22.05 on the test machine.
#include <gtest/gtest.h>

#include <string>

#include "launcher/cluster_status.h"

namespace tessera {
namespace {

const char* kScontrolOneLine =
    "JobId=1 JobName=j.sh UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901759 "
    "Nice=0 Account=(null) QOS=(null) JobState=RUNNING Reason=None Dependency=(null) Requeue=1 "
    "Restarts=1 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:02:45 TimeLimit=UNLIMITED "
    "TimeMin=N/A SubmitTime=2026-11-29T08:30:25 EligibleTime=2026-11-29T08:30:31 "
    "AccrueTime=2026-11-29T08:30:31 StartTime=2026-11-29T08:30:31 EndTime=Unknown Deadline=N/A "
    "SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-29T08:30:31 Scheduler=Main "
    "Partition=debug AllocNode:Sid=localhost:1370 ReqNodeList=(null) ExcNodeList=(null) "
    "NodeList=localhost BatchHost=localhost NumNodes=1 NumCPUs=2 NumTasks=2 CPUs/Task=1 "
    "ReqB:S:C:T=0:0:*:* TRES=cpu=2,node=1,billing=2 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* "
    "CoreSpec=* MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) "
    "DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) "
    "Command=/tmp/my dir/j.sh WorkDir=/tmp/cl StdErr=/tmp/cl/j.out StdIn=/dev/null "
    "StdOut=/tmp/cl/j.out Power= \n";

const char* kScontrolMultiLine =
    "JobId=2 JobName=roads\n"
    "   UserId=root(0) GroupId=root(0) MCS_label=N/A\n"
    "   JobState=PENDING Reason=BeginTime Dependency=(null)\n"
    "   Requeue=1 Restarts=2 BatchFlag=1 Reboot=0 ExitCode=0:0\n"
    "   RunTime=00:00:00 TimeLimit=01:00:00 TimeMin=N/A\n"
    "   SubmitTime=2026-11-29T08:29:02 EligibleTime=2026-11-29T08:31:03\n"
    "   NodeList=(null)\n";

TEST(ScontrolFields, OneLineRecord) {
  const auto f = parse_scontrol_fields(kScontrolOneLine);
  EXPECT_EQ(f.at("JobId"), "1");
  EXPECT_EQ(f.at("TRES"), "cpu=2,node=1,billing=2");
  EXPECT_EQ(f.at("AllocNode:Sid"), "localhost:1370");
  EXPECT_EQ(f.at("CPUs/Task"), "1");
  EXPECT_EQ(f.at("Command"), "/tmp/my dir/j.sh");  // a value with a space
  EXPECT_EQ(f.at("Power"), "");
  const SlurmJob j = parse_scontrol_job(kScontrolOneLine);
  EXPECT_TRUE(j.known);
  EXPECT_EQ(j.id, "1");
  EXPECT_EQ(j.state, "RUNNING");
  EXPECT_EQ(j.reason, "None");
  EXPECT_EQ(j.restarts, 1);
  EXPECT_EQ(j.run_time, "00:02:45");
  EXPECT_EQ(j.time_limit, "UNLIMITED");
  EXPECT_EQ(j.nodes, "localhost");
  EXPECT_EQ(j.exit_code, "0:0");
}

TEST(ScontrolFields, MultiLineRecordAndUnknownJob) {
  const SlurmJob j = parse_scontrol_job(kScontrolMultiLine);
  EXPECT_TRUE(j.known);
  EXPECT_EQ(j.state, "PENDING");
  EXPECT_EQ(j.reason, "BeginTime");
  EXPECT_EQ(j.restarts, 2);
  EXPECT_EQ(j.eligible_time, "2026-11-29T08:31:03");
  EXPECT_FALSE(parse_scontrol_job("slurm_load_jobs error: Invalid job id specified\n").known);
  EXPECT_FALSE(parse_scontrol_job("").known);
}

TEST(ScontrolFields, ArrayTaskIsNamedAsUsersSubmitIt) {
  // A task of `tessera sweep --submit`'s array: its own JobId, and ArrayJobId_ArrayTaskId.
  const SlurmJob j = parse_scontrol_job(
      "JobId=12 ArrayJobId=10 ArrayTaskId=2 JobName=g-sweep JobState=RUNNING Restarts=0\n");
  EXPECT_EQ(j.id, "12");
  EXPECT_EQ(j.array_task, "10_2");
  StatusReport r;
  r.run_dir = "runs/g-lr_0.1";
  r.job_id = "10_2";
  r.job = j;
  EXPECT_NE(format_status(r).find("slurm job:  10_2 (job 12)  state RUNNING\n"), std::string::npos)
      << format_status(r);
  EXPECT_TRUE(parse_scontrol_job(kScontrolOneLine).array_task.empty());  // a plain job
}

TEST(Squeue, RunningPendingAndEmpty) {
  SlurmJob j = parse_squeue_line("1|RUNNING|2:45|UNLIMITED|1|localhost\n");
  EXPECT_TRUE(j.known);
  EXPECT_EQ(j.state, "RUNNING");
  EXPECT_EQ(j.nodes, "localhost");
  EXPECT_EQ(j.reason, "");
  j = parse_squeue_line("7|PENDING|0:00|1:00:00|1|(BeginTime)\n");
  EXPECT_EQ(j.state, "PENDING");
  EXPECT_EQ(j.reason, "BeginTime");
  EXPECT_FALSE(parse_squeue_line("").known);
  EXPECT_FALSE(parse_squeue_line("garbage").known);
}

TEST(Metrics, LastTrainingAndValidationRecords) {
  const std::string text =
      R"({"step":1,"epoch":0,"loss":0.9,"lr":0.001})" "\n"
      R"({"step":2,"epoch":0,"loss":0.8,"lr":0.001})" "\n"
      R"({"step":2,"epoch":0,"split":"val","val/dice":0.25,"val/iou":0.125,"seconds":0.1})" "\n"
      R"({"step":3,"epoch":1,"loss":0.7,"lr":0.001})" "\n"
      R"({"step":4,"epo)";  // torn last line of a killed run
  const TrainingProgress p = parse_metrics_jsonl(text);
  EXPECT_TRUE(p.found);
  EXPECT_EQ(p.step, 3);
  EXPECT_EQ(p.epoch, 1);
  EXPECT_DOUBLE_EQ(p.loss, 0.7);
  ASSERT_TRUE(p.val_step.has_value());
  EXPECT_EQ(*p.val_step, 2);
  EXPECT_DOUBLE_EQ(p.val.at("val/dice"), 0.25);
  EXPECT_EQ(p.bad_lines, 1);
  EXPECT_FALSE(parse_metrics_jsonl("").found);
}

TEST(FormatStatus, RunningJobWithProgress) {
  StatusReport r;
  r.run_dir = "runs/roads";
  r.job_id = "1";
  r.job = parse_scontrol_job(kScontrolOneLine);
  r.metrics_present = true;
  r.progress = parse_metrics_jsonl(R"({"step":30,"epoch":2,"loss":0.5})");
  r.max_steps = 100;
  r.latest_checkpoint = "step-0000020";
  r.progress.val_step = 20;
  r.progress.val = {{"val/dice", 0.5}, {"val/dice/0", 0.9}, {"val/images", 8}, {"val/iou", 0.25}};
  const std::string s = format_status(r);
  EXPECT_NE(s.find("last val:   step 20 dice 0.5000 iou 0.2500\n"), std::string::npos) << s;
  EXPECT_NE(s.find("slurm job:  1  state RUNNING\n"), std::string::npos) << s;
  EXPECT_NE(s.find("requeued 1 time(s)"), std::string::npos) << s;
  EXPECT_NE(s.find("last step:  30 of 100 (epoch 2, loss 0.5)"), std::string::npos) << s;
  EXPECT_NE(s.find("checkpoint: step-0000020"), std::string::npos) << s;
  EXPECT_NE(s.find("ended:      no (running"), std::string::npos) << s;
  r.outcome = "finished at step 100 (epoch 7, 2 rank(s))";
  EXPECT_NE(format_status(r).find("ended:      finished at step 100"), std::string::npos);
}

TEST(FormatStatus, PendingAfterRequeueUnknownAndUnsubmitted) {
  StatusReport r;
  r.run_dir = "runs/x";
  r.job_id = "2";
  r.job = parse_scontrol_job(kScontrolMultiLine);
  std::string s = format_status(r);
  EXPECT_NE(s.find("state PENDING (reason BeginTime)"), std::string::npos) << s;
  EXPECT_NE(s.find("eligible at 2026-11-29T08:31:03"), std::string::npos) << s;
  EXPECT_NE(s.find("last step:  none (no metrics.jsonl yet)"), std::string::npos) << s;
  r.job = SlurmJob{};
  s = format_status(r);
  EXPECT_NE(s.find("no longer known to Slurm"), std::string::npos) << s;
  r.job.reset();
  r.slurm_error = "cannot run scontrol: No such file or directory";
  s = format_status(r);
  EXPECT_NE(s.find("state unknown: cannot run scontrol"), std::string::npos) << s;
  r.job_id.clear();
  s = format_status(r);
  EXPECT_NE(s.find("none recorded"), std::string::npos) << s;
}

}  // namespace
}  // namespace tessera
