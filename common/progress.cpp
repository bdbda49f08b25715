#include "common/progress.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace tessera {

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string progress_line(const std::string& what, int64_t done, int64_t total, double elapsed_s,
                          bool finished) {
  const double rate = elapsed_s > 0 ? static_cast<double>(done) / elapsed_s : 0.0;
  const std::string r = rate >= 10 ? fmt::format("{:.0f}/s", rate) : fmt::format("{:.2f}/s", rate);
  if (total <= 0) {
    return finished ? fmt::format("{} {} in {}", what, done, format_duration(elapsed_s))
                    : fmt::format("{} {} {}", what, done, r);
  }
  const int pct = static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total));
  if (finished) {
    return fmt::format("{} {}/{} ({}%) in {}", what, done, total, pct, format_duration(elapsed_s));
  }
  const std::string eta =
      done > 0 ? format_duration(static_cast<double>(total - done) / rate) : std::string("?");
  return fmt::format("{} {}/{} ({}%) {} ETA {}", what, done, total, pct, r, eta);
}

Progress::Options Progress::for_stderr() {
  Options o;
  const char* term = std::getenv("TERM");
  o.terminal = ::isatty(2) == 1 && !(term && std::strcmp(term, "dumb") == 0);
  if (const char* mode = std::getenv("TESSERA_PROGRESS")) {
    if (std::strcmp(mode, "plain") == 0) o.terminal = false;
    if (std::strcmp(mode, "terminal") == 0) o.terminal = true;
    if (std::strcmp(mode, "off") == 0) o.plain_interval_s = -1;  // off (see the constructor)
  }
  const char* every = std::getenv("TESSERA_PROGRESS_INTERVAL_S");
  if (every && o.plain_interval_s >= 0) {
    char* end = nullptr;
    const double v = std::strtod(every, &end);
    if (end != every && *end == '\0' && v >= 0 && v <= 86400) o.plain_interval_s = v;
  }
  return o;
}

Progress::Progress(std::string what, int64_t total, Options options)
    : what_(std::move(what)), total_(total), opt_(std::move(options)) {
  off_ = opt_.plain_interval_s < 0;
  if (!opt_.clock) {
    opt_.clock = [] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
    };
  }
  if (!opt_.write) {
    opt_.write = [](const std::string& s) {
      std::fwrite(s.data(), 1, s.size(), stderr);
      std::fflush(stderr);
    };
  }
  start_ = opt_.clock();
}

Progress::~Progress() {
  if (open_line_) {
    try {
      opt_.write("\n");
    } catch (...) {  // a destructor does not throw
    }
  }
}

void Progress::emit(const std::string& text, bool final_line) {
  shown_ = true;
  if (opt_.terminal) {
    opt_.write("\r" + text + "\033[K" + (final_line ? "\n" : ""));  // \033[K: clear the rest
    open_line_ = !final_line;
  } else {
    opt_.write(text + "\n");
  }
}

void Progress::update(int64_t done) {
  done_ = done;
  if (off_ || finished_) return;
  const double now = opt_.clock();
  const double interval = opt_.terminal ? opt_.terminal_interval_s : opt_.plain_interval_s;
  if (now - last_ < interval) return;
  // Not a terminal: the first line after one interval, not at once (a short run writes only
  // its final line).
  if (!opt_.terminal && last_ < -1e299) {
    last_ = start_;
    if (now - last_ < interval) return;
  }
  last_ = now;
  emit(progress_line(what_, done, total_, now - start_, false), false);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (off_ || !shown_) return;  // a short operation: its caller's summary line says it all
  emit(progress_line(what_, total_ > 0 ? total_ : done_, total_, opt_.clock() - start_, true),
       true);
}

}  // namespace tessera
