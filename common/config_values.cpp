// Stage 3 of loading: YAML values into typed Config fields (strict types, ranges, enumerations);
// and the reverse, field values as text for to_yaml(), flatten() and the docs table.
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <type_traits>

#include "common/config_internal.h"

namespace tessera {
namespace {

bool is_number_text(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.' ||
          c == 'e' || c == 'E')) {
      return false;
    }
  }
  return true;
}

bool parse_int(const std::string& s, long long& out) {
  if (s.empty() || s.find_first_not_of("+-0123456789") != std::string::npos) return false;
  errno = 0;
  char* end = nullptr;
  out = std::strtoll(s.c_str(), &end, 10);
  return errno == 0 && end == s.c_str() + s.size();
}

bool parse_uint(const std::string& s, unsigned long long& out) {
  if (s.empty() || s.find_first_not_of("+0123456789") != std::string::npos) return false;
  errno = 0;
  char* end = nullptr;
  out = std::strtoull(s.c_str(), &end, 10);
  return errno == 0 && end == s.c_str() + s.size();
}

bool parse_double(const std::string& s, double& out) {
  if (!is_number_text(s)) return false;
  errno = 0;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return errno == 0 && end == s.c_str() + s.size() && std::isfinite(out);
}

bool parse_float(const std::string& s, float& out) {
  if (!is_number_text(s)) return false;
  errno = 0;
  char* end = nullptr;
  out = std::strtof(s.c_str(), &end);
  return errno == 0 && end == s.c_str() + s.size() && std::isfinite(out);
}

// Converts one scalar; `what` names the value in messages ("optim.betas[1]").
class Converter {
 public:
  Converter(const KeySpec& spec, const Origin& origin) : spec_(spec), origin_(origin) {}

  template <typename T>
  T scalar(const YAML::Node& node, const std::string& what) const {
    const Origin at = node.Mark().is_null() || node.IsNull() ? origin_ : relocate(node);
    if (!node.IsScalar()) fail(at, what, describe_node(node));
    const std::string& s = node.Scalar();
    const bool quoted = node.Tag() == "!";
    if constexpr (std::is_same_v<T, std::string>) {
      if (!spec_.choices.empty() && !is_choice(s)) {
        const std::string hint = closest_match(s, spec_.choices);
        TESSERA_CONFIG_FAIL(at, "{}: unknown value `{}`; accepted: {}{}", what, s,
                            join(spec_.choices),
                            hint.empty() ? "" : fmt::format(" (did you mean `{}`?)", hint));
      }
      return s;
    } else {
      if (quoted) fail(at, what, describe_node(node));
      if constexpr (std::is_same_v<T, bool>) {
        if (s == "true" || s == "True" || s == "TRUE") return true;
        if (s == "false" || s == "False" || s == "FALSE") return false;
        fail(at, what, describe_node(node));
      } else {
        double value = 0;
        T result{};
        if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
          unsigned long long v = 0;
          if (!parse_uint(s, v) || v > std::numeric_limits<T>::max()) {
            fail(at, what, describe_node(node));
          }
          result = static_cast<T>(v);
          value = static_cast<double>(v);
        } else if constexpr (std::is_integral_v<T>) {
          long long v = 0;
          if (!parse_int(s, v) || v < static_cast<long long>(std::numeric_limits<T>::min()) ||
              v > static_cast<long long>(std::numeric_limits<T>::max())) {
            fail(at, what, describe_node(node));
          }
          result = static_cast<T>(v);
          value = static_cast<double>(v);
        } else if constexpr (std::is_same_v<T, float>) {
          if (!parse_float(s, result)) fail(at, what, describe_node(node));
          value = result;
        } else {
          if (!parse_double(s, result)) fail(at, what, describe_node(node));
          value = result;
        }
        if (!spec_.range.contains(value)) fail(at, what, s);
        return result;
      }
    }
  }

  template <typename T>
  std::vector<T> list(const YAML::Node& node) const {
    if (!node.IsSequence()) {
      TESSERA_CONFIG_FAIL(node.IsNull() ? origin_ : relocate(node), "{}: expected {}, found {}",
                          spec_.path, expected_text(spec_), describe_node(node));
    }
    if (spec_.list_size >= 0 && node.size() != static_cast<size_t>(spec_.list_size)) {
      TESSERA_CONFIG_FAIL(relocate(node), "{}: expected {}, found {} value{}", spec_.path,
                          expected_text(spec_), node.size(), node.size() == 1 ? "" : "s");
    }
    std::vector<T> out;
    for (size_t i = 0; i < node.size(); ++i) {
      out.push_back(scalar<T>(node[i], fmt::format("{}[{}]", spec_.path, i)));
    }
    return out;
  }

 private:
  bool is_choice(const std::string& s) const {
    for (const auto& c : spec_.choices) {
      if (c == s) return true;
    }
    return false;
  }

  // Values from files carry their own mark; overrides keep the `--set` origin.
  Origin relocate(const YAML::Node& node) const {
    if (!origin_.override.empty() || origin_.file.empty()) return origin_;
    return origin_of(origin_.file, node.Mark());
  }

  [[noreturn]] void fail(const Origin& at, const std::string& what,
                         const std::string& found) const {
    std::string expected = expected_text(spec_);
    if (spec_.is_list()) {  // per-element message
      expected = expected.substr(expected.find(", each ") + 7);
    }
    TESSERA_CONFIG_FAIL(at, "{}: expected {}, found {}", what, expected, found);
  }

  const KeySpec& spec_;
  const Origin& origin_;
};

