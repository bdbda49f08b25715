// `tessera export --format torchscript|onnx`: a checkpoint as a self-contained model file.
//
// LibTorch's C++ API cannot script or trace a C++ module, so the conversion is done by the
// Python twin of the network: export_model_file() writes the checkpoint's weights and a probe
// (trainer/jobs.h write_export_probe: a random input and the C++ model's activated output on it)
// into a private temporary directory next to `out`, then runs
// `/usr/bin/python3 <tools dir>/export_model.py` as a child process (argv, no shell; at most
// kExportTimeoutS seconds, then SIGKILL). The script rebuilds the network from
// tools/reference/models.py, loads the weights strictly, refuses to write anything unless its
// output matches the probe, and writes the model into the temporary directory; tessera then
// publishes it to `out` with checkpoints::write_file_atomic, so `out` is either the old file or
// the complete new one. The temporary directory `.<name of out>.export-<pid>-XXXXXX` is removed on
// every path (RAII); one left by a process killed outright (SIGKILL) is removed by the next
// export to the same `out` once its pid is gone (a directory of a live export is left alone).
//
// The tools dir is TESSERA_TOOLS_DIR from the environment when set, else the source tree's
// tools/reference (a compile-time definition). A non-zero exit of the script is a tessera::Error
// naming what the code means (2 bad arguments, 3 parity failure, 4 missing Python package with
// the Debian package to install) and the tail of the script's stderr.
//
// What the exported model computes, and how to load it: docs (tessera export) and the script's
// docstring.
#pragma once

#include <string>

#include "common/config.h"

namespace tessera::cli {

enum class ExportFormat { state_dict, torchscript, onnx };

// "state-dict", "torchscript" or "onnx" (the --format values); anything else -> Error.
ExportFormat export_format_from_string(const std::string& name);

constexpr double kExportTimeoutS = 600.0;  // default of `tessera export --timeout`

struct ExportFileOptions {
  ExportFormat format = ExportFormat::torchscript;  // torchscript or onnx
  std::string checkpoint = "best";                  // best | latest | DIR | init
  std::string out;
  int opset = 17;  // onnx only
  double timeout_s = kExportTimeoutS;  // the Python child is SIGKILLed after this
};

// Writes the model file (see above). Throws tessera::Error on failure; `out` is then untouched.
void export_model_file(const Config& cfg, const ExportFileOptions& opts);

// The directory holding export_model.py (TESSERA_TOOLS_DIR or the built-in default).
std::string export_tools_dir();

}  // namespace tessera::cli
