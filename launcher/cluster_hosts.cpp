#include "launcher/cluster_hosts.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace tessera {

namespace {

int parse_positive(const std::string& text, const std::string& what) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text.c_str(), &end, 10);
  TESSERA_CHECK(!text.empty() && end && *end == '\0' && errno == 0 && v > 0 && v <= 1000000,
                "{}: expected a positive slot count, found \"{}\"", what, text);
  return static_cast<int>(v);
}

}  // namespace

std::vector<HostSlots> parse_host_list(const std::string& list, const std::string& what) {
  std::vector<HostSlots> hosts;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    TESSERA_CHECK(!item.empty() && item.find_first_of(" \t") == std::string::npos,
                  "{}: expected host[:slots] entries separated by commas, found \"{}\"", what,
                  list);
    HostSlots h;
    const auto colon = item.find(':');
    h.host = item.substr(0, colon);
    TESSERA_CHECK(!h.host.empty(), "{}: empty host name in \"{}\"", what, list);
    if (colon != std::string::npos) h.slots = parse_positive(item.substr(colon + 1), what);
    hosts.push_back(h);
  }
  TESSERA_CHECK(!hosts.empty(), "{}: no hosts given", what);
  return hosts;
}

std::vector<HostSlots> parse_hostfile(const std::string& text, const std::string& path) {
  std::vector<HostSlots> hosts;
  std::stringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::stringstream words(line);
    std::string word;
    if (!(words >> word)) continue;
    HostSlots h;
    h.host = word;
    while (words >> word) {
      const auto eq = word.find('=');
      const std::string key = word.substr(0, eq);
      const std::string where = path + ":" + std::to_string(number);
      TESSERA_CHECK(eq != std::string::npos &&
                        (key == "slots" || key == "max_slots" || key == "max-slots"),
                    "{}: expected \"host [slots=N] [max_slots=N]\", found \"{}\"", where, word);
      if (key == "slots") h.slots = parse_positive(word.substr(eq + 1), where);
    }
    hosts.push_back(h);
  }
  TESSERA_CHECK(!hosts.empty(), "hostfile {}: no hosts in it", path);
  return hosts;
}

std::string read_text_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  TESSERA_CHECK(in.good(), "{} {}: cannot open: {}", what, path, std::strerror(errno));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace tessera
