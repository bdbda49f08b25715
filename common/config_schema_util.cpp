// Queries over the schema table: ranges, key lookup, sections, "did you mean", docs table.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "common/config_internal.h"
#include "common/config_schema.h"

namespace tessera {
namespace {

std::string number_text(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{}", v);
}

}  // namespace

bool Range::bounded() const {
  return !std::isinf(lo) || !std::isinf(hi);
}

bool Range::contains(double v) const {
  if (lo_open ? !(v > lo) : !(v >= lo)) return false;
  if (hi_open ? !(v < hi) : !(v <= hi)) return false;
  return true;
}

std::string Range::describe() const {
  const bool has_lo = !std::isinf(lo);
  const bool has_hi = !std::isinf(hi);
  if (has_lo && has_hi) {
    return fmt::format("in {}{}, {}{}", lo_open ? "(" : "[", number_text(lo), number_text(hi),
                       hi_open ? ")" : "]");
  }
  if (has_lo) return fmt::format("{} {}", lo_open ? ">" : ">=", number_text(lo));
  if (has_hi) return fmt::format("{} {}", hi_open ? "<" : "<=", number_text(hi));
  return "";
}

std::string KeySpec::section() const {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? std::string() : path.substr(0, dot);
}

std::string KeySpec::name() const {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

bool KeySpec::is_list() const {
  return field.index() >= 8;
}

bool KeySpec::is_string() const {
  return std::holds_alternative<std::string& (*)(Config&)>(field) ||
         std::holds_alternative<TaskKind& (*)(Config&)>(field);
}

std::string KeySpec::type_name() const {
  switch (field.index()) {
    case 0:
      return "bool";
    case 1:
    case 2:
    case 3:
      return "integer";
    case 4:
    case 5:
      return "number";
    case 6:
    case 7:
      return choices.empty() ? "string" : "enum";
    case 8:
    case 9:
      return "list of numbers";
    case 10:
      return "list of integers";
    default:
      return choices.empty() ? "list of strings" : "list of enums";
  }
}

const std::vector<std::string>& config_sections() {
  static const std::vector<std::string> sections = [] {
    std::vector<std::string> out;
    for (const auto& k : config_schema()) {
      std::string s = k.section();
      // every prefix of the section is a section too ("data" for "data.augment")
      std::vector<std::string> prefixes;
      for (auto dot = s.find('.'); dot != std::string::npos; dot = s.find('.', dot + 1)) {
        prefixes.push_back(s.substr(0, dot));
      }
      prefixes.push_back(s);
      for (const auto& p : prefixes) {
        if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
      }
    }
    return out;
  }();
  return sections;
}

bool is_config_section(const std::string& path) {
  const auto& s = config_sections();
  return std::find(s.begin(), s.end(), path) != s.end();
}

const KeySpec* find_config_key(const std::string& path) {
  for (const auto& k : config_schema()) {
    if (k.path == path) return &k;
  }
  return nullptr;
}

std::vector<std::string> config_children(const std::string& section) {
  std::vector<std::string> out;
  const std::string prefix = section.empty() ? "" : section + ".";
  auto add = [&](const std::string& full) {
    if (full.compare(0, prefix.size(), prefix) != 0 || full.size() == prefix.size()) return;
    std::string rest = full.substr(prefix.size());
    rest = rest.substr(0, rest.find('.'));
    if (std::find(out.begin(), out.end(), rest) == out.end()) out.push_back(rest);
  };
  for (const auto& s : config_sections()) add(s);
  for (const auto& k : config_schema()) add(k.path);
  if (section.empty()) out.insert(out.begin(), "base");
  return out;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  // Optimal string alignment (Levenshtein + adjacent transpositions), case-insensitive.
  auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (const auto& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  const size_t limit = std::max<size_t>(2, word.size() / 3);
  // A prefix/suffix relation ("lr" vs "min_lr", "filter" vs "filters") also counts as close.
  if (best_d <= limit) return best;
  for (const auto& c : candidates) {
    if (word.size() >= 3 && (c.find(word) != std::string::npos || word.find(c) == 0)) return c;
  }
  return "";
}

std::string config_keys_markdown() {
  const Config defaults;
  std::string out;
  std::string current;
  for (const auto& k : config_schema()) {
    if (k.section() != current) {
      current = k.section();
      out += fmt::format("\n### `{}`\n\n", current);
      out += "| key | type | default | allowed | meaning | read by |\n|---|---|---|---|---|---|\n";
    }
    std::string allowed;
    if (!k.choices.empty()) {
      allowed = join(k.choices, ", ");
    } else if (k.range.bounded()) {
      allowed = k.range.describe();
    }
    if (k.list_size >= 0)
      allowed =
          fmt::format("{} values{}{}", k.list_size, allowed.empty() ? "" : ", each ", allowed);
    std::string def = "`" + format_value(k, defaults, true) + "`";
    if (k.required) def = "required";
    if (!k.not_implemented.empty()) allowed = def + " only (the rest: not implemented yet)";
    out += fmt::format("| `{}` | {} | {} | {} | {} | {} |\n", k.path, k.type_name(), def, allowed,
                       k.doc, k.read_by);
  }
  return out;
}

}  // namespace tessera
