// Watchdog: one thread per rank that ends the job when the rank stays too long in a phase.
//
// The trainer marks what the rank is doing with a cheap, lock-free API:
//     auto scope = watchdog.enter(Phase::allreduce, k);   // RAII: restores the previous phase
//     watchdog.set_step(step);
// If the current phase has lasted longer than its timeout (default: dist.timeout_s for every
// phase; Phase::idle (before and after training) never times out, Phase::between (training
// code outside the marked phases) does; set_timeout() overrides one phase, <= 0 disables it), the
// watchdog writes one line on stderr naming the rank, host, phase (+ index), step and elapsed
// time, then calls the abort function (default: comm.abort, i.e. MPI_Abort / ncclCommAbort), so
// mpirun or srun ends every rank instead of leaving the job hanging.
//
// Naming the culprit: when one rank hangs (in compute, I/O...), the others time out too, waiting
// in a collective. Ranks in a waiting phase (allreduce, consensus, collective) therefore report
// at once but abort only after a grace period (default min(timeout/2, 10 s)), so the straggler —
// which is in a non-waiting phase and aborts immediately — gets its line into the log first.
//
// Threads: enter()/leave()/set_step() from the one thread that drives training (a seqlock keeps
// the watchdog's reads consistent without locks). The abort function runs on the watchdog
// thread. The destructor stops and joins the thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace tessera {

class Communicator;

enum class Phase : int {
  idle = 0,
  data,
  forward,
  backward,
  allreduce,  // waiting for gradient averaging (index: bucket or collective number)
  optimizer,
  checkpoint,
  eval,
  consensus,   // the per-step loss/flag reduction (StepConsensus)
  collective,  // any other collective (barrier, broadcast, fingerprint check)
  between,     // training, outside every marked phase (logging, epoch start, device copies)
  count_
};

const char* to_string(Phase phase);
// Phases in which a rank waits for the others (see "Naming the culprit").
bool is_waiting_phase(Phase phase);

// Exit code given to abort() by the watchdog.
constexpr int kWatchdogAbortCode = 3;

class Watchdog {
 public:
  using AbortFn = std::function<void(int code, const std::string& message)>;
  using ClockFn = std::function<int64_t()>;  // nanoseconds, monotonic

  struct Options {
    double timeout_s = 300.0;
    double grace_s = -1.0;     // < 0: min(timeout_s / 2, 10)
    bool start_thread = true;  // false: no thread, the owner calls check() (tests)
    ClockFn clock;             // empty: std::chrono::steady_clock
    std::string host;          // for messages
  };

  // Aborts through comm.abort().
  Watchdog(Communicator& comm, double timeout_s);
  Watchdog(int rank, Options options, AbortFn abort);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  class Scope {
   public:
    Scope(Scope&& other) noexcept;
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    Scope& operator=(Scope&&) = delete;
    ~Scope();

   private:
    friend class Watchdog;
    Scope(Watchdog* dog, Phase prev_phase, int64_t prev_index)
        : dog_(dog), prev_phase_(prev_phase), prev_index_(prev_index) {}
    Watchdog* dog_;
    Phase prev_phase_;
    int64_t prev_index_;
  };

  // Marks the start of `phase` (index -1 = none); the scope's end restores the previous phase
  // (its clock restarts: the outer phase is measured from the return).
  [[nodiscard]] Scope enter(Phase phase, int64_t index = -1);
  void set_phase(Phase phase, int64_t index = -1);  // unscoped variant
  void set_step(int64_t step);
  void set_timeout(Phase phase, double seconds);
  double timeout(Phase phase) const;

  // One check, as the thread does it every poll interval. Returns true when it fired (reported
  // and, after the grace for waiting phases, called the abort function).
  bool check();

  // "phase allreduce #3 at step 12" (what a report would say now).
  std::string describe_current() const;

  // True on the thread that constructed the watchdog (the training thread): code that may also
  // run elsewhere (autograd's device threads run a CUDA backward) marks phases only there.
  bool on_training_thread() const { return std::this_thread::get_id() == owner_; }

 private:
  struct Snapshot {
    Phase phase;
    int64_t index;
    int64_t step;
    int64_t since_ns;
  };
  Snapshot snapshot() const;
  int64_t now_ns() const;
  void run();
  void write(Phase phase, int64_t index);

  int rank_;
  std::thread::id owner_ = std::this_thread::get_id();
  Options options_;
  AbortFn abort_;
  std::atomic<double> timeouts_[static_cast<int>(Phase::count_)];

  // Seqlock-protected state: odd generation = being written.
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> phase_{0};
  std::atomic<int64_t> index_{-1};
  std::atomic<int64_t> step_{-1};
  std::atomic<int64_t> since_ns_{0};

  // Set once fired: a waiting rank reported and is in its grace period.
  int64_t fired_at_ns_ = -1;
  std::string fired_message_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace tessera
