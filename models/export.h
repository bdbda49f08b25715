// Plain state-dict files shared with Python.
//
// export_state_dict() writes every parameter and buffer of a module (BatchNorm running_mean,
// running_var and num_batches_tracked included) as a dict {name: tensor} with torch's pickle
// format (torch::pickle_save), so Python reads it with `torch.load(path)` and loads it with
// `model.load_state_dict(sd, strict=True)` into tools/reference/models.py's models (names are
// the module paths, identical on both sides). Tensors are written detached, contiguous, on the
// CPU. The file is written to `<path>.tmp.<pid>` and renamed over `path`, so a reader never sees
// a partial file. I/O failures throw tessera::Error naming the path.
//
// load_state_dict_file() is the inverse for C++ (also reads a dict saved by Python's
// `torch.save(dict(model.state_dict()), path)`): copies each entry into the module's parameter
// or buffer of the same name; shape or dtype mismatches are errors naming the key; with strict,
// missing and unexpected keys are errors listing them.
//
// Thread-safety: free functions; the caller must not run the module concurrently.
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace tessera {

// Ordered (name, tensor) pairs: parameters, then buffers, in module registration order.
using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

StateDict collect_state_dict(const torch::nn::Module& module);

// Writes `entries` as a pickled dict, atomically and durably (checkpoints::write_file_atomic:
// tmp file, fsync, rename, fsync of the directory). Names must be unique.
void save_tensor_dict(const StateDict& entries, const std::string& path);
StateDict read_tensor_dict(const std::string& path);

void export_state_dict(const torch::nn::Module& module, const std::string& path);
void load_state_dict_file(torch::nn::Module& module, const std::string& path, bool strict = true);

}  // namespace tessera
