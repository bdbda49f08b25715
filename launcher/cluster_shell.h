// Shell quoting for the command lines tessera prints (`launch --dry-run`) and writes
// (`submit`'s job.sbatch). Pure functions, no state, thread-safe.
//
// shell_quote() returns a word that POSIX sh and bash read back as exactly the input string:
// words made only of safe characters ([A-Za-z0-9_@%+=:,./-]) are left as they are, anything else
// is wrapped in single quotes (an embedded ' becomes '\''). The empty string becomes ''.
// shell_join() quotes every word and joins them with single spaces.
#pragma once

#include <string>
#include <vector>

namespace tessera {

std::string shell_quote(const std::string& word);
std::string shell_join(const std::vector<std::string>& words);

}  // namespace tessera
