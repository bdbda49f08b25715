#include "common/error.h"

#include <cstring>

namespace tessera {

const char* short_file(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

Error::Error(const char* file, int line, const std::string& message)
    : std::runtime_error(fmt::format("{}:{}: {}", short_file(file), line, message)),
      file_(short_file(file)),
      line_(line),
      message_(message) {}

void throw_error(const char* file, int line, const std::string& message) {
  throw Error(file, line, message);
}

}  // namespace tessera
