#include "trainer/run_outcome.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "checkpoints/file_io.h"
#include "common/error.h"

namespace tessera {

namespace fs = std::filesystem;

namespace {
constexpr std::uintmax_t kMaxOutcomeBytes = 64 * 1024;  // a record is ~150 bytes
}

std::string outcome_path(const std::string& run_dir) { return run_dir + "/" + kOutcomeFile; }

void clear_run_outcome(const std::string& run_dir) {
  std::error_code ec;
  fs::remove(outcome_path(run_dir), ec);
  TESSERA_CHECK(!ec || ec == std::errc::no_such_file_or_directory,
                "cannot remove {} (the record of a previous run's end): {}", outcome_path(run_dir),
                ec.message());
}

void write_run_outcome(const std::string& run_dir, const RunOutcome& o) {
  nlohmann::json j = {{"outcome", o.outcome}, {"step", o.step},   {"epoch", o.epoch},
                      {"ranks", o.ranks},     {"checkpoint", o.checkpoint}};
  checkpoints::write_file_atomic(outcome_path(run_dir), j.dump(1) + "\n");
}

std::optional<RunOutcome> read_run_outcome(const std::string& run_dir) {
  const std::string path = outcome_path(run_dir);
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec == std::errc::no_such_file_or_directory) return std::nullopt;
  TESSERA_CHECK(!ec, "cannot read {}: {}", path, ec.message());
  TESSERA_CHECK(size <= kMaxOutcomeBytes, "{}: {} bytes, expected a small JSON record (<= {})",
                path, size, kMaxOutcomeBytes);
  std::ifstream in(path, std::ios::binary);
  TESSERA_CHECK(in.good(), "cannot open {}", path);
  std::stringstream ss;
  ss << in.rdbuf();
  const auto j = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  TESSERA_CHECK(j.is_object() && j.contains("outcome") && j["outcome"].is_string() &&
                    j.contains("step") && j["step"].is_number_integer(),
                "{}: expected a JSON object with \"outcome\" (string) and \"step\" (integer), "
                "written by `tessera train` at its end",
                path);
  RunOutcome o;
  o.outcome = j["outcome"].get<std::string>();
  TESSERA_CHECK(o.outcome == "finished" || o.outcome == "stopped" || o.outcome == "early_stopped",
                "{}: outcome \"{}\", expected finished, stopped or early_stopped", path,
                o.outcome);
  o.step = j["step"].get<int64_t>();
  o.epoch = j.value("epoch", int64_t{0});
  o.ranks = j.value("ranks", 0);
  o.checkpoint = j.value("checkpoint", std::string());
  return o;
}

std::string describe(const RunOutcome& o) {
  const char* what = o.outcome == "finished"  ? "finished"
                     : o.outcome == "stopped" ? "stopped by a signal"
                                              : "stopped early (no improvement)";
  const char* hint = o.outcome == "stopped" ? "; checkpointed, continue with --resume auto" : "";
  return fmt::format("{} at step {} (epoch {}, {} rank(s)){}", what, o.step, o.epoch, o.ranks,
                     hint);
}

}  // namespace tessera
