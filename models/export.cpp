#include "models/export.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <tuple>

#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include "checkpoints/file_io.h"
#include "common/error.h"

namespace tessera {

StateDict collect_state_dict(const torch::nn::Module& module) {
  StateDict out;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    out.emplace_back(item.key(), item.value());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    out.emplace_back(item.key(), item.value());
  }
  return out;
}

namespace {

// torch::pickle_save's container (a zip with data.pkl and data/<n> tensor records, what
// torch.save writes) without its type tags: pickle_save wraps every dict in
// torch.jit._pickle.restore_type_tag(dict, "Dict[str, Tensor]"), a global that PyTorch >= 2.6's
// default torch.load(weights_only=True) refuses. Untagged, the pickle names only
// torch._utils._rebuild_tensor_v2, torch.*Storage and collections.OrderedDict, which every
// torch.load accepts, and LibTorch's pickle_load still reads it (as a Dict[Any, Any]).
std::vector<char> pickle_untagged(const c10::IValue& value) {
  std::vector<char> pickle;
  auto append = [&](const char* buf, size_t size) { pickle.insert(pickle.end(), buf, buf + size); };
  torch::jit::Pickler pickler(append, /*tensor_table=*/nullptr, /*type_renamer=*/nullptr,
                              /*memoized_class_types=*/nullptr, /*get_tensor_id=*/nullptr,
                              /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  std::vector<char> container;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t size) {
    const char* bytes = static_cast<const char*>(data);
    container.insert(container.end(), bytes, bytes + size);
    return size;
  });
  torch::jit::writeArchiveAndTensors("data", pickle.data(), pickle.size(), pickler.tensorData(),
                                     writer);
  writer.writeEndOfFile();
  return container;
}

}  // namespace

void save_tensor_dict(const StateDict& entries, const std::string& path) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : entries) {
    TESSERA_CHECK(!dict.contains(name), "save_tensor_dict('{}'): duplicate key '{}'", path, name);
    dict.insert(name, tensor.detach().to(torch::kCPU).contiguous());
  }
  const std::vector<char> bytes = pickle_untagged(c10::IValue(dict));
  // The checkpoint store's durable replace: <path>.tmp, fsync, rename, fsync of the directory.
  checkpoints::write_file_atomic(path, std::string_view(bytes.data(), bytes.size()));
}

StateDict read_tensor_dict(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TESSERA_CHECK(in.good(), "cannot open state dict '{}': {}", path, std::strerror(errno));
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  TESSERA_CHECK(!in.bad(), "cannot read state dict '{}': {}", path, std::strerror(errno));
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const c10::Error& e) {
    TESSERA_THROW("'{}' is not a torch pickle file (torch.save / tessera export): {}", path,
                  e.what_without_backtrace());
  }
  TESSERA_CHECK(value.isGenericDict(), "'{}' holds a {}, expected a dict of name -> tensor", path,
                value.tagKind());
  StateDict out;
  for (const auto& item : value.toGenericDict()) {
    TESSERA_CHECK(item.key().isString() && item.value().isTensor(),
                  "'{}': expected a dict of name -> tensor, found an entry {} -> {}", path,
                  item.key().tagKind(), item.value().tagKind());
    out.emplace_back(item.key().toStringRef(), item.value().toTensor());
  }
  return out;
}

void export_state_dict(const torch::nn::Module& module, const std::string& path) {
  save_tensor_dict(collect_state_dict(module), path);
}

void load_state_dict_file(torch::nn::Module& module, const std::string& path, bool strict) {
  const StateDict entries = read_tensor_dict(path);
  std::map<std::string, torch::Tensor> file;
  for (const auto& [name, tensor] : entries) file.emplace(name, tensor);

  // Validate everything before changing the module, so a bad file leaves it untouched. Key sets
  // first (the most telling message for a file of another architecture), then shapes/dtypes.
  std::vector<std::string> missing;
  std::set<std::string> used;
  std::vector<std::tuple<std::string, torch::Tensor, torch::Tensor>> copies;  // name, dst, src
  for (const auto& [name, target] : collect_state_dict(module)) {
    auto it = file.find(name);
    if (it == file.end()) {
      missing.push_back(name);
    } else {
      used.insert(name);
      copies.emplace_back(name, target, it->second);
    }
  }
  if (strict) {
    std::vector<std::string> unexpected;
    for (const auto& [name, tensor] : entries) {
      if (used.count(name) == 0) unexpected.push_back(name);
    }
    TESSERA_CHECK(missing.empty() && unexpected.empty(),
                  "state dict '{}' does not match the model: missing keys [{}]; unexpected keys "
                  "[{}]",
                  path, fmt::join(missing, ", "), fmt::join(unexpected, ", "));
  }
  for (const auto& [name, dst, src] : copies) {
    TESSERA_CHECK(src.sizes() == dst.sizes(),
                  "state dict '{}': '{}' has shape [{}], the model expects [{}]", path, name,
                  fmt::join(src.sizes(), ", "), fmt::join(dst.sizes(), ", "));
    TESSERA_CHECK(src.scalar_type() == dst.scalar_type(),
                  "state dict '{}': '{}' has dtype {}, the model expects {}", path, name,
                  c10::toString(src.scalar_type()), c10::toString(dst.scalar_type()));
  }
  torch::NoGradGuard no_grad;
  // copy_ keeps each parameter's identity (optimizers hold references to it).
  for (auto& [name, dst, src] : copies) dst.copy_(src);
}

}  // namespace tessera
