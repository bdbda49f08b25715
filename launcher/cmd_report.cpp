// tessera report RUN_DIR [RUN_DIR ...] [--out FILE]: one self-contained HTML page of the runs
// (docs/report.md): config, curves, throughput and time per phase, evaluation table, validation
// images; with several runs also the curves overlaid and the config keys that differ. Reads
// only files (launcher/report_data.h), renders with launcher/report_html.h and writes the page
// atomically (a temporary file renamed over --out, default <first RUN_DIR>/report.html).
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>

#include "checkpoints/file_io.h"
#include "common/error.h"
#include "common/progress.h"
#include "launcher/commands.h"
#include "launcher/report_data.h"
#include "launcher/report_html.h"

namespace tessera::cli {

namespace {

struct ReportArgs {
  std::vector<std::string> run_dirs;
  std::string out;
};

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

void run_report(const ReportArgs& args) {
  namespace fs = std::filesystem;
  const std::string out =
      args.out.empty() ? (fs::path(args.run_dirs.front()) / "report.html").string() : args.out;
  // Before reading any run (an explicit --out; the default lies in the first run directory,
  // which read_run() checks).
  const fs::path parent = fs::absolute(out).parent_path();
  TESSERA_CHECK(args.out.empty() || fs::is_directory(parent),
                "--out {}: directory {} does not exist", out, parent.string());
  std::vector<RunReport> runs;
  const auto n = static_cast<int64_t>(args.run_dirs.size());
  Progress progress("report: reading runs", n);
  for (const std::string& dir : args.run_dirs) {
    if (n > 1) {
      spdlog::info("report: reading run {}/{}: {}", runs.size() + 1, n, dir);
    }
    runs.push_back(read_run(dir));
    progress.update(static_cast<int64_t>(runs.size()));
  }
  progress.finish();
  const std::string html = render_report(runs, utc_now());
  checkpoints::write_file_atomic(out, html);
  size_t images = 0;
  for (const RunReport& r : runs) images += r.images.size();
  spdlog::info("report: {} ({} run{}, {} validation image{}, {} KiB)", out, runs.size(),
               runs.size() == 1 ? "" : "s", images, images == 1 ? "" : "s", html.size() / 1024);
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Write one self-contained HTML page of one or more runs: config, loss and metric curves, "
      "throughput, time per phase, evaluation table, validation images; several runs are "
      "compared (curves overlaid, config keys that differ)");
  cmd->add_option("RUN_DIR", args->run_dirs, "Run directories (runs/<name>)")->required();
  cmd->add_option("--out", args->out,
                  "The HTML file to write (default: <first RUN_DIR>/report.html)");
  cmd->callback([args] { run_report(*args); });
}

}  // namespace tessera::cli
