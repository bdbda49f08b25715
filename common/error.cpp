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

Error::Error(const std::string& context, const std::exception& inner)
    : std::runtime_error(context + ": " + inner.what()), line_(0), context_(context) {
  if (const auto* e = dynamic_cast<const Error*>(&inner)) {
    file_ = e->file_;
    line_ = e->line_;
    message_ = e->message_;
    if (!e->context_.empty()) context_ += ": " + e->context_;
  } else {
    message_ = inner.what();
  }
}

void throw_error(const char* file, int line, const std::string& message) {
  throw Error(file, line, message);
}

}  // namespace tessera
