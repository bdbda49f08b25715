// Errors. Library code reports every failure by throwing tessera::Error, which carries the
// source location (file:line) of the throw and a human-readable context ("what was being done,
// with which file/key/rank, and what was expected"). Only main() catches, logs and, under MPI,
// calls MPI_Abort so no rank is left waiting.
//
// TESSERA_THROW(fmt, args...)        always throws, message formatted with {fmt}.
// TESSERA_CHECK(cond, fmt, args...)  throws when cond is false; never compiled out (unlike
//                                    assert), so it may validate input.
// Library-specific return-code checks live beside the library they need:
//   common/check_mpi.h (TESSERA_CHECK_MPI), common/check_hdf5.h (TESSERA_CHECK_HDF5),
//   common/check_cuda.h (TESSERA_CHECK_CUDA, TESSERA_CHECK_NCCL).
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace tessera {

class Error : public std::runtime_error {
 public:
  Error(const char* file, int line, const std::string& message);

  const std::string& file() const { return file_; }
  int line() const { return line_; }
  // The message without the location prefix.
  const std::string& message() const { return message_; }

 private:
  std::string file_;
  int line_;
  std::string message_;
};

// Strips the directory part of __FILE__ so messages read "config.cpp:123".
const char* short_file(const char* path);

[[noreturn]] void throw_error(const char* file, int line, const std::string& message);

}  // namespace tessera

#define TESSERA_THROW(...) ::tessera::throw_error(__FILE__, __LINE__, ::fmt::format(__VA_ARGS__))

#define TESSERA_CHECK(cond, ...)                                                      \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      ::tessera::throw_error(__FILE__, __LINE__, ::fmt::format(__VA_ARGS__));         \
    }                                                                                 \
  } while (0)
