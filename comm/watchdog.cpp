#include "comm/watchdog.h"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "comm/communicator.h"
#include "common/error.h"

namespace tessera {
namespace {

int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void write_stderr(const std::string& line) {
  // write(2): no stdio/spdlog locks, which a hung thread might hold.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "?";
  return buf;
}

}  // namespace

const char* to_string(Phase phase) {
  switch (phase) {
    case Phase::idle: return "idle";
    case Phase::data: return "data";
    case Phase::forward: return "forward";
    case Phase::backward: return "backward";
    case Phase::allreduce: return "allreduce";
    case Phase::optimizer: return "optimizer";
    case Phase::checkpoint: return "checkpoint";
    case Phase::eval: return "eval";
    case Phase::consensus: return "consensus";
    case Phase::collective: return "collective";
    case Phase::between: return "between phases";
    case Phase::count_: break;
  }
  return "?";
}

bool is_waiting_phase(Phase phase) {
  return phase == Phase::allreduce || phase == Phase::consensus || phase == Phase::collective;
}

Watchdog::Watchdog(Communicator& comm, double timeout_s)
    : Watchdog(comm.rank(), Options{timeout_s, -1.0, true, {}, host_name()},
               [&comm](int code, const std::string& message) { comm.abort(code, message); }) {}

Watchdog::Watchdog(int rank, Options options, AbortFn abort)
    : rank_(rank), options_(std::move(options)), abort_(std::move(abort)) {
  TESSERA_CHECK(options_.timeout_s > 0, "dist.timeout_s must be > 0 seconds, got {}",
                options_.timeout_s);
  TESSERA_CHECK(static_cast<bool>(abort_), "Watchdog needs an abort function");
  if (options_.grace_s < 0) options_.grace_s = std::min(options_.timeout_s / 2, 10.0);
  if (options_.host.empty()) options_.host = host_name();
  for (auto& t : timeouts_) t.store(options_.timeout_s);
  timeouts_[static_cast<int>(Phase::idle)].store(0.0);
  since_ns_.store(now_ns());
  if (options_.start_thread) thread_ = std::thread([this] { run(); });
  spdlog::debug("watchdog: rank {} aborts the job when a phase takes over {} s", rank_,
                options_.timeout_s);
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t Watchdog::now_ns() const {
  return options_.clock ? options_.clock() : steady_now_ns();
}

void Watchdog::write(Phase phase, int64_t index) {
  generation_.fetch_add(1, std::memory_order_acq_rel);  // odd: writing
  phase_.store(static_cast<int>(phase), std::memory_order_relaxed);
  index_.store(index, std::memory_order_relaxed);
  since_ns_.store(now_ns(), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);  // even: consistent
}

Watchdog::Scope Watchdog::enter(Phase phase, int64_t index) {
  Scope scope(this, static_cast<Phase>(phase_.load(std::memory_order_relaxed)),
              index_.load(std::memory_order_relaxed));
  write(phase, index);
  return scope;
}

Watchdog::Scope::Scope(Scope&& other) noexcept
    : dog_(other.dog_), prev_phase_(other.prev_phase_), prev_index_(other.prev_index_) {
  other.dog_ = nullptr;
}

Watchdog::Scope::~Scope() {
  if (dog_ != nullptr) dog_->write(prev_phase_, prev_index_);
}

void Watchdog::set_phase(Phase phase, int64_t index) { write(phase, index); }

void Watchdog::set_step(int64_t step) { step_.store(step, std::memory_order_relaxed); }

void Watchdog::set_timeout(Phase phase, double seconds) {
  TESSERA_CHECK(phase != Phase::count_, "Watchdog::set_timeout: invalid phase");
  timeouts_[static_cast<int>(phase)].store(seconds);
}

double Watchdog::timeout(Phase phase) const { return timeouts_[static_cast<int>(phase)].load(); }

Watchdog::Snapshot Watchdog::snapshot() const {
  for (;;) {
    uint64_t g1 = generation_.load(std::memory_order_acquire);
    if (g1 % 2 == 1) {
      std::this_thread::yield();
      continue;
    }
    Snapshot s{static_cast<Phase>(phase_.load(std::memory_order_relaxed)),
               index_.load(std::memory_order_relaxed), step_.load(std::memory_order_relaxed),
               since_ns_.load(std::memory_order_relaxed)};
    std::atomic_thread_fence(std::memory_order_acquire);
    if (generation_.load(std::memory_order_relaxed) == g1) return s;
  }
}

std::string Watchdog::describe_current() const {
  Snapshot s = snapshot();
  std::string text = fmt::format("phase {}", to_string(s.phase));
  if (s.index >= 0) text += fmt::format(" #{}", s.index);
  if (s.step >= 0) text += fmt::format(" at step {}", s.step);
  return text;
}

bool Watchdog::check() {
  const int64_t now = now_ns();
  if (fired_at_ns_ >= 0) {
    // A waiting rank already reported; abort once its grace has passed.
    if (now - fired_at_ns_ >= static_cast<int64_t>(options_.grace_s * 1e9)) {
      if (!fired_message_.empty()) {
        std::string message = std::move(fired_message_);
        fired_message_.clear();
        abort_(kWatchdogAbortCode, message);
      }
    }
    return true;
  }
  Snapshot s = snapshot();
  const double limit = timeout(s.phase);
  if (limit <= 0) return false;
  const double elapsed = (now - s.since_ns) / 1e9;
  if (elapsed <= limit) return false;

  const bool waiting = is_waiting_phase(s.phase);
  std::string where = fmt::format("phase {}", to_string(s.phase));
  if (s.index >= 0) where += fmt::format(" #{}", s.index);
  if (s.step >= 0) where += fmt::format(" (step {})", s.step);
  const std::string summary =
      fmt::format("rank {} (host {}) stuck in {} for {:.1f} s (timeout {:g} s)", rank_,
                  options_.host, where, elapsed, limit);
  fired_at_ns_ = now;
  if (waiting && options_.grace_s > 0) {
    // Report now, abort after the grace, letting the straggler report first.
    write_stderr(fmt::format("tessera watchdog: {}; it is waiting for other ranks, which "
                             "suggests another rank is stuck (look for its own watchdog line); "
                             "aborting the job in {:g} s\n",
                             summary, options_.grace_s));
    fired_message_ = fmt::format("tessera watchdog: {}; grace period over, aborting the job",
                                 summary);
  } else {
    // The abort function prints the message (comm.abort writes it to stderr).
    abort_(kWatchdogAbortCode,
           fmt::format("tessera watchdog: {}; {}, aborting the job", summary,
                       waiting ? "it is waiting for other ranks"
                               : "this rank is not inside a collective, so it is probably "
                                 "holding up the others"));
  }
  return true;
}

void Watchdog::run() {
  const double poll_s = std::clamp(options_.timeout_s / 20.0, 0.01, 1.0);
  const auto poll = std::chrono::microseconds(static_cast<int64_t>(poll_s * 1e6));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, poll, [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    check();
    lock.lock();
  }
}

}  // namespace tessera
