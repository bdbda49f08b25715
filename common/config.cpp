// load_config(): the four loading stages (see config_internal.h); to_yaml(), flatten().
#include "common/config.h"

#include "common/config_internal.h"

namespace tessera {
namespace {

Config finish(RawConfig raw, const std::vector<std::string>& overrides, const LoadOptions& options,
              const std::string& source) {
  apply_overrides(raw, overrides);
  Config config;
  assign_values(raw, config);
  validate_config(raw, config, options.partial);
  config.source_path = source;
  for (const auto& [key, leaf] : raw.leaves) {
    const Origin& o = leaf.origin;
    if (!o.override.empty()) {
      config.origins[key] = "--set " + o.override;
    } else if (o.line > 0) {
      config.origins[key] = fmt::format("{}:{}", o.file, o.line);
    } else if (!o.file.empty()) {
      config.origins[key] = o.file;
    }
  }
  return config;
}

}  // namespace

std::string Config::run_dir() const {
  return experiment.output_dir + "/" + experiment.name;
}

std::string Config::where(const std::string& key) const {
  const auto it = origins.find(key);
  if (it == origins.end()) return key + " (default)";
  if (it->second.compare(0, 6, "--set ") == 0) return key + " (set by " + it->second + ")";
  return key + " (set in " + it->second + ")";
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides,
                   const LoadOptions& options) {
  return finish(read_config_file(path), overrides, options, path);
}

Config load_config_from_string(const std::string& yaml, const std::string& name,
                               const std::vector<std::string>& overrides,
                               const std::string& base_dir, const LoadOptions& options) {
  return finish(read_config_text(yaml, name, base_dir), overrides, options, "");
}

std::string to_yaml(const Config& config) {
  std::string out;
  std::vector<std::string> open;  // sections currently open, outermost first
  for (const auto& spec : config_schema()) {
    std::vector<std::string> parts;
    const std::string section = spec.section();
    for (size_t b = 0, dot = 0; dot != std::string::npos; b = dot + 1) {
      dot = section.find('.', b);
      parts.push_back(section.substr(b, dot == std::string::npos ? dot : dot - b));
    }
    size_t common = 0;
    while (common < open.size() && common < parts.size() && open[common] == parts[common]) {
      ++common;
    }
    for (size_t i = common; i < parts.size(); ++i) {
      out += std::string(2 * i, ' ') + parts[i] + ":\n";
    }
    open = parts;
    out += std::string(2 * parts.size(), ' ') + spec.name() + ": " +
           format_value(spec, config, true) + "\n";
  }
  return out;
}

std::map<std::string, std::string> flatten(const Config& config) {
  std::map<std::string, std::string> out;
  for (const auto& spec : config_schema()) out[spec.path] = format_value(spec, config, false);
  return out;
}

std::string to_string(TaskKind kind) {
  switch (kind) {
    case TaskKind::segmentation:
      return "segmentation";
    case TaskKind::translation:
      return "translation";
    case TaskKind::super_resolution:
      return "super_resolution";
    case TaskKind::denoising:
      return "denoising";
    case TaskKind::inpainting:
      return "inpainting";
    case TaskKind::anomaly:
      return "anomaly";
  }
  TESSERA_THROW("invalid TaskKind value {}", static_cast<int>(kind));
}

TaskKind task_kind_from_string(const std::string& s) {
  for (TaskKind k : {TaskKind::segmentation, TaskKind::translation, TaskKind::super_resolution,
                     TaskKind::denoising, TaskKind::inpainting, TaskKind::anomaly}) {
    if (to_string(k) == s) return k;
  }
  throw ConfigError(__FILE__, __LINE__,
                    fmt::format("unknown task kind `{}`; accepted: segmentation, translation, "
                                "super_resolution, denoising, inpainting, anomaly",
                                s));
}

}  // namespace tessera
