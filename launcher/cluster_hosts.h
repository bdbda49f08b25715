// Host lists for mpirun: `--host h1:2,h2:2` / cluster.hosts entries and OpenMPI hostfiles.
// Pure parsing (plus read_text_file); errors throw tessera::Error naming the flag, key or
// file:line and what was expected. Thread-safe.
#pragma once

#include <string>
#include <vector>

namespace tessera {

struct HostSlots {
  std::string host;
  int slots = 0;  // 0 = not given (mpirun's default: one slot per core)
};

// "h1:2,h2:2,h3" -> hosts with optional slot counts. `what` names the source in errors.
std::vector<HostSlots> parse_host_list(const std::string& list, const std::string& what);
// An OpenMPI hostfile: "host [slots=N] [max_slots=M]" per line, '#' comments, blank lines.
std::vector<HostSlots> parse_hostfile(const std::string& text, const std::string& path);

// Reads a whole text file; throws tessera::Error naming the path and the reason.
std::string read_text_file(const std::string& path, const std::string& what);

}  // namespace tessera
