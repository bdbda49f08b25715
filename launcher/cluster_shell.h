// Shell quoting for the command lines tessera prints (`launch --dry-run`) and writes
// (`submit`'s job.sbatch). Pure functions, no state, thread-safe.
//
// shell_quote() returns a word that POSIX sh and bash read back as exactly the input string:
// words made only of safe characters ([A-Za-z0-9_@%+=:,./-]) are left as they are, anything else
// (spaces, quotes, $, `, ;, newlines ...) is wrapped in single quotes (an embedded ' becomes
// '\''). The empty string becomes ''. A NUL byte cannot be an argument: tessera::Error.
// shell_join() quotes every word and joins them with single spaces. shell_command() does the
// same for a command line: its first word is quoted even when it is all safe characters but
// holds '=' (so the shell never reads the command as a variable assignment).
// shell_env_command() renders `env K=V ... ARGV` (or, when ARGV[0] holds '=', which env would
// read as one more assignment, the POSIX form `K=V ... ARGV`); every K must be a valid variable
// name ([A-Za-z_][A-Za-z0-9_]*), else tessera::Error naming `what` and the name.
// comment_text() makes any text safe inside a `#` comment line of a script: control characters
// (newline, CR, ...) and backslashes become C-style escapes (\n, \r, \x01, \\), so a comment
// always stays one line.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace tessera {

std::string shell_quote(const std::string& word);
std::string shell_join(const std::vector<std::string>& words);
std::string shell_command(const std::vector<std::string>& argv);
std::string shell_env_command(const std::vector<std::pair<std::string, std::string>>& env,
                              const std::vector<std::string>& argv,
                              const std::string& what = "environment variable");

bool is_env_name(const std::string& name);
// Throws tessera::Error unless is_env_name(name); `what` names the source (a config key).
void check_env_name(const std::string& name, const std::string& what);

std::string comment_text(const std::string& text);

}  // namespace tessera
