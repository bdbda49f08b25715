// Stage 1 and 2 of loading: YAML files and their `base:` chain into a flat, origin-tracked map
// of leaves; then `--set` overrides. See config_internal.h.
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/eventhandler.h>

#include "common/config_internal.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

Origin file_origin(const std::string& file) {
  Origin o;
  o.file = file;
  return o;
}

std::string section_list_text(const std::string& section) {
  const auto children = config_children(section);
  if (section.empty()) return "Top-level keys: " + join(children);
  return fmt::format("Keys in `{}`: {}", section, join(children));
}

// For an unknown `name` inside `section`: " did you mean `x`?" (or "") naming a sibling, or the
// full path of a key with a close name in another section.
std::string suggestion(const std::string& section, const std::string& name) {
  const std::string sibling = closest_match(name, config_children(section));
  if (!sibling.empty()) return fmt::format(" did you mean `{}`?", sibling);
  std::vector<std::string> names;
  for (const auto& k : config_schema()) names.push_back(k.name());
  for (const auto& s : config_sections()) names.push_back(s.substr(s.rfind('.') + 1));
  const std::string other = closest_match(name, names);
  if (other.empty()) return "";
  for (const auto& k : config_schema()) {
    if (k.name() == other) return fmt::format(" did you mean `{}`?", k.path);
  }
  for (const auto& s : config_sections()) {
    if (s.substr(s.rfind('.') + 1) == other) return fmt::format(" did you mean `{}`?", s);
  }
  return "";
}

std::string read_text_file(const std::string& path, const Origin& referenced_from) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (referenced_from.is_default()) {
      TESSERA_CONFIG_FAIL(file_origin(path), "config file not found");
    }
    TESSERA_CONFIG_FAIL(referenced_from,
                        "base: file not found: {} (base paths are relative to the directory of "
                        "the file that names them)",
                        path);
  }
  if (fs::is_directory(path, ec)) {
    TESSERA_CONFIG_FAIL(file_origin(path), "expected a YAML file, found a directory");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in.good() && !in.eof()) TESSERA_CONFIG_FAIL(file_origin(path), "cannot read the file");
  return ss.str();
}

class Reader {
 public:
  explicit Reader(RawConfig& raw) : raw_(raw) {}

  // `name`: display name; `base_dir`: where relative base paths of this file resolve.
  void read(const std::string& text, const std::string& name, const std::string& base_dir) {
    chain_.push_back(name);
    keys_.push_back(canonical(name));
    raw_.files.push_back(name);
    YAML::Node root = parse(text, name);
    if (root.IsNull()) {
      root = YAML::Node(YAML::NodeType::Map);
    } else if (!root.IsMap()) {
      TESSERA_CONFIG_FAIL(origin_of(name, root.Mark()),
                          "expected a mapping of sections at the top level (experiment:, task:, "
                          "model:, ...), found {}",
                          describe_node(root));
    }
    for (auto it = root.begin(); it != root.end(); ++it) {
      const YAML::Node k = it->first;
      const YAML::Node v = it->second;
      if (k.IsScalar() && k.Scalar() == "base") read_base(v, name, base_dir);
    }
    flatten(root, "", name);
    chain_.pop_back();
    keys_.pop_back();
  }

 private:
  // One document, read without YAML::LoadAll: yaml-cpp 0.7's LoadAll never ends on a stray `,`
  // at document level (",", "[a], b", "--- ,"): each HandleNextDocument() yields one more empty
  // document without consuming it, and the vector of documents grows until memory runs out
  // (found by tests/fuzz/fuzz_config). The first document is loaded alone; further ones are only
  // counted, in a bounded loop.
  static YAML::Node parse(const std::string& text, const std::string& name) {
    YAML::Node first;
    DocumentCounter counter;
    try {
      first = YAML::Load(text);
      std::istringstream in(text);
      YAML::Parser parser(in);
      for (int i = 0; i < 2 && parser.HandleNextDocument(counter); ++i) {
      }
    } catch (const YAML::ParserException& e) {
      TESSERA_CONFIG_FAIL(origin_of(name, e.mark), "malformed YAML: {}", e.msg);
    } catch (const YAML::Exception& e) {
      TESSERA_CONFIG_FAIL(origin_of(name, e.mark), "malformed YAML: {}", e.msg);
    }
    if (counter.documents > 1) {
      TESSERA_CONFIG_FAIL(origin_of(name, counter.second),
                          "expected one YAML document, found more (a `---` separator, or a `,` "
                          "outside [ ] or {{ }} that ends the first one)");
    }
    return first;
  }

  // Counts documents and remembers where the second starts; ignores their contents.
  struct DocumentCounter : YAML::EventHandler {
    int documents = 0;
    YAML::Mark second;
    void OnDocumentStart(const YAML::Mark& mark) override {
      if (++documents == 2) second = mark;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  };

  static std::string canonical(const std::string& name) {
    std::error_code ec;
    fs::path p = fs::weakly_canonical(fs::path(name), ec);
    return ec ? fs::path(name).lexically_normal().string() : p.string();
  }

