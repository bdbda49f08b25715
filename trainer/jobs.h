// The top-level jobs behind `tessera eval` and `tessera export` (train: trainer.h, predict:
// predictor.h). Each is called by launcher/ with a loaded config and, for distributed jobs, the
// communicator main() created.
#pragma once

#include <cstdint>
#include <string>

#include "comm/communicator.h"
#include "common/config.h"
#include "trainer/evaluator.h"

namespace tessera {

struct EvalOptions {
  std::string checkpoint = "best";  // best | latest | PATH
  std::string split = "test";       // train | val | test, or a dataset directory
};

// Distributed, exact evaluation of a checkpoint on a split. Rank 0 writes
// <run_dir>/eval/summary.json (overall, per class, per image, and for super-resolution the
// bicubic baseline) and prints the table.
EvalResult run_eval(const Config& cfg, Communicator& comm, const EvalOptions& opts);

// Writes the checkpoint's weights as a plain state dict that Python's torch.load reads.
void run_export(const Config& cfg, const std::string& checkpoint, const std::string& out);

// What `tessera export --format torchscript|onnx` (launcher/export_formats.h) hands to
// tools/reference/export_model.py, written into the existing directory `dir`: the checkpoint's
// weights as a state dict (weights.pt) and a probe (probe.pt: {input, output}), a random
// 2 x C x size x size batch in [0, 1) and the C++ model's output on it in eval mode after
// model.activation, what the exported module must reproduce.
struct ExportProbe {
  std::string checkpoint;  // the checkpoint directory used, or a description of `init`
  std::string weights_path;
  std::string probe_path;
  int64_t out_channels = 0;
  int64_t multiple = 1;  // H and W must be multiples of this (trainer/tiling.h size_multiple)
  int64_t size = 0;      // the probe's H = W
};
ExportProbe write_export_probe(const Config& cfg, const std::string& checkpoint,
                               const std::string& dir);

}  // namespace tessera
