#include "checkpoints/state_io.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <mutex>
#include <optional>
#include <set>

namespace tessera::checkpoints {
namespace {

std::string archive_to_bytes(torch::serialize::OutputArchive& archive) {
  std::string out;
  archive.save_to([&out](const void* data, size_t size) -> size_t {
    out.append(static_cast<const char*>(data), size);
    return size;
  });
  return out;
}

void open_archive(torch::serialize::InputArchive& archive, const std::string& bytes,
                  const std::string& source, std::optional<torch::Device> device = std::nullopt) {
  try {
    if (device) {
      archive.load_from(bytes.data(), bytes.size(), *device);
    } else {
      archive.load_from(bytes.data(), bytes.size());
    }
  } catch (const std::exception& e) {
    TESSERA_THROW("{}: not a readable LibTorch archive ({} bytes): {}", source, bytes.size(),
                  e.what());
  }
}

std::string shape_str(const torch::Tensor& t) { return fmt::format("{}", fmt::join(t.sizes(), "x")); }

void load_into(torch::serialize::InputArchive& archive, const std::string& key,
               torch::Tensor& dst, bool is_buffer, const std::string& path,
               const std::string& source) {
  torch::Tensor src;
  bool found = false;
  try {
    found = archive.try_read(key, src, is_buffer);
  } catch (const std::exception& e) {
    TESSERA_THROW("{}: cannot read {} '{}': {}", source, is_buffer ? "buffer" : "parameter",
                  path, e.what());
  }
  TESSERA_CHECK(found, "{}: {} '{}' is missing (the checkpoint is from a different model?{})",
                source, is_buffer ? "buffer" : "parameter", path,
                key == "input_mean" || key == "input_std"
                    ? " The config has data.normalize: dataset, the checkpoint was trained "
                      "without it"
                    : "");
  TESSERA_CHECK(src.sizes() == dst.sizes() && src.scalar_type() == dst.scalar_type(),
                "{}: {} '{}' is {} {} in the checkpoint but {} {} in the model", source,
                is_buffer ? "buffer" : "parameter", path, shape_str(src),
                c10::toString(src.scalar_type()), shape_str(dst),
                c10::toString(dst.scalar_type()));
  dst.copy_(src);
}

// A tensor or submodule in the checkpoint that the model lacks would otherwise be dropped
// without a word (e.g. the input statistics of data.normalize: dataset, evaluated with a config
// that says none): refused, naming it. Non-tensor attributes (TorchScript's `training`) pass.
void refuse_extra_entries(torch::nn::Module& module, torch::serialize::InputArchive& archive,
                          const std::string& prefix, const std::string& source) {
  std::set<std::string> known;
  for (const auto& item : module.named_parameters(/*recurse=*/false)) known.insert(item.key());
  for (const auto& item : module.named_buffers(/*recurse=*/false)) known.insert(item.key());
  for (const auto& child : module.named_children()) known.insert(child.key());
  for (const std::string& key : archive.keys()) {
    if (known.count(key) != 0) continue;
    torch::Tensor t;
    torch::serialize::InputArchive sub;
    const bool tensor = archive.try_read(key, t);
    TESSERA_CHECK(!tensor && !archive.try_read(key, sub),
                  "{}: {} '{}' is in the checkpoint but not in this model (the checkpoint is from "
                  "a different model or config?{})",
                  source, tensor ? "tensor" : "submodule", prefix + key,
                  key == "input_mean" || key == "input_std"
                      ? " It was trained with data.normalize: dataset; set that in the config"
                      : "");
  }
}

void load_module(torch::nn::Module& module, torch::serialize::InputArchive& archive,
                 const std::string& prefix, const std::string& source) {
  for (auto& item : module.named_parameters(/*recurse=*/false)) {
    load_into(archive, item.key(), item.value(), false, prefix + item.key(), source);
  }
  for (auto& item : module.named_buffers(/*recurse=*/false)) {
    load_into(archive, item.key(), item.value(), true, prefix + item.key(), source);
  }
  for (auto& child : module.named_children()) {
    if (!child.value()->is_serializable()) continue;
    torch::serialize::InputArchive sub;
    bool found = false;
    try {
      found = archive.try_read(child.key(), sub);
    } catch (const std::exception& e) {
      TESSERA_THROW("{}: cannot read submodule '{}': {}", source, prefix + child.key(), e.what());
    }
    TESSERA_CHECK(found, "{}: submodule '{}' is missing (the checkpoint is from a different "
                  "model?)", source, prefix + child.key());
    load_module(*child.value(), sub, prefix + child.key() + ".", source);
  }
  refuse_extra_entries(module, archive, prefix, source);
}

bool is_identifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

torch::Tensor generator_state(at::Generator gen) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state().clone();
}

void set_generator_state(at::Generator gen, const torch::Tensor& state) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

// LibTorch's Optimizer::load restores per-parameter state but not the param groups' options
// (lr, betas, momentum, weight decay ...), although save() writes them. Read them back for the
// optimizer types we know, as PyTorch's load_state_dict does.
template <class Options>
void restore_group_options(torch::optim::Optimizer& optimizer,
                           torch::serialize::InputArchive& archive) {
  torch::serialize::InputArchive groups;
  archive.read("param_groups", groups);
  for (std::size_t i = 0; i < optimizer.param_groups().size(); ++i) {
    torch::serialize::InputArchive group;
    groups.read("param_groups/" + std::to_string(i), group);
    torch::serialize::InputArchive options_archive;
    group.read("options", options_archive);
    auto options = std::make_unique<Options>(0.0);
    options->serialize(options_archive);
    optimizer.param_groups()[i].set_options(std::move(options));
  }
}

void restore_options(torch::optim::Optimizer& optimizer,
                     torch::serialize::InputArchive& archive) {
  namespace optim = torch::optim;
  // AdamW before Adam: they are unrelated classes, but keep the specific-first habit.
  if (dynamic_cast<optim::AdamW*>(&optimizer)) {
    restore_group_options<optim::AdamWOptions>(optimizer, archive);
  } else if (dynamic_cast<optim::Adam*>(&optimizer)) {
    restore_group_options<optim::AdamOptions>(optimizer, archive);
  } else if (dynamic_cast<optim::SGD*>(&optimizer)) {
    restore_group_options<optim::SGDOptions>(optimizer, archive);
  } else if (dynamic_cast<optim::RMSprop*>(&optimizer)) {
    restore_group_options<optim::RMSpropOptions>(optimizer, archive);
  } else if (dynamic_cast<optim::Adagrad*>(&optimizer)) {
    restore_group_options<optim::AdagradOptions>(optimizer, archive);
  } else {
    spdlog::debug("optimizer type without option restore: its options stay as constructed");
  }
}

}  // namespace

