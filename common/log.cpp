#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>

#include "common/error.h"

namespace tessera {

spdlog::level::level_enum parse_log_level(const std::string& name) {
  if (name == "trace") return spdlog::level::trace;
  if (name == "debug") return spdlog::level::debug;
  if (name == "info") return spdlog::level::info;
  if (name == "warn" || name == "warning") return spdlog::level::warn;
  if (name == "error") return spdlog::level::err;
  if (name == "off") return spdlog::level::off;
  TESSERA_THROW("unknown log level '{}': expected one of trace, debug, info, warn, error, off",
                name);
}

void init_logging(const LogSetup& setup) {
  std::string level = setup.level;
  if (const char* env = std::getenv("TESSERA_LOG_LEVEL"); env && *env) level = env;
  bool all_ranks = setup.all_ranks;
  if (const char* env = std::getenv("TESSERA_LOG_ALL_RANKS"); env && std::string(env) == "1") {
    all_ranks = true;
  }
  auto lvl = parse_log_level(level);
  if (setup.rank != 0 && !all_ranks && lvl < spdlog::level::warn) lvl = spdlog::level::warn;

  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("tessera", sink);
  logger->set_pattern(fmt::format("[{}/{}] %H:%M:%S %^%l%$ %v", setup.rank, setup.size));
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace tessera
