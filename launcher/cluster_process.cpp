#include "launcher/cluster_process.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/error.h"

namespace tessera {

namespace {

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read, write;
};

Pipe make_pipe() {
  int fds[2];
  TESSERA_CHECK(::pipe2(fds, O_CLOEXEC) == 0, "pipe2 failed: {}", std::strerror(errno));
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

constexpr int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

// In a forked child: execs args, or writes exec's errno to `status_fd` and exits 127. Only
// async-signal-safe calls.
[[noreturn]] void exec_or_report(std::vector<char*>& args, int status_fd) {
  ::execvp(args[0], args.data());
  int e = errno;
  ssize_t ignored = ::write(status_fd, &e, sizeof(e));
  (void)ignored;
  ::_exit(127);
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, double timeout_s) {
  TESSERA_CHECK(!argv.empty(), "run_command: empty command");
  Pipe out = make_pipe(), err = make_pipe(), status = make_pipe();
  auto args = c_argv(argv);
  const pid_t pid = ::fork();
  TESSERA_CHECK(pid >= 0, "fork failed: {}", std::strerror(errno));
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out.write.get(), 1);
    ::dup2(err.write.get(), 2);
    exec_or_report(args, status.write.get());
  }
  out.write.reset();
  err.write.reset();
  status.write.reset();

  int exec_errno = 0;
  if (::read(status.read.get(), &exec_errno, sizeof(exec_errno)) == sizeof(exec_errno)) {
    ::waitpid(pid, nullptr, 0);
    TESSERA_THROW("cannot run {}: {}{}", argv[0], std::strerror(exec_errno),
                  exec_errno == ENOENT ? " (is it installed and on PATH?)" : "");
  }

  CommandResult result;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  bool out_open = true, err_open = true;
  char buf[4096];
  while (out_open || err_open) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd fds[2] = {{out_open ? out.read.get() : -1, POLLIN, 0},
                     {err_open ? err.read.get() : -1, POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (n < 0 && errno != EINTR) TESSERA_THROW("poll failed: {}", std::strerror(errno));
    for (int i = 0; i < 2 && n > 0; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t got = ::read(fds[i].fd, buf, sizeof(buf));
      if (got > 0) {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        (i == 0 ? out_open : err_open) = false;
      }
    }
  }
  if (result.timed_out) ::kill(pid, SIGKILL);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(wstatus) && !result.timed_out) {
    result.exit_code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    result.signal = WTERMSIG(wstatus);
  }
  return result;
}

void exec_command(const std::vector<std::string>& argv,
                  const std::vector<std::pair<std::string, std::string>>& env) {
  TESSERA_CHECK(!argv.empty(), "exec_command: empty command");
  for (const auto& [k, v] : env) {
    TESSERA_CHECK(::setenv(k.c_str(), v.c_str(), 1) == 0, "setenv {} failed: {}", k,
                  std::strerror(errno));
  }
  auto args = c_argv(argv);
  ::execvp(args[0], args.data());
  const int e = errno;
  TESSERA_THROW("cannot run {}: {}{}", argv[0], std::strerror(e),
                e == ENOENT ? " (is it installed and on PATH?)" : "");
}

int supervise_command(const std::vector<std::string>& argv,
                      const std::vector<std::pair<std::string, std::string>>& env) {
  TESSERA_CHECK(!argv.empty(), "supervise_command: empty command");
  for (const auto& [k, v] : env) {
    TESSERA_CHECK(::setenv(k.c_str(), v.c_str(), 1) == 0, "setenv {} failed: {}", k,
                  std::strerror(errno));
  }
  // The forwarded signals and SIGCHLD are blocked here and taken with sigtimedwait below: no
  // asynchronous handler, no race between a signal and the child's exit.
  sigset_t wanted, old_mask;
  sigemptyset(&wanted);
  for (int sig : kForwardedSignals) sigaddset(&wanted, sig);
  sigaddset(&wanted, SIGCHLD);
  TESSERA_CHECK(::pthread_sigmask(SIG_BLOCK, &wanted, &old_mask) == 0, "pthread_sigmask failed");
  struct MaskGuard {
    sigset_t mask;
    ~MaskGuard() { ::pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
  } restore{old_mask};

  Pipe status = make_pipe();
  auto args = c_argv(argv);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  TESSERA_CHECK(pid >= 0, "fork failed: {}", std::strerror(errno));
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec. If the supervisor dies (SIGKILL), the
    // launcher gets SIGTERM and ends the job rather than run on unsupervised.
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(128 + SIGTERM);
    exec_or_report(args, status.write.get());
  }
  status.write.reset();
  int exec_errno = 0;
  if (::read(status.read.get(), &exec_errno, sizeof(exec_errno)) == sizeof(exec_errno)) {
    ::waitpid(pid, nullptr, 0);
    TESSERA_THROW("cannot run {}: {}{}", argv[0], std::strerror(exec_errno),
                  exec_errno == ENOENT ? " (is it installed and on PATH?)" : "");
  }

  int wstatus = 0;
  for (;;) {
    const pid_t done = ::waitpid(pid, &wstatus, WNOHANG);
    if (done == pid) break;
    TESSERA_CHECK(done == 0 || errno == EINTR, "waitpid({}) failed: {}", pid,
                  std::strerror(errno));
    siginfo_t info{};
    const timespec tick{1, 0};  // SIGCHLD ends the wait at once; the tick is a safety net
    const int sig = ::sigtimedwait(&wanted, &info, &tick);
    if (sig <= 0 || sig == SIGCHLD) continue;
    // A signal the terminal raised (Ctrl-C: si_code SI_KERNEL) went to the whole foreground
    // process group, the launcher included: forwarding it again would send it twice.
    if (info.si_code == SI_USER || info.si_code == SI_QUEUE || info.si_code == SI_TKILL) {
      ::kill(pid, sig);
    }
  }
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return 1;
}

std::string current_executable() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  TESSERA_CHECK(!ec, "cannot resolve /proc/self/exe: {}", ec.message());
  return p.string();
}

}  // namespace tessera
