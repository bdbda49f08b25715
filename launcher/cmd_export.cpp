// tessera export CONFIG --checkpoint ... --out FILE [--format state-dict|torchscript|onnx]:
// the weights as a plain state dict that Python's torch.load reads (issue #6), or the whole model
// (activation included) as TorchScript or ONNX through tools/reference/export_model.py
// (launcher/export_formats.h).
#include <memory>

#include "common/error.h"
#include "common/log.h"
#include "launcher/commands.h"
#include "launcher/export_formats.h"
#include "trainer/jobs.h"

namespace tessera::cli {

namespace {
struct ExportArgs {
  ConfigArgs config;
  std::string checkpoint = "best";
  std::string out;
  std::string format = "state-dict";
  int opset = 17;
  double timeout_s = kExportTimeoutS;
};
}  // namespace

void add_export_command(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "export",
      "Write a checkpoint as a state dict (torch.load), a TorchScript module or an ONNX graph");
  add_config_args(*cmd, args->config);
  cmd->add_option("--checkpoint", args->checkpoint,
                  "best, latest, a checkpoint directory, or `init` for the initial weights")
      ->capture_default_str();
  cmd->add_option("--out", args->out, "Output file (e.g. model.pt, model.onnx)")->required();
  cmd->add_option("--format", args->format,
                  "state-dict: the weights only; torchscript: activation(network(x)) for "
                  "torch.jit.load / torch::jit::load; onnx: the same graph (needs python3-onnx)")
      ->check(CLI::IsMember({"state-dict", "torchscript", "onnx"}))
      ->capture_default_str();
  CLI::Option* opset =
      cmd->add_option("--opset", args->opset, "ONNX opset version (--format onnx only)")
          ->check(CLI::Range(7, 30))
          ->capture_default_str();
  CLI::Option* timeout = cmd->add_option("--timeout", args->timeout_s,
                  "Seconds the Python exporter (torchscript, onnx) may run before it is killed")
      ->check(CLI::Range(1.0, 86400.0))
      ->capture_default_str();
  cmd->callback([args, opset, timeout] {
    const ExportFormat format = export_format_from_string(args->format);
    TESSERA_CHECK(opset->count() == 0 || format == ExportFormat::onnx,
                  "export: --opset applies to --format onnx only (got --format {})",
                  args->format);
    TESSERA_CHECK(timeout->count() == 0 || format != ExportFormat::state_dict,
                  "export: --timeout applies to --format torchscript and onnx (the Python "
                  "exporter), not to state-dict");
    const Config cfg = load(args->config);
    init_logging(LogSetup{0, 1, cfg.logging.level, false});
    if (format == ExportFormat::state_dict) {
      run_export(cfg, args->checkpoint, args->out);
      return;
    }
    export_model_file(cfg, ExportFileOptions{format, args->checkpoint, args->out, args->opset,
                                             args->timeout_s});
  });
}

}  // namespace tessera::cli
