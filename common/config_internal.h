// Internals of the config loader, shared by config*.cpp only (not part of the public API).
//
// Loading runs in four stages:
//   1. config_yaml.cpp   parses a file and its `base:` chain into a RawConfig: a flat map from
//                        leaf key path to the YAML value node and its Origin (file, line,
//                        column). Unknown keys, duplicate keys, malformed YAML, missing or cyclic
//                        bases are refused here. A later layer replaces a leaf of an earlier one
//                        (deep merge: mappings merge key by key, lists and scalars replace).
//   2. config_yaml.cpp   applies `--set key.path=value` overrides on top, same checks.
//   3. config_values.cpp converts each leaf into its Config field (type, range, enumeration).
//   4. config_validate.cpp checks required keys and relations between keys.
// Every error is a ConfigError whose message starts with the Origin of the offending value.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/config_schema.h"

namespace tessera {

// Where a value came from.
struct Origin {
  std::string file;      // file as displayed (path relative to the CWD as given), or "" = default
  int line = 0;          // 1-based; 0 = no position (defaults, overrides)
  int column = 0;        // 1-based
  std::string override;  // the `--set` argument, when the value came from the command line

  bool is_default() const { return file.empty() && override.empty(); }
  // "file:line:col", "file", "--set k=v" or "default".
  std::string where() const;
};

Origin origin_of(const std::string& file, const YAML::Mark& mark);

struct Leaf {
  YAML::Node node;
  Origin origin;
};

struct RawConfig {
  std::map<std::string, Leaf> leaves;  // key path -> winning value
  std::string top_file;                // the file given to load_config (display name)
  std::vector<std::string> files;      // top file first, then its bases in order
};

// Stage 1: `text` is the content of `name`; relative `base:` paths resolve against base_dir.
RawConfig read_config_text(const std::string& text, const std::string& name,
                           const std::string& base_dir);
RawConfig read_config_file(const std::string& path);

// Stage 2.
void apply_overrides(RawConfig& raw, const std::vector<std::string>& overrides);

// Stage 3: converts every present leaf into `config`.
void assign_values(const RawConfig& raw, Config& config);
void assign_value(const KeySpec& spec, const Leaf& leaf, Config& config);

// Stage 4. `partial` skips the required-key check (base files).
void validate_config(const RawConfig& raw, const Config& config, bool partial);

// Text of a field: YAML form (strings quoted when needed, lists in flow style) or plain form
// (strings bare) for flatten().
std::string format_value(const KeySpec& spec, const Config& config, bool yaml);

// "an integer in [1, 1024]", "one of: adam, adamw, sgd", "a list of 2 numbers in [0, 1)"...
std::string expected_text(const KeySpec& spec);

// "`abc`", "the quoted string \"12\"", "an empty value", "a list", "a mapping".
std::string describe_node(const YAML::Node& node);

// "a, b, c"
std::string join(const std::vector<std::string>& items, const std::string& sep = ", ");

// "<where>: <message>"
std::string config_message(const Origin& origin, const std::string& message);

// Building blocks of the schema table (config_schema.cpp, config_schema_run.cpp).
namespace schema_table {
inline constexpr double kInf = std::numeric_limits<double>::infinity();

inline Range gt(double lo) {
  return Range{lo, kInf, true, false};
}
inline Range ge(double lo) {
  return Range{lo, kInf, false, false};
}
inline Range closed(double lo, double hi) {
  return Range{lo, hi, false, false};
}
inline Range half_open(double lo, double hi) {
  return Range{lo, hi, false, true};
}
inline Range open(double lo, double hi) {
  return Range{lo, hi, true, true};
}

inline KeySpec key(std::string path, ConfigField field, std::string doc) {
  KeySpec k;
  k.path = std::move(path);
  k.field = field;
  k.doc = std::move(doc);
  return k;
}

std::vector<std::string> all_metrics();  // every accepted eval.metrics value
void add_run_keys(std::vector<KeySpec>& s);
}  // namespace schema_table

}  // namespace tessera

// Throws ConfigError located at `origin` (an Origin), message formatted with {fmt}.
#define TESSERA_CONFIG_FAIL(origin, ...)           \
  throw ::tessera::ConfigError(__FILE__, __LINE__, \
                               ::tessera::config_message((origin), ::fmt::format(__VA_ARGS__)))
