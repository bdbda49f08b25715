#include "datasets/shard_probe.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "common/error.h"
#include "common/log.h"
#include "datasets/manifest.h"

extern char** environ;

namespace tessera {

namespace fs = std::filesystem;

namespace {

constexpr size_t kShardsPerChild = 256;  // keeps argv far below ARG_MAX

std::string signal_text(int sig) {
  const char* name = sigabbrev_np(sig);
  return fmt::format("signal {} (SIG{})", sig, name ? name : "?");
}

// A started probe child: its pid and the read end of its stdout. Kills and reaps on exit from
// any path, so no child outlives the call.
class ProbeChild {
 public:
  ProbeChild(const std::string& exe, const std::vector<std::string>& paths) {
    int fds[2];
    TESSERA_CHECK(::pipe2(fds, O_CLOEXEC) == 0, "shard probe: pipe: {}", std::strerror(errno));
    read_fd_ = fds[0];
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(exe.c_str()));
    for (const auto& p : paths) argv.push_back(const_cast<char*>(p.c_str()));
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, exe.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(read_fd_);
      TESSERA_THROW("shard probe: cannot start {}: {}", exe, std::strerror(rc));
    }
  }
  ~ProbeChild() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    ::close(read_fd_);
  }
  ProbeChild(const ProbeChild&) = delete;
  ProbeChild& operator=(const ProbeChild&) = delete;
  int fd() const { return read_fd_; }
  int wait() {  // the wait status; reaps the child
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }
  void kill() { ::kill(pid_, SIGKILL); }

 private:
  pid_t pid_ = -1;
  int read_fd_ = -1;
};

// Runs one child over `paths`; throws on a crash or a hang.
void probe_batch(const std::string& dataset, const std::vector<std::string>& paths,
                 const std::string& why, const ProbeOptions& o, const std::string& exe) {
  using Clock = std::chrono::steady_clock;
  ProbeChild child(exe, paths);
  std::string pending;  // bytes of an unfinished line
  long current = -1;    // the shard begun and not yet done
  long refused = -1;    // the first shard the probe refused cleanly, and why
  std::string refusal;
  auto deadline = Clock::now() + std::chrono::duration<double>(o.timeout_s);
  auto stuck = [&](const std::string& cause) {
    const std::string shard = current >= 0 ? paths[static_cast<size_t>(current)] : "(none yet)";
    throw_error(
        __FILE__, __LINE__,
        fmt::format(
            "dataset {}: HDF5 {} while parsing shard {}, which no checksum vouches for ({}). Its "
            "HDF5 metadata is damaged (HDF5 1.10 crashes or loops on some damaged files; tessera "
            "parses such shards in a separate process first, {}, so the job ends here instead). "
            "Restore the file from a copy or re-create it; with a manifest.json beside intact "
            "shards "
            "(`tessera inspect --write-manifest {}`) their checksums are checked before HDF5 "
            "parses "
            "them",
            dataset, cause, shard, why, exe, dataset));
  };
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{child.fd(), POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      child.kill();
      child.wait();
      stuck(fmt::format("did not finish within {} s (a hang; the probe was killed)", o.timeout_s));
    }
    char buf[512];
    const ssize_t got = ::read(child.fd(), buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // EOF: the child exited or died
    pending.append(buf, static_cast<size_t>(got));
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
      long i = -1;
      if (std::sscanf(pending.c_str(), "begin %ld", &i) == 1 && i >= 0 &&
          i < static_cast<long>(paths.size())) {
        current = i;
        deadline = Clock::now() + std::chrono::duration<double>(o.timeout_s);
      } else if (std::sscanf(pending.c_str(), "done %ld", &i) == 1) {
        current = -1;
      } else if (std::sscanf(pending.c_str(), "error %ld", &i) == 1 && i >= 0 &&
                 i < static_cast<long>(paths.size()) && refused < 0) {
        refused = i;
        const size_t text = pending.find(' ', pending.find(' ') + 1);
        refusal = text < nl ? pending.substr(text + 1, nl - text - 1) : "";
      }
    }
  }
  const int status = child.wait();
  if (WIFSIGNALED(status)) stuck(fmt::format("crashed ({})", signal_text(WTERMSIG(status))));
  // Ended mid-shard without a signal: a sanitizer build of the probe reports the crash and exits.
  if (current >= 0) {
    stuck(fmt::format("crashed (the probe exited with status {} mid-shard)",
                      WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  }
  // A clean refusal ends the open here, with the probe's message: parsing the shard again in
  // this process could meet HDF5's heap-dependent behaviour on damaged metadata (a value that
  // read as garbage there can loop here).
  TESSERA_CHECK(refused < 0,
                "dataset {}: shard {}, which no checksum vouches for ({}), is refused (parsed "
                "in a separate process by {}): {}",
                dataset, paths[static_cast<size_t>(std::max(0L, refused))], why, exe, refusal);
  TESSERA_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && current < 0,
                "dataset {}: the shard probe {} ended with exit status {} while parsing {}",
                dataset, exe, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                current >= 0 ? paths[static_cast<size_t>(current)] : std::string("no shard"));
}

}  // namespace

std::string default_probe_executable() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  const fs::path probe = self.parent_path() / "tessera-shard-probe";
  return ::access(probe.c_str(), X_OK) == 0 ? probe.string() : "";
}

void probe_shards(const std::string& dataset, const std::vector<std::string>& shards,
                  const std::string& why, const ProbeOptions& options) {
  if (shards.empty()) return;
  const std::string exe =
      options.executable.empty() ? default_probe_executable() : options.executable;
  if (exe.empty()) {
    spdlog::warn(
        "dataset {}: no tessera-shard-probe beside this executable: {} shard(s) that no checksum "
        "vouches for ({}) are parsed by HDF5 in this process, where a damaged one can crash it",
        dataset, shards.size(), why);
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  for (size_t b = 0; b < shards.size(); b += kShardsPerChild) {
    const auto end =
        shards.begin() + static_cast<std::ptrdiff_t>(std::min(shards.size(), b + kShardsPerChild));
    probe_batch(dataset, {shards.begin() + static_cast<std::ptrdiff_t>(b), end}, why, options, exe);
  }
  spdlog::debug("dataset {}: {} unverified shard(s) parsed by the probe in {:.3f} s", dataset,
                shards.size(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

void probe_if_manifest_less(const std::string& dir, const ProbeOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || fs::exists(fs::path(dir) / kManifestName, ec)) return;
  std::vector<std::string> paths;
  for (const auto& f : list_shard_files(dir)) paths.push_back((fs::path(dir) / f).string());
  probe_shards(dir, paths, "the dataset has no manifest.json", options);
}

}  // namespace tessera