std::string module_to_bytes(const torch::nn::Module& module) {
  torch::serialize::OutputArchive archive;
  module.save(archive);
  return archive_to_bytes(archive);
}

void module_from_bytes(torch::nn::Module& module, const std::string& bytes,
                       const std::string& source) {
  torch::serialize::InputArchive archive;
  open_archive(archive, bytes, source);
  torch::NoGradGuard no_grad;
  load_module(module, archive, "", source);
}

std::string optimizer_to_bytes(const torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  return archive_to_bytes(archive);
}

void optimizer_from_bytes(torch::optim::Optimizer& optimizer, const std::string& bytes,
                          const std::string& source) {
  // Optimizer state lives on the device of the parameters it belongs to.
  std::optional<torch::Device> device;
  for (const auto& group : optimizer.param_groups()) {
    if (!group.params().empty()) {
      device = group.params().front().device();
      break;
    }
  }
  torch::serialize::InputArchive archive;
  open_archive(archive, bytes, source, device);
  try {
    optimizer.load(archive);
    restore_options(optimizer, archive);
  } catch (const std::exception& e) {
    TESSERA_THROW("{}: the optimizer state does not match this optimizer (different parameters "
                  "or optimizer type?): {}",
                  source, e.what());
  }
}

std::string tensors_to_bytes(const std::map<std::string, torch::Tensor>& tensors) {
  torch::serialize::OutputArchive archive;
  for (const auto& [name, tensor] : tensors) {
    TESSERA_CHECK(is_identifier(name),
                  "tensors_to_bytes: name '{}' is not an identifier ([A-Za-z_][A-Za-z0-9_]*)",
                  name);
    TESSERA_CHECK(tensor.defined(), "tensors_to_bytes: tensor '{}' is undefined", name);
    archive.write(name, tensor.detach(), /*is_buffer=*/true);
  }
  return archive_to_bytes(archive);
}

std::map<std::string, torch::Tensor> tensors_from_bytes(const std::string& bytes,
                                                        const std::string& source) {
  torch::serialize::InputArchive archive;
  open_archive(archive, bytes, source);
  std::map<std::string, torch::Tensor> out;
  for (const std::string& key : archive.keys()) {
    torch::Tensor t;
    bool found = false;
    try {
      found = archive.try_read(key, t, /*is_buffer=*/true);
    } catch (const std::exception& e) {
      TESSERA_THROW("{}: cannot read tensor '{}': {}", source, key, e.what());
    }
    if (found) out.emplace(key, t);
  }
  return out;
}

std::string torch_rng_to_bytes() {
  std::map<std::string, torch::Tensor> states;
  states["cpu"] = generator_state(at::globalContext().defaultGenerator(torch::Device(torch::kCPU)));
  const int cuda_devices = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  for (int i = 0; i < cuda_devices; ++i) {
    states["cuda" + std::to_string(i)] = generator_state(at::globalContext().defaultGenerator(
        torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(i))));
  }
  return tensors_to_bytes(states);
}

void torch_rng_from_bytes(const std::string& bytes, const std::string& source) {
  const auto states = tensors_from_bytes(bytes, source);
  const auto cpu = states.find("cpu");
  TESSERA_CHECK(cpu != states.end(), "{}: no CPU generator state in the RNG file", source);
  try {
    set_generator_state(at::globalContext().defaultGenerator(torch::Device(torch::kCPU)),
                        cpu->second);
  } catch (const std::exception& e) {
    TESSERA_THROW("{}: invalid CPU generator state: {}", source, e.what());
  }
  const int cuda_devices = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  int saved_cuda = 0;
  for (const auto& [name, state] : states) {
    if (name.rfind("cuda", 0) == 0) ++saved_cuda;
  }
  if (saved_cuda != cuda_devices) {
    spdlog::warn("{}: the checkpoint holds {} CUDA generator state(s), this process sees {} CUDA "
                 "device(s); restoring the ones both have (GPU random streams will differ)",
                 source, saved_cuda, cuda_devices);
  }
  for (int i = 0; i < cuda_devices; ++i) {
    const auto it = states.find("cuda" + std::to_string(i));
    if (it == states.end()) continue;
    try {
      set_generator_state(at::globalContext().defaultGenerator(
                              torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(i))),
                          it->second);
    } catch (const std::exception& e) {
      TESSERA_THROW("{}: invalid CUDA generator state for device {}: {}", source, i, e.what());
    }
  }
}

}  // namespace tessera::checkpoints
