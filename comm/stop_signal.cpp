#include "comm/stop_signal.h"

#include <atomic>
#include <cerrno>
#include <cstring>

#include "common/error.h"

namespace tessera {
namespace {

constexpr int kSignals[3] = {SIGTERM, SIGINT, SIGUSR1};

// Process-wide state written by the handler. Lock-free atomics are async-signal-safe.
std::atomic<int> g_requested{0};   // 0 or 1
std::atomic<int> g_signal{0};      // last signal number
std::atomic<bool> g_installed{false};
static_assert(std::atomic<int>::is_always_lock_free, "signal flag must be lock-free");

extern "C" void tessera_stop_handler(int signum) {
  if (g_requested.exchange(1) == 1 && (signum == SIGINT || signum == SIGTERM)) {
    // Second interrupt: give the user the default action (terminate). sigaction and raise are
    // async-signal-safe.
    struct sigaction dfl;
    std::memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(signum, &dfl, nullptr);
    raise(signum);
    return;
  }
  g_signal.store(signum);
}

}  // namespace

const char* signal_name(int signum) {
  switch (signum) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGUSR1: return "SIGUSR1";
    case 0: return "none";
    default: return "signal";
  }
}

StopSignal::StopSignal() {
  TESSERA_CHECK(!g_installed.exchange(true),
                "StopSignal: the stop handlers are already installed by another StopSignal "
                "(create one, in main)");
  g_requested.store(0);
  g_signal.store(0);
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = tessera_stop_handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // blocking system calls resume instead of failing with EINTR
  for (int i = 0; i < 3; ++i) {
    if (sigaction(kSignals[i], &action, &previous_[i]) != 0) {
      int err = errno;
      for (int j = 0; j < i; ++j) sigaction(kSignals[j], &previous_[j], nullptr);
      g_installed.store(false);
      TESSERA_THROW("StopSignal: sigaction({}) failed: {}", signal_name(kSignals[i]),
                    std::strerror(err));
    }
  }
}

StopSignal::~StopSignal() {
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &previous_[i], nullptr);
  g_installed.store(false);
}

bool StopSignal::requested() const { return g_requested.load() != 0; }
int StopSignal::signal_number() const { return g_signal.load(); }
void StopSignal::request() { g_requested.store(1); }
void StopSignal::clear() {
  g_requested.store(0);
  g_signal.store(0);
}

}  // namespace tessera
