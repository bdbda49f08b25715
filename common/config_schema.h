// The experiment-config schema: one table entry per leaf key ("optim.lr", "data.augment.hflip").
//
// Each KeySpec binds a dotted key path to the Config field it fills (a function returning a
// reference to that field; the field's C++ type is the key's type), with its numeric range, its
// accepted values (enumerations), an optional fixed list length, a one-line meaning and the code
// that reads it (`read_by`: no key is accepted that nothing reads; tests/common/
// config_keys_reach_test.sh changes each key and observes the difference in what `tessera` does).
// A key whose feature is not implemented yet accepts its default only (`only_default`): any other
// value is refused at load, naming the key, where it was set and why. The
// reader (config_yaml.cpp), the converter (config_values.cpp), to_yaml()/flatten() and the
// documentation table (`tessera config keys`, docs/config.md) are all driven by this one table,
// so adding a key means adding a Config field and one entry in config_schema.cpp.
//
// The table is immutable static data built on first use; safe to read from any thread.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "common/config.h"

namespace tessera {

// Accessors: a capture-less lambda converted to a plain function pointer (see TESSERA_CFG_FIELD).
using ConfigField =
    std::variant<bool& (*)(Config&), int& (*)(Config&), int64_t& (*)(Config&),
                 uint64_t& (*)(Config&), float& (*)(Config&), double& (*)(Config&),
                 std::string& (*)(Config&), TaskKind& (*)(Config&),
                 std::vector<float>& (*)(Config&), std::vector<double>& (*)(Config&),
                 std::vector<int64_t>& (*)(Config&), std::vector<std::string>& (*)(Config&)>;

// A numeric interval; for list keys it applies to every element.
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;  // true: lo itself is excluded
  bool hi_open = false;

  bool bounded() const;
  bool contains(double v) const;
  // "> 0", ">= 1", "in [0, 1)", "" when unbounded.
  std::string describe() const;
};

struct KeySpec {
  std::string path;  // "optim.lr"
  ConfigField field;
  Range range;
  std::vector<std::string> choices;  // accepted values of a string (or string-list element)
  int list_size = -1;                // fixed length of a list key; -1 = any length
  std::string doc;                   // one line: meaning and units
  bool required = false;             // must be set by the file, its bases or an override
  std::string read_by;               // the code that reads the key ("trainer/optim.cpp")
  std::string not_implemented;       // non-empty: only the default is accepted; this says why

  // Builder helpers used by the table.
  KeySpec& in(Range r) {
    range = r;
    return *this;
  }
  KeySpec& one_of(std::vector<std::string> c) {
    choices = std::move(c);
    return *this;
  }
  KeySpec& size(int n) {
    list_size = n;
    return *this;
  }
  KeySpec& must_be_set() {
    required = true;
    return *this;
  }
  KeySpec& reads(std::string where) {
    read_by = std::move(where);
    return *this;
  }
  // Any value but the default is refused ("<why>"), until the feature exists.
  KeySpec& only_default(std::string why) {
    not_implemented = std::move(why);
    return *this;
  }

  std::string section() const;  // "optim" for "optim.lr", "data.augment" for "data.augment.crop"
  std::string name() const;     // "lr"
  // "integer", "number", "bool", "string", "list of numbers", ... for messages and docs.
  std::string type_name() const;
  bool is_list() const;
  bool is_string() const;  // string or TaskKind
};

// Every key, in documentation/emission order (sections in Config order).
const std::vector<KeySpec>& config_schema();

// Sections ("experiment", ..., "data", "data.augment", ...) in order.
const std::vector<std::string>& config_sections();
bool is_config_section(const std::string& path);

// nullptr when `path` is not a leaf key.
const KeySpec* find_config_key(const std::string& path);

// Leaf names and sub-section names directly inside `section` ("" = top level).
std::vector<std::string> config_children(const std::string& section);

// Closest candidate by edit distance (optimal string alignment); "" when none is close enough
// (distance > max(2, len/3)).
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);
size_t edit_distance(const std::string& a, const std::string& b);

// The accepted task-dependent sets (used by validation and documented in docs/config.md).
const std::vector<std::string>& segmentation_metrics();
const std::vector<std::string>& image_metrics();  // translation, super-resolution, ...
const std::vector<std::string>& binary_losses();
const std::vector<std::string>& multiclass_losses();
const std::vector<std::string>& image_losses();

// Markdown table of every key (key, type, default, allowed, meaning), grouped by section: the
// body of docs/config.md's reference, printed by `tessera config keys`.
std::string config_keys_markdown();

}  // namespace tessera

// Field accessor for the schema table: TESSERA_CFG_FIELD(optim.lr).
#define TESSERA_CFG_FIELD(member) \
  (+[](::tessera::Config& c) -> decltype(auto) { return (c.member); })
