// Durable file-system primitives (POSIX) used by the checkpoint store, and usable by anyone who
// needs a file to be either fully written or untouched after a crash.
//
// Every function throws tessera::Error naming the path(s) and the OS error on failure; none
// returns a status except try_exchange_paths (which reports "unsupported" as false).
// Durability contract: write_file_durable and write_file_atomic return only after the data has
// been fsync()ed; write_file_atomic and rename_durable also fsync the parent directory so the
// new name survives power loss. All functions are reentrant; concurrent writers of the same path
// are not supported (the caller serialises, e.g. rank 0 only).
#pragma once

#include <string>
#include <string_view>

namespace tessera::checkpoints {

// Whole contents of a file. Error names the path.
std::string read_file(const std::string& path);

// Writes all of `bytes` to the open descriptor `fd` (retrying short writes and EINTR; no fsync):
// the appenders of metrics.jsonl and the TensorBoard event file use it. Error names `path`.
void write_all(int fd, std::string_view bytes, const std::string& path);

// Creates `path`, writes all bytes, fsyncs and closes it. The file must not exist (O_EXCL)
// unless `replace_existing`, in which case an existing file is truncated first (not atomic:
// use write_file_atomic to replace a file that must stay valid).
void write_file_durable(const std::string& path, std::string_view bytes,
                        bool replace_existing = false);

// Replaces `path` atomically: writes `<path>.tmp`, fsyncs it, renames it over `path`, fsyncs
// the parent directory. After a crash, `path` holds either the old or the new contents, never a
// mixture; a stale `<path>.tmp` may be left behind (it is overwritten next time).
void write_file_atomic(const std::string& path, std::string_view bytes);

// fsync() of a directory, making renames/creations/removals inside it durable.
void fsync_dir(const std::string& dir);

// rename(2) that throws on failure, naming both paths.
void rename_path(const std::string& from, const std::string& to);

// Atomically swaps two existing paths (renameat2 RENAME_EXCHANGE). Returns false when the file
// system or kernel does not support it (the caller must then fall back); throws on other errors.
bool try_exchange_paths(const std::string& a, const std::string& b);

// Recursively removes `path` if it exists (no error if it does not). Throws on failure.
void remove_tree(const std::string& path);

// Creates `dir` and missing parents (no error if it exists as a directory).
void make_dirs(const std::string& dir);

// The directory part of a path ("." when there is none).
std::string parent_dir(const std::string& path);

}  // namespace tessera::checkpoints