  void read_base(const YAML::Node& value, const std::string& name, const std::string& base_dir) {
    const Origin at = origin_of(name, value.Mark());
    if (!value.IsScalar() || value.Scalar().empty()) {
      TESSERA_CONFIG_FAIL(at, "base: expected the path of a YAML file (relative to {}), found {}",
                          base_dir.empty() ? "this file" : base_dir, describe_node(value));
    }
    const fs::path rel(value.Scalar());
    const std::string path =
        (rel.is_absolute() ? rel : fs::path(base_dir) / rel).lexically_normal().string();
    const std::string key = canonical(path);
    for (size_t i = 0; i < keys_.size(); ++i) {
      if (keys_[i] == key) {
        std::vector<std::string> cycle(chain_.begin() + static_cast<long>(i), chain_.end());
        cycle.push_back(path);
        TESSERA_CONFIG_FAIL(at, "base: inheritance cycle: {}", join(cycle, " -> "));
      }
    }
    const std::string text = read_text_file(path, at);
    read(text, path, fs::path(path).parent_path().string());
  }

  void flatten(const YAML::Node& map, const std::string& section, const std::string& file) {
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node k = it->first;  // copies: the iterator's -> returns a temporary proxy
      const YAML::Node v = it->second;
      const Origin key_at = origin_of(file, k.Mark());
      if (!k.IsScalar()) {
        TESSERA_CONFIG_FAIL(key_at, "expected a key name{}, found {}",
                            section.empty() ? "" : " in `" + section + "`", describe_node(k));
      }
      const std::string name = k.Scalar();
      const std::string path = section.empty() ? name : section + "." + name;
      if (!seen.insert(name).second) {
        TESSERA_CONFIG_FAIL(key_at, "duplicate key `{}` (each key may appear once per mapping)",
                            path);
      }
      if (section.empty() && name == "base") continue;  // handled by read_base
      if (find_config_key(path) != nullptr) {
        raw_.leaves[path] = Leaf{v, v.IsNull() ? key_at : origin_of(file, v.Mark())};
      } else if (is_config_section(path)) {
        if (v.IsNull()) continue;  // `model:` with nothing under it
        if (!v.IsMap()) {
          TESSERA_CONFIG_FAIL(origin_of(file, v.Mark()),
                              "`{}` is a section: expected a mapping of its keys, found {}. {}",
                              path, describe_node(v), section_list_text(path));
        }
        flatten(v, path, file);
      } else {
        TESSERA_CONFIG_FAIL(key_at, "unknown key `{}`;{} {}", path, suggestion(section, name),
                            section_list_text(section));
      }
    }
  }

  RawConfig& raw_;
  std::vector<std::string> chain_;  // display names, outermost first
  std::vector<std::string> keys_;   // canonical paths of chain_
};

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace

std::string Origin::where() const {
  if (!override.empty()) return "--set " + override;
  if (file.empty()) return "default";
  if (line > 0) return fmt::format("{}:{}:{}", file, line, column);
  return file;
}

Origin origin_of(const std::string& file, const YAML::Mark& mark) {
  Origin o;
  o.file = file;
  if (!mark.is_null() && mark.line >= 0) {
    o.line = mark.line + 1;
    o.column = mark.column + 1;
  }
  return o;
}

std::string config_message(const Origin& origin, const std::string& message) {
  return origin.where() + ": " + message;
}

RawConfig read_config_text(const std::string& text, const std::string& name,
                           const std::string& base_dir) {
  RawConfig raw;
  raw.top_file = name;
  Reader(raw).read(text, name, base_dir);
  return raw;
}

RawConfig read_config_file(const std::string& path) {
  const std::string text = read_text_file(path, Origin{});
  return read_config_text(text, path, fs::path(path).parent_path().string());
}

void apply_overrides(RawConfig& raw, const std::vector<std::string>& overrides) {
  for (const auto& arg : overrides) {
    Origin at;
    at.override = arg;
    const auto eq = arg.find('=');
    const std::string path = trim(arg.substr(0, eq));
    if (eq == std::string::npos || path.empty()) {
      TESSERA_CONFIG_FAIL(at, "expected key.path=value (e.g. --set optim.lr=3e-4)");
    }
    const std::string text = arg.substr(eq + 1);
    if (path == "base") TESSERA_CONFIG_FAIL(at, "`base` cannot be overridden");
    const KeySpec* spec = find_config_key(path);
    if (spec == nullptr) {
      if (is_config_section(path)) {
        TESSERA_CONFIG_FAIL(at,
                            "`{}` is a section, not a value; set one of its keys ({}.{}=...). "
                            "{}",
                            path, path, config_children(path).front(), section_list_text(path));
      }
      const auto dot = path.rfind('.');
      const std::string section = dot == std::string::npos ? "" : path.substr(0, dot);
      const std::string name = dot == std::string::npos ? path : path.substr(dot + 1);
      std::string hint;
      if (is_config_section(section)) {
        const std::string sibling = closest_match(name, config_children(section));
        if (!sibling.empty())
          hint = fmt::format(" did you mean `{}`?",
                             section.empty() ? sibling : section + "." + sibling);
      }
      if (hint.empty()) {
        std::vector<std::string> paths;
        for (const auto& k : config_schema()) paths.push_back(k.path);
        const std::string full = closest_match(path, paths);
        hint = full.empty() ? suggestion(section, name) : fmt::format(" did you mean `{}`?", full);
      }
      TESSERA_CONFIG_FAIL(at, "unknown key `{}`;{} {}", path, hint,
                          section_list_text(is_config_section(section) ? section : ""));
    }
    YAML::Node node;
    if (trim(text).empty() && spec->is_string()) {
      node = YAML::Node(std::string());  // `--set cluster.partition=` sets an empty string
    } else {
      try {
        node = YAML::Load(text);
      } catch (const YAML::Exception& e) {
        TESSERA_CONFIG_FAIL(at, "{}: malformed value `{}`: {}", path, text, e.msg);
      }
    }
    raw.leaves[path] = Leaf{node, at};
  }
}

}  // namespace tessera
