// Progress of a long operation (synth, pack, eval, predict): "synth roads 1200/2000 (60%)
// 35.2/s ETA 23s". On a terminal one line is rewritten in place ('\r', at most 10 times a
// second) and ended with a newline; anywhere else (a log file, CI, a batch job's output) a
// plain line is written every 10 s, so logs stay readable and never fill with carriage
// returns. The final line ("in T") only follows earlier ones: an operation shorter than the
// interval prints nothing here (its caller's summary says it). Lines go to stderr by default.
//
// Contract: one thread calls update()/finish(); the clock and the sink are injectable so tests
// run without a terminal and without sleeping. An object destroyed before finish() (an
// exception) ends an open terminal line with a newline and writes nothing else.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace tessera {

// "1h02m", "3m10s", "12s"; "?" for a negative, NaN or absurd value.
std::string format_duration(double seconds);

// The text of one progress line (no '\r' or newline): "WHAT DONE/TOTAL (P%) R/s ETA T", or at
// the end "WHAT TOTAL/TOTAL (100%) in T". total <= 0: "WHAT DONE" with the rate.
std::string progress_line(const std::string& what, int64_t done, int64_t total, double elapsed_s,
                          bool finished);

class Progress {
 public:
  struct Options {
    bool terminal = false;          // rewrite one line in place
    double plain_interval_s = 10;   // not a terminal: a line at most this often
    double terminal_interval_s = 0.1;
    std::function<double()> clock;  // seconds, monotonic; default steady_clock
    std::function<void(const std::string&)> write;  // default: stderr, unbuffered
  };
  // Terminal when stderr is one and TERM is not "dumb"; TESSERA_PROGRESS=plain|terminal|off
  // overrides (off: no lines at all); TESSERA_PROGRESS_INTERVAL_S sets the plain interval
  // (0..86400 s; e.g. 60 for a batch job's log).
  static Options for_stderr();

  Progress(std::string what, int64_t total, Options options = for_stderr());
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // `done` items of `total` are complete. Writes a line when the interval has passed.
  void update(int64_t done);
  // The final line ("in T") when a line was shown before; idempotent.
  void finish();

 private:
  void emit(const std::string& text, bool final_line);
  std::string what_;
  int64_t total_;
  int64_t done_ = 0;
  Options opt_;
  bool off_ = false;
  double start_ = 0, last_ = -1e300;
  bool open_line_ = false;  // terminal: a line without its newline is on screen
  bool shown_ = false;      // a line was written (finish() writes one only then)
  bool finished_ = false;
};

}  // namespace tessera
