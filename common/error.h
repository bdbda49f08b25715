// Errors. Library code reports every failure by throwing tessera::Error, which carries the
// source location (file:line) of the throw and a human-readable context ("what was being done,
// with which file/key/rank, and what was expected"). Only main() catches, logs and, under MPI,
// calls MPI_Abort so no rank is left waiting.
//
// TESSERA_THROW(fmt, args...)        always throws, message formatted with {fmt}.
// TESSERA_CHECK(cond, fmt, args...)  throws when cond is false; never compiled out (unlike
//                                    assert), so it may validate input.
// with_context(ctx, f)               runs f(); an exception thrown inside comes out as an Error
//                                    whose text starts with ctx, before the source location:
//                                    "data.train (set in configs/roads.yaml:13): manifest.cpp:225:
//                                    dataset directory data/roads/train does not exist". Used where
//                                    a config value is handed to a component (Config::where()).
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
  // `inner` (an Error or any exception) with `context` in front: "<context>: <inner.what()>".
  Error(const std::string& context, const std::exception& inner);

  const std::string& file() const { return file_; }
  int line() const { return line_; }
  // The message without the location prefix (and without the context).
  const std::string& message() const { return message_; }
  // What the error happened to ("data.train (set in configs/roads.yaml:13)"); "" when none.
  const std::string& context() const { return context_; }

 private:
  std::string file_;
  int line_;
  std::string message_;
  std::string context_;
};

template <typename F>
decltype(auto) with_context(const std::string& context, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    throw Error(context, e);
  }
}

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
