#include "checkpoints/file_io.h"

#include "common/error.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera::checkpoints {
namespace {

std::string os_error(int err) { return std::strerror(err); }

// Owns a file descriptor; close errors are reported by close_checked().
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes and returns 0, or the errno of a failed close (e.g. delayed write errors on NFS).
  int close_checked() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

void write_and_sync(const std::string& path, std::string_view bytes, int open_flags) {
  Fd fd(::open(path.c_str(), open_flags | O_WRONLY | O_CLOEXEC, 0644));
  TESSERA_CHECK(fd.get() >= 0, "cannot create {}: {}", path, os_error(errno));
  write_all(fd.get(), bytes, path);
  TESSERA_CHECK(::fsync(fd.get()) == 0, "cannot fsync {}: {}", path, os_error(errno));
  const int err = fd.close_checked();
  TESSERA_CHECK(err == 0, "cannot close {}: {}", path, os_error(err));
}

}  // namespace

void write_all(int fd, std::string_view bytes, const std::string& path) {
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    // Bounded chunks: some kernels cap a single write at ~2 GiB.
    const std::size_t chunk = std::min<std::size_t>(left, std::size_t{1} << 30);
    const ssize_t n = ::write(fd, p, chunk);
    if (n < 0 && errno == EINTR) continue;
    TESSERA_CHECK(n > 0, "cannot write {} ({} bytes left of {}): {}", path, left, bytes.size(),
                  n < 0 ? os_error(errno) : std::string("no progress"));
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

std::string read_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  TESSERA_CHECK(fd.get() >= 0, "cannot open {} for reading: {}", path, os_error(errno));
  struct stat st {};
  TESSERA_CHECK(::fstat(fd.get(), &st) == 0, "cannot stat {}: {}", path, os_error(errno));
  std::string out;
  out.reserve(static_cast<std::size_t>(st.st_size));
  char chunk[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd.get(), chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    TESSERA_CHECK(n >= 0, "cannot read {}: {}", path, os_error(errno));
    if (n == 0) break;
    out.append(chunk, static_cast<std::size_t>(n));
  }
  return out;
}

void write_file_durable(const std::string& path, std::string_view bytes,
                        bool replace_existing) {
  write_and_sync(path, bytes, replace_existing ? (O_CREAT | O_TRUNC) : (O_CREAT | O_EXCL));
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp";
  write_and_sync(tmp, bytes, O_CREAT | O_TRUNC);
  rename_path(tmp, path);
  fsync_dir(parent_dir(path));
}

void fsync_dir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  TESSERA_CHECK(fd.get() >= 0, "cannot open directory {} to fsync it: {}", dir, os_error(errno));
  // Some file systems refuse fsync on directories (EINVAL); there is nothing more to do there.
  const int rc = ::fsync(fd.get());
  TESSERA_CHECK(rc == 0 || errno == EINVAL, "cannot fsync directory {}: {}", dir,
                os_error(errno));
}

void rename_path(const std::string& from, const std::string& to) {
  TESSERA_CHECK(std::rename(from.c_str(), to.c_str()) == 0, "cannot rename {} to {}: {}", from,
                to, os_error(errno));
}

bool try_exchange_paths(const std::string& a, const std::string& b) {
#ifdef RENAME_EXCHANGE
  if (::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0) return true;
  const int err = errno;
  if (err == EINVAL || err == ENOSYS || err == ENOTSUP) return false;
  TESSERA_THROW("cannot exchange {} and {}: {}", a, b, os_error(err));
#else
  (void)a;
  (void)b;
  return false;
#endif
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  TESSERA_CHECK(!ec, "cannot remove {}: {}", path, ec.message());
}

void make_dirs(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  TESSERA_CHECK(!ec, "cannot create directory {}: {}", dir, ec.message());
  TESSERA_CHECK(fs::is_directory(dir, ec), "{} exists but is not a directory", dir);
}

std::string parent_dir(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

}  // namespace tessera::checkpoints
