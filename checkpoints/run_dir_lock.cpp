#include "checkpoints/run_dir_lock.h"

#include "checkpoints/file_io.h"
#include "common/error.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <mutex>
#include <sys/file.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera::checkpoints {

struct RunDirLock::State {
  std::string path;
  int fd = -1;
  ~State() {
    if (fd >= 0) ::close(fd);  // releases the flock
  }
};

namespace {

std::mutex registry_mutex;
std::map<std::string, std::weak_ptr<RunDirLock::State>>& registry() {
  static std::map<std::string, std::weak_ptr<RunDirLock::State>> r;
  return r;
}

std::string holder_line() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "?");
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char when[32];
  std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return fmt::format("host {} pid {} since {}\n", host, ::getpid(), when);
}

std::string read_holder(int fd) {
  char buf[512] = {};
  const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  std::string s = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "a process that is just starting (no host/pid recorded yet)" : s;
}

std::shared_ptr<RunDirLock::State> acquire(const std::string& run_dir) {
  make_dirs(run_dir);
  std::error_code ec;
  std::string key = fs::weakly_canonical(run_dir, ec).string();
  if (ec) key = fs::absolute(run_dir).lexically_normal().string();
  std::lock_guard<std::mutex> guard(registry_mutex);
  if (auto existing = registry()[key].lock()) return existing;

  auto state = std::make_shared<RunDirLock::State>();
  state->path = (fs::path(run_dir) / kRunDirLockName).string();
  state->fd = ::open(state->path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  TESSERA_CHECK(state->fd >= 0, "cannot open the run directory lock {}: {}", state->path,
                std::strerror(errno));
  if (::flock(state->fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      TESSERA_THROW("run directory {} is in use by another tessera process ({}; lock {}). One "
                    "writer per run directory: wait for that job to end or stop it, or choose "
                    "another experiment.name / experiment.output_dir",
                    run_dir, read_holder(state->fd), state->path);
    }
    TESSERA_CHECK(err == ENOLCK || err == EOPNOTSUPP || err == ENOSYS,
                  "cannot lock the run directory lock {}: {}", state->path, std::strerror(err));
    spdlog::warn("cannot lock {} ({}): this file system has no locks, so nothing stops a second "
                 "job from writing into {} at the same time",
                 state->path, std::strerror(err), run_dir);
  }
  const std::string line = holder_line();
  if (::ftruncate(state->fd, 0) != 0 ||
      ::pwrite(state->fd, line.data(), line.size(), 0) != static_cast<ssize_t>(line.size())) {
    spdlog::warn("cannot record the holder in {}: {}", state->path, std::strerror(errno));
  }
  registry()[key] = state;
  return state;
}

}  // namespace

RunDirLock::RunDirLock(const std::string& run_dir, bool enabled) {
  if (enabled) state_ = acquire(run_dir);
}

RunDirLock::~RunDirLock() {
  std::lock_guard<std::mutex> guard(registry_mutex);
  state_.reset();  // under the mutex: a concurrent acquire never sees a half-released lock
}

std::string RunDirLock::path() const { return state_ ? state_->path : std::string(); }

}  // namespace tessera::checkpoints
