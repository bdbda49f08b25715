// The top-level jobs behind `tessera eval` and `tessera export` (train: trainer.h, predict:
// predictor.h). Each is called by launcher/ with a loaded config and, for distributed jobs, the
// communicator main() created.
#pragma once

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

}  // namespace tessera
