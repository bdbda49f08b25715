// Internal to checkpoints/ (not part of the public API): names of the transient entries of a
// checkpoints directory and small path helpers shared by checkpoint_store.cpp and
// checkpoint_maintenance.cpp. Reentrant; errors are tessera::Error.
#pragma once

#include "checkpoints/checkpoint_format.h"
#include "checkpoints/file_io.h"
#include "common/error.h"

#include <cctype>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

namespace tessera::checkpoints::detail {

inline constexpr const char* kTmpPrefix = ".tmp-";
inline constexpr const char* kTrashPrefix = ".trash-";
inline constexpr const char* kOldPrefix = ".old-";

inline bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

inline std::string join(const std::string& dir, const std::string& name) {
  return (std::filesystem::path(dir) / name).string();
}

// The step directory name a pointer file (`latest`, `best`) holds; nullopt if there is no file.
inline std::optional<std::string> read_pointer_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  std::string text = read_file(path);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  TESSERA_CHECK(parse_step_dir_name(text).has_value(),
                "checkpoint pointer {} is corrupt: it contains '{}', expected a step directory "
                "name like step-0000200",
                path, text.substr(0, 64));
  return text;
}

// For ".old-step-0000200-<pid>" with prefix ".old-": "step-0000200"; nullopt if not that shape.
inline std::optional<std::string> aside_original(const std::string& name, const std::string& prefix) {
  if (!starts_with(name, prefix)) return std::nullopt;
  const std::string rest = name.substr(prefix.size());
  const auto dash = rest.rfind('-');
  if (dash == std::string::npos) return std::nullopt;
  std::string original = rest.substr(0, dash);
  if (!parse_step_dir_name(original)) return std::nullopt;
  return original;
}

}  // namespace tessera::checkpoints::detail
