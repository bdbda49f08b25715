#include "launcher/export_formats.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "checkpoints/file_io.h"
#include "common/error.h"
#include "launcher/cluster_process.h"
#include "launcher/commands.h"
#include "trainer/jobs.h"

#ifndef TESSERA_DEFAULT_TOOLS_DIR
#error "launcher/CMakeLists.txt defines TESSERA_DEFAULT_TOOLS_DIR (the source's tools/reference)"
#endif

namespace tessera::cli {

namespace {

constexpr const char* kPython = "/usr/bin/python3";

// ".<name of out>.export-": the prefix of the temporary directories of exports to `out`.
std::string temp_prefix(const std::string& out) {
  return "." + std::filesystem::path(out).filename().string() + ".export-";
}

// Removes `.<name of out>.export-<pid>-*` directories whose process is gone (an export killed
// outright); those of live processes, and names that do not parse, are left alone.
void remove_stale_temp_dirs(const std::string& out) {
  const std::string prefix = temp_prefix(out);
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(checkpoints::parent_dir(out), ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || !e.is_directory()) continue;
    const std::string rest = name.substr(prefix.size());
    const size_t dash = rest.find('-');
    if (dash == 0 || dash == std::string::npos ||
        rest.find_first_not_of("0123456789") != dash || dash > 9) {
      continue;
    }
    const long pid = std::stol(rest.substr(0, dash));
    if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    spdlog::info("export: removing {}, left by export process {} that no longer runs",
                 e.path().string(), pid);
    checkpoints::remove_tree(e.path().string());
  }
}

// A fresh directory `<dir of out>/.<name of out>.export-<pid>-XXXXXX`, removed with its contents
// when the object goes (on success and on every error path).
class TempDir {
 public:
  explicit TempDir(const std::string& out) {
    remove_stale_temp_dirs(out);
    const std::string parent = checkpoints::parent_dir(out);
    std::string tmpl = parent + "/" + temp_prefix(out) + std::to_string(::getpid()) + "-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    TESSERA_CHECK(::mkdtemp(buf.data()) != nullptr,
                  "export: cannot create a temporary directory in {} (next to --out {}): {}",
                  parent, out, std::strerror(errno));
    path_ = buf.data();
  }
  ~TempDir() {
    try {
      checkpoints::remove_tree(path_);
    } catch (const std::exception& e) {
      spdlog::warn("export: could not remove the temporary directory {}: {}", path_, e.what());
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const char* format_name(ExportFormat f) {
  switch (f) {
    case ExportFormat::state_dict: return "state-dict";
    case ExportFormat::torchscript: return "torchscript";
    case ExportFormat::onnx: return "onnx";
  }
  return "?";
}

// The last `lines` lines of `text`.
std::string tail_lines(const std::string& text, int lines) {
  size_t pos = text.size();
  while (pos > 0 && (text[pos - 1] == '\n' || text[pos - 1] == ' ')) --pos;
  const size_t end = pos;
  for (int n = 0; pos > 0; --pos) {
    if (text[pos - 1] == '\n' && ++n == lines) break;
  }
  return text.substr(pos, end - pos);
}

std::string exit_meaning(int code) {
  switch (code) {
    case 2: return "bad arguments (a tessera/script mismatch: report it)";
    case 3:
      return "parity failure: the Python twin (tools/reference/models.py), the saved module or "
             "the ONNX graph does not reproduce the C++ model; nothing was written";
    case 4:
      return "a Python package is missing: install Debian's python3-torch (torchscript, onnx) "
             "and python3-onnx (onnx), e.g. apt-get install -y python3-torch python3-onnx "
             "(scripts/setup.sh)";
    default: return "the script failed";
  }
}

std::vector<std::string> script_argv(const Config& cfg, const ExportFileOptions& opts,
                                     const ExportProbe& p, const std::string& tmp_out) {
  const ModelConfig& m = cfg.model;
  const nlohmann::json meta = {{"task", to_string(cfg.task.kind)},
                               {"checkpoint", p.checkpoint},
                               {"tessera", version_text()}};
  return {kPython, "-B", export_tools_dir() + "/export_model.py",
          "--format", format_name(opts.format),
          "--arch", m.arch,
          "--in-channels", std::to_string(cfg.task.in_channels),
          "--out-channels", std::to_string(p.out_channels),
          "--filters", std::to_string(m.filters),
          "--depth", std::to_string(m.depth),
          "--dropout", fmt::format("{}", m.dropout),
          "--batch-norm", m.batch_norm ? "1" : "0",
          "--residual", m.residual ? "1" : "0",
          "--normalize-input", cfg.data.normalize == "dataset" ? "1" : "0",
          "--activation", m.activation,
          "--multiple", std::to_string(p.multiple),
          "--weights", p.weights_path,
          "--probe", p.probe_path,
          "--out", tmp_out,
          "--opset", std::to_string(opts.opset),
          "--meta", meta.dump()};
}

void check_result(const CommandResult& r, const std::string& script, double timeout_s) {
  if (r.ok()) return;
  const std::string err = tail_lines(r.err, 15);
  if (r.timed_out) {
    TESSERA_THROW("export: {} ran past {} s (--timeout) and was killed; its stderr ended "
                  "with:\n{}",
                  script, timeout_s, err);
  }
  if (r.signal != 0) {
    TESSERA_THROW("export: {} was killed by signal {}; its stderr ended with:\n{}", script,
                  r.signal, err);
  }
  TESSERA_THROW("export: {} exited with {}: {}; its stderr ended with:\n{}", script, r.exit_code,
                exit_meaning(r.exit_code), err);
}

}  // namespace

ExportFormat export_format_from_string(const std::string& name) {
  for (ExportFormat f : {ExportFormat::state_dict, ExportFormat::torchscript, ExportFormat::onnx}) {
    if (name == format_name(f)) return f;
  }
  TESSERA_THROW("export: unknown format '{}'; expected state-dict, torchscript or onnx", name);
}

std::string export_tools_dir() {
  const char* env = std::getenv("TESSERA_TOOLS_DIR");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(TESSERA_DEFAULT_TOOLS_DIR);
}

void export_model_file(const Config& cfg, const ExportFileOptions& opts) {
  TESSERA_CHECK(opts.format != ExportFormat::state_dict,
                "export_model_file: state-dict is run_export's (trainer/jobs.h)");
  const std::string script = export_tools_dir() + "/export_model.py";
  TESSERA_CHECK(std::filesystem::is_regular_file(script),
                "export: {} not found (set TESSERA_TOOLS_DIR to tessera's tools/reference)",
                script);
  TempDir tmp(opts.out);
  const ExportProbe probe = write_export_probe(cfg, opts.checkpoint, tmp.path());
  const std::string tmp_out =
      tmp.path() + (opts.format == ExportFormat::onnx ? "/model.onnx" : "/model.pt");
  const CommandResult r = run_command(script_argv(cfg, opts, probe, tmp_out), opts.timeout_s);
  check_result(r, script, opts.timeout_s);
  TESSERA_CHECK(std::filesystem::is_regular_file(tmp_out),
                "export: {} exited 0 but wrote no {}", script, tmp_out);
  checkpoints::write_file_atomic(opts.out, checkpoints::read_file(tmp_out));
  spdlog::info("export: {} model of {} written to {}", format_name(opts.format), probe.checkpoint,
               opts.out);
  spdlog::info("export: parity with the C++ model: {}", tail_lines(r.out, 1));
}

}  // namespace tessera::cli
