#include "launcher/cluster_submit.h"

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "launcher/cluster_hosts.h"
#include "launcher/cluster_process.h"
#include "launcher/cluster_sbatch.h"
#include "launcher/cluster_status.h"

namespace tessera {

namespace fs = std::filesystem;

std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

std::string local_time_text() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

void refuse_active_job(const std::string& dir) {
  const fs::path id_file = fs::path(dir) / kSlurmJobIdFile;
  if (!fs::exists(id_file)) return;
  const std::string id = first_line(read_text_file(id_file.string(), "job id file"));
  if (id.empty()) return;
  const CommandResult r = run_command({"scontrol", "show", "job", "-o", id}, 30.0);
  if (!r.ok()) return;  // unknown (purged) or Slurm unreachable: sbatch will tell
  const SlurmJob job = parse_scontrol_job(r.out);
  for (const char* active : {"PENDING", "RUNNING", "REQUEUED", "SUSPENDED", "CONFIGURING",
                             "COMPLETING", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING"}) {
    TESSERA_CHECK(!job.known || job.state != active,
                  "{} already has Slurm job {} in state {}; wait for it, `scancel {}`, or "
                  "choose another experiment.name",
                  dir, id, job.state, id);
  }
}

void write_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    TESSERA_CHECK(out.good(), "cannot write {}", tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  TESSERA_CHECK(!ec, "cannot rename {} to {}: {}", tmp, path, ec.message());
}

std::string sbatch_submit(const std::string& script_path) {
  const CommandResult r = run_command({"sbatch", "--parsable", script_path}, 120.0);
  TESSERA_CHECK(!r.timed_out, "sbatch {} did not answer within 120 s", script_path);
  TESSERA_CHECK(r.ok(), "sbatch {} failed (exit {}): {}", script_path, r.exit_code,
                first_line(r.err.empty() ? r.out : r.err));
  // --parsable: "jobid" or "jobid;cluster".
  std::string id = first_line(r.out);
  id = id.substr(0, id.find(';'));
  TESSERA_CHECK(!id.empty() && id.find_first_not_of("0123456789") == std::string::npos,
                "sbatch printed \"{}\" where a job id was expected", first_line(r.out));
  return id;
}

}  // namespace tessera