bool plain_safe(const std::string& s) {
  if (s.empty()) return false;
  const char c0 = s[0];
  if (!(std::isalpha(static_cast<unsigned char>(c0)) || c0 == '_' || c0 == '/')) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
          c == '/')) {
      return false;
    }
  }
  std::string lower;
  for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* w : {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}) {
    if (lower == w) return false;
  }
  return true;
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string text_of(const std::string& s, bool yaml) {
  return !yaml || plain_safe(s) ? s : quote(s);
}
std::string text_of(bool v, bool) {
  return v ? "true" : "false";
}
std::string text_of(TaskKind v, bool) {
  return to_string(v);
}
template <typename T>
std::string text_of(T v, bool) {
  return fmt::format("{}", v);
}  // shortest round-trip form
template <typename T>
std::string text_of(const std::vector<T>& v, bool yaml) {
  std::vector<std::string> items;
  for (const auto& x : v) items.push_back(text_of(x, yaml));
  return "[" + join(items) + "]";
}

}  // namespace

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

std::string describe_node(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "an empty value";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      break;
  }
  if (node.Tag() == "!") return fmt::format("the quoted string \"{}\"", node.Scalar());
  return fmt::format("`{}`", node.Scalar());
}

std::string expected_text(const KeySpec& spec) {
  std::string range = spec.range.describe();
  if (!range.empty()) range = " " + range;
  std::string element;
  const size_t t = spec.field.index();
  if (t == 0) {
    element = "true or false";
  } else if (t >= 1 && t <= 3) {
    element = "an integer" + range;
  } else if (t == 4 || t == 5) {
    element = "a number" + range;
  } else if (!spec.choices.empty()) {
    element = "one of: " + join(spec.choices);
  } else if (t == 10) {
    element = "an integer" + range;
  } else if (t == 8 || t == 9) {
    element = "a number" + range;
  } else {
    element = "a string";
  }
  if (!spec.is_list()) return element;
  const std::string count = spec.list_size >= 0 ? fmt::format("{} ", spec.list_size) : "";
  return fmt::format("a list of {}values, each {}", count, element);
}

void assign_value(const KeySpec& spec, const Leaf& leaf, Config& config) {
  const Converter conv(spec, leaf.origin);
  const YAML::Node& n = leaf.node;
  std::visit(
      [&](auto field) {
        auto& target = field(config);
        using T = std::decay_t<decltype(target)>;
        if constexpr (std::is_same_v<T, TaskKind>) {
          target = task_kind_from_string(conv.scalar<std::string>(n, spec.path));
        } else if constexpr (std::is_same_v<T, std::vector<float>> ||
                             std::is_same_v<T, std::vector<double>> ||
                             std::is_same_v<T, std::vector<int64_t>> ||
                             std::is_same_v<T, std::vector<std::string>>) {
          target = conv.list<typename T::value_type>(n);
        } else {
          target = conv.scalar<T>(n, spec.path);
        }
      },
      spec.field);
}

void assign_values(const RawConfig& raw, Config& config) {
  for (const auto& spec : config_schema()) {
    const auto it = raw.leaves.find(spec.path);
    if (it != raw.leaves.end()) assign_value(spec, it->second, config);
  }
}

std::string format_value(const KeySpec& spec, const Config& config, bool yaml) {
  // The accessors take a mutable Config; reading through them does not modify it.
  Config& c = const_cast<Config&>(config);
  return std::visit([&](auto field) { return text_of(field(c), yaml); }, spec.field);
}

}  // namespace tessera
