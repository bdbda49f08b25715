// Internal to checkpoints/ (not part of the public API): names of the transient entries of a
// checkpoints directory and small path helpers shared by checkpoint_store.cpp and
// checkpoint_maintenance.cpp. Reentrant; errors are tessera::Error.
#pragma once

#include "checkpoints/checkpoint_format.h"
#include "checkpoints/file_io.h"
#include "checkpoints/sha256.h"
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

// Pointer files (`latest`, `best`): the step directory name on the first line and, since
// checkpoint format 2, "sha256 <hex of that name>" on the second, so a flipped digit cannot
// silently name another valid checkpoint. `head -1` (or the first line) is the name.
inline std::string pointer_file_text(const std::string& target) {
  return target + "\n" + "sha256 " + sha256_hex(target) + "\n";
}

// The step directory name a pointer file holds; nullopt if there is no file. A pointer without
// the checksum line (written before it existed) is read as before.
inline std::optional<std::string> read_pointer_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  const auto size = std::filesystem::file_size(path, ec);
  TESSERA_CHECK(!ec && size <= 4096,
                "checkpoint pointer {} is corrupt: {} bytes, expected a step directory name and "
                "its checksum (under 100 bytes)",
                path, ec ? 0 : size);
  const std::string text = read_file(path);
  const auto trimmed = [](std::string line) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    return line;
  };
  const size_t eol = text.find('\n');
  const std::string name = trimmed(text.substr(0, eol));
  const std::string rest = eol == std::string::npos ? "" : trimmed(text.substr(eol + 1));
  TESSERA_CHECK(parse_step_dir_name(name).has_value(),
                "checkpoint pointer {} is corrupt: it contains '{}', expected a step directory "
                "name like step-0000200",
                path, name.substr(0, 64));
  if (!rest.empty()) {
    TESSERA_CHECK(rest == "sha256 " + sha256_hex(name),
                  "checkpoint pointer {} is corrupt: its checksum line '{}' does not match the "
                  "name '{}' (a damaged file could name another checkpoint). Give the step "
                  "directory explicitly, or use --resume auto, which does not use pointers",
                  path, rest.substr(0, 80), name);
  }
  return name;
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
