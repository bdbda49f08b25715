// What `tessera report` shows of a run directory (docs/run-dir.md), read into plain values:
// the resolved config as flat "key.path: value" entries, the metrics.jsonl series (training and
// validation records apart), the best checkpoint's step, the evaluation summary
// (eval/summary.json) and the validation image grids of the TensorBoard event files
// (launcher/report_events.h). launcher/report_html.h renders them.
//
// read_run() reads the files; the parsers beside it are pure (tests/launcher checks them).
// Every file is size-checked before it is read (limits below) and every failure is a
// tessera::Error naming the file and what was expected. Optional parts (eval/summary.json, tb/,
// checkpoints/best, outcome.json) are left empty when absent; a present but unreadable one is
// an error, except the event files, whose damaged records are skipped with a note.
// Thread-safe: no state.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tessera {

inline constexpr size_t kMaxReportConfigBytes = 4u << 20;      // config.resolved.yaml
inline constexpr size_t kMaxReportMetricsBytes = 512u << 20;   // metrics.jsonl
inline constexpr size_t kMaxReportSummaryBytes = 256u << 20;   // eval/summary.json
inline constexpr size_t kMaxReportSmallFileBytes = 64u << 10;  // outcome.json, checkpoints/best

// The whole file, after checking that it is a regular file of at most max_bytes; `what` names
// it in errors ("metrics", "config").
std::string read_file_bounded(const std::string& path, const std::string& what, size_t max_bytes);

// A scalar over training steps; NaN where a record had null.
struct StepSeries {
  std::vector<double> step;
  std::vector<double> value;
};

// metrics.jsonl: training records' numbers by key ("loss", "lr", "images_per_s",
// "data_wait_fraction", "time/data", ...; nested objects joined with '/') and validation
// records' (those with "split": "val") by key ("val/loss", "val/dice", "selected/dice",
// "seconds", ...). `step` and `split` are not series.
struct MetricsLog {
  std::map<std::string, StepSeries> train;
  std::map<std::string, StepSeries> val;
  int64_t last_step = 0;
  size_t records = 0;
};

// Throws naming `path` and the line for a line that is not a JSON object with an integer
// "step"; an unterminated last line (a record being written) is ignored.
MetricsLog parse_metrics_log(const std::string& text, const std::string& path);

// Flat config: ("model.arch", "unet"), ("optim.betas", "[0.9, 0.999]"), in file order.
using ConfigEntries = std::vector<std::pair<std::string, std::string>>;
ConfigEntries flatten_config(const std::string& yaml_text, const std::string& path);

// The value of `key` in `config`, "" when absent.
std::string config_value(const ConfigEntries& config, const std::string& key);

// The keys whose value differs between the configs (or that some lack: nullopt there), in the
// order they first appear; experiment.name and experiment.output_dir are left out (they differ
// by construction).
struct ConfigDiffRow {
  std::string key;
  std::vector<std::optional<std::string>> values;  // one per config
};
std::vector<ConfigDiffRow> config_diff(const std::vector<ConfigEntries>& configs);

// A validation grid (input | target | prediction rows) at a step, PNG bytes.
struct ValidationImage {
  int64_t step = 0;
  int width = 0, height = 0;
  std::string png;
};

// The indices of `steps` (ascending) a gallery of at most `max_shown` shows: evenly spaced,
// always the first, the last and the one at `best_step` (when present).
std::vector<size_t> pick_gallery(const std::vector<int64_t>& steps,
                                 std::optional<int64_t> best_step, size_t max_shown);

struct RunReport {
  std::string dir;
  std::string name;  // the directory's name
  ConfigEntries config;
  std::string outcome;  // outcome.json's "outcome" ("finished", ...), "" when absent
  MetricsLog metrics;
  std::string metric, mode;  // checkpoint.metric, checkpoint.mode
  std::optional<int64_t> best_step;
  std::string best_source;              // "checkpoints/best" or "metrics.jsonl"
  std::optional<nlohmann::json> eval;   // eval/summary.json
  std::vector<ValidationImage> images;  // step order (all validations with an image)
  std::string images_note;              // why there are none / what was skipped
};

// Reads RUN_DIR. Throws when it is not a directory, has no config.resolved.yaml or
// metrics.jsonl, or one of its files is unreadable or malformed.
RunReport read_run(const std::string& dir);

}  // namespace tessera
