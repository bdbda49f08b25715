#include "launcher/cluster_shell.h"

#include "common/error.h"
#include "common/text.h"

namespace tessera {

namespace {

bool safe_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '_': case '@': case '%': case '+': case '=': case ':': case ',': case '.': case '/':
    case '-':
      return true;
    default:
      return false;
  }
}

std::string single_quoted(const std::string& word) {
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

}  // namespace

std::string shell_quote(const std::string& word) {
  TESSERA_CHECK(word.find('\0') == std::string::npos,
                "\"{}\" holds a NUL byte: it cannot be a command-line argument",
                comment_text(word));
  if (word.empty()) return "''";
  bool safe = true;
  for (char c : word) safe = safe && safe_char(c);
  // A leading '=' or '%' is harmless in sh, but '-'-leading words are fine too: they are
  // arguments, not shell syntax. Only '~' at the start would expand, and it is not safe_char.
  if (safe) return word;
  return single_quoted(word);
}

std::string shell_join(const std::vector<std::string>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i) out += ' ';
    out += shell_quote(words[i]);
  }
  return out;
}

std::string shell_command(const std::vector<std::string>& argv) {
  std::string out = shell_join(argv);
  if (!argv.empty() && argv[0].find('=') != std::string::npos && shell_quote(argv[0]) == argv[0]) {
    // `a=b cmd` would be an assignment: quote the command word.
    out = single_quoted(argv[0]) + out.substr(argv[0].size());
  }
  return out;
}

bool is_env_name(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

void check_env_name(const std::string& name, const std::string& what) {
  TESSERA_CHECK(is_env_name(name),
                "{}: \"{}\" is not a valid environment variable name (letters, digits and _, "
                "not starting with a digit)",
                what, comment_text(name));
}

std::string shell_env_command(const std::vector<std::pair<std::string, std::string>>& env,
                              const std::vector<std::string>& argv, const std::string& what) {
  for (const auto& [k, v] : env) check_env_name(k, what);
  if (env.empty()) return shell_command(argv);
  std::string out;
  const bool env_would_eat_command = !argv.empty() && argv[0].find('=') != std::string::npos;
  if (!env_would_eat_command) {
    out = "env ";
    for (const auto& [k, v] : env) out += shell_quote(k + "=" + v) + " ";
  } else {
    for (const auto& [k, v] : env) out += k + "=" + shell_quote(v) + " ";
  }
  return out + shell_command(argv);
}

std::string comment_text(const std::string& text) { return escape_text(text); }

}  // namespace tessera
