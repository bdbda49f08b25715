// Rank-aware logging on top of spdlog's default logger.
//
// init_logging() is called once by main() after MPI is up. Every line is prefixed
// "[rank/size]". By default only rank 0 prints info/debug lines; other ranks print warnings and
// errors only. Every rank prints everything when `all_ranks` is true or TESSERA_LOG_ALL_RANKS=1.
// The level comes from the config (`logging.level`) unless TESSERA_LOG_LEVEL is set, which wins.
// Levels: trace, debug, info, warn, error, off.
//
// Thread safety: spdlog's default logger is thread-safe; call init_logging before threads start.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace tessera {

struct LogSetup {
  int rank = 0;
  int size = 1;
  std::string level = "info";  // overridden by TESSERA_LOG_LEVEL
  bool all_ranks = false;      // overridden by TESSERA_LOG_ALL_RANKS=1
};

// Configures the default logger (stderr, pattern "[rank/size] time level message").
void init_logging(const LogSetup& setup);

// Parses a level name; throws tessera::Error naming the accepted values.
spdlog::level::level_enum parse_log_level(const std::string& name);

}  // namespace tessera
