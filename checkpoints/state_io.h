// Serialization of training state to bytes and back, for the files of a checkpoint. Every
// round trip is bit-exact (the exact-resume contract): parameters, buffers and optimizer state
// are written as raw tensor storage by LibTorch's serialize archives (the zip/pickle format
// torch::save uses), and RNG states as the generators' own state blobs.
//
//  * module_to_bytes / module_from_bytes: all parameters and buffers of a module tree, by name.
//    Loading copies into the existing tensors of an identically structured module.
//  * optimizer_to_bytes / optimizer_from_bytes: per-parameter state (Adam moments and step
//    counts, SGD momentum buffers) and the param groups' options (lr, betas, momentum, weight
//    decay ...; restored for Adam, AdamW, SGD, RMSprop and Adagrad -- LibTorch's own load()
//    ignores them). The optimizer must already hold the same parameters in the same order.
//  * tensors_to_bytes / tensors_from_bytes: a named set of tensors (loss scaler, EMA ...);
//    names are identifiers ([A-Za-z_][A-Za-z0-9_]*).
//  * torch_rng_to_bytes / torch_rng_from_bytes: LibTorch's default CPU generator (which drives
//    dropout, torch::rand* and random init on CPU) and, when CUDA is available, every device's
//    default CUDA generator. Per process: with several ranks, each rank saves its own.
//  * engine_to_string / engine_from_string: any standard random engine (std::mt19937 ...) used
//    for shuffling or augmentation, via its exact textual state.
//
// Errors: tessera::Error naming `source` (what is being loaded, e.g. "step-0000200/model.pt")
// and what did not match. Thread safety: the RNG functions take each generator's mutex; the
// module/optimizer functions must not run concurrently with training on the same objects.
#pragma once

#include "common/error.h"

#include <torch/torch.h>

#include <map>
#include <sstream>
#include <string>

namespace tessera::checkpoints {

std::string module_to_bytes(const torch::nn::Module& module);
void module_from_bytes(torch::nn::Module& module, const std::string& bytes,
                       const std::string& source);

std::string optimizer_to_bytes(const torch::optim::Optimizer& optimizer);
void optimizer_from_bytes(torch::optim::Optimizer& optimizer, const std::string& bytes,
                          const std::string& source);

std::string tensors_to_bytes(const std::map<std::string, torch::Tensor>& tensors);
std::map<std::string, torch::Tensor> tensors_from_bytes(const std::string& bytes,
                                                        const std::string& source);

std::string torch_rng_to_bytes();
void torch_rng_from_bytes(const std::string& bytes, const std::string& source);

template <class Engine>
std::string engine_to_string(const Engine& engine) {
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << engine;
  return out.str();
}

template <class Engine>
void engine_from_string(Engine& engine, const std::string& text, const std::string& source) {
  std::istringstream in(text);
  in.imbue(std::locale::classic());
  Engine restored;
  in >> restored;
  TESSERA_CHECK(!in.fail(), "{}: not a valid random engine state ({} bytes)", source,
                text.size());
  engine = restored;
}

}  // namespace tessera::checkpoints
