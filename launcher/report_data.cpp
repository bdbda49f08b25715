#include "launcher/report_data.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "common/error.h"
#include "common/text.h"
#include "launcher/report_events.h"

namespace tessera {

namespace fs = std::filesystem;

namespace {

constexpr size_t kGalleryMax = 8;
const char* const kImageTag = "val/images";

void add_point(std::map<std::string, StepSeries>& to, const std::string& key, double step,
               double v) {
  StepSeries& s = to[key];
  s.step.push_back(step);
  s.value.push_back(v);
}

// Numbers (null = NaN) of a record under their '/'-joined keys.
void collect(const nlohmann::json& obj, const std::string& prefix, double step,
             std::map<std::string, StepSeries>& to) {
  for (const auto& [k, v] : obj.items()) {
    if (prefix.empty() && (k == "step" || k == "split")) continue;
    const std::string key = prefix.empty() ? k : prefix + "/" + k;
    if (v.is_number()) {
      add_point(to, key, step, v.get<double>());
    } else if (v.is_null()) {
      add_point(to, key, step, std::numeric_limits<double>::quiet_NaN());
    } else if (v.is_object()) {
      collect(v, key, step, to);
    }
  }
}

void flatten(const YAML::Node& node, const std::string& prefix, ConfigEntries& out) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      const std::string k = kv.first.Scalar();
      flatten(kv.second, prefix.empty() ? k : prefix + "." + k, out);
    }
    return;
  }
  if (node.IsScalar()) {
    out.emplace_back(prefix, node.Scalar());
    return;
  }
  if (node.IsNull()) {
    out.emplace_back(prefix, "");
    return;
  }
  YAML::Emitter e;
  e << YAML::Flow << node;
  out.emplace_back(prefix, e.c_str());
}

std::string first_line(const std::string& s) {
  return s.substr(0, s.find_first_of("\r\n"));
}

}  // namespace

std::string read_file_bounded(const std::string& path, const std::string& what, size_t max_bytes) {
  std::error_code ec;
  TESSERA_CHECK(fs::is_regular_file(path, ec), "{} {}: not found (expected a regular file)", what,
                path);
  const uintmax_t size = fs::file_size(path, ec);
  TESSERA_CHECK(!ec, "{} {}: cannot stat: {}", what, path, ec.message());
  TESSERA_CHECK(size <= max_bytes, "{} {}: {} bytes, more than the {} a report reads", what, path,
                size, max_bytes);
  std::ifstream in(path, std::ios::binary);
  TESSERA_CHECK(in.good(), "{} {}: cannot open: {}", what, path, std::strerror(errno));
  std::string text(static_cast<size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  text.resize(static_cast<size_t>(in.gcount()));  // a file that shrank meanwhile
  return text;
}

MetricsLog parse_metrics_log(const std::string& text, const std::string& path) {
  MetricsLog log;
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    ++line_no;
    if (nl == std::string::npos) break;  // a record being written: not complete yet
    const std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const nlohmann::json rec = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    TESSERA_CHECK(!rec.is_discarded() && rec.is_object(),
                  "metrics {} line {}: not a JSON object (expected one record per line, "
                  "docs/run-dir.md): '{}'",
                  path, line_no, escape_text(line, {true, 80}));
    TESSERA_CHECK(rec.contains("step") && rec["step"].is_number_integer(),
                  "metrics {} line {}: no integer \"step\" (expected in every record)", path,
                  line_no);
    const auto step = rec["step"].get<int64_t>();
    const bool val = rec.contains("split");
    collect(rec, "", static_cast<double>(step), val ? log.val : log.train);
    log.last_step = std::max(log.last_step, step);
    ++log.records;
  }
  return log;
}

ConfigEntries flatten_config(const std::string& yaml_text, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    TESSERA_THROW("config {}: not YAML: {}", path, e.what());
  }
  TESSERA_CHECK(root.IsMap(), "config {}: expected a mapping of sections (experiment:, task:, ...)",
                path);
  ConfigEntries out;
  flatten(root, "", out);
  return out;
}

std::string config_value(const ConfigEntries& config, const std::string& key) {
  for (const auto& [k, v] : config) {
    if (k == key) return v;
  }
  return "";
}

std::vector<ConfigDiffRow> config_diff(const std::vector<ConfigEntries>& configs) {
  std::vector<std::string> keys;
  std::set<std::string> seen;
  for (const ConfigEntries& c : configs) {
    for (const auto& [k, v] : c) {
      if (seen.insert(k).second) keys.push_back(k);
    }
  }
  std::vector<ConfigDiffRow> rows;
  for (const std::string& key : keys) {
    if (key == "experiment.name" || key == "experiment.output_dir") continue;
    ConfigDiffRow row{key, {}};
    for (const ConfigEntries& c : configs) {
      auto it = std::find_if(c.begin(), c.end(), [&](const auto& kv) { return kv.first == key; });
      row.values.push_back(it == c.end() ? std::nullopt : std::optional<std::string>(it->second));
    }
    const bool differ = std::any_of(row.values.begin(), row.values.end(),
                                    [&](const auto& v) { return v != row.values.front(); });
    if (differ) rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<size_t> pick_gallery(const std::vector<int64_t>& steps,
                                 std::optional<int64_t> best_step, size_t max_shown) {
  const size_t n = steps.size();
  std::set<size_t> picked;
  if (n == 0 || max_shown == 0) return {};
  if (n <= max_shown) {
    for (size_t i = 0; i < n; ++i) picked.insert(i);
    return {picked.begin(), picked.end()};
  }
  if (best_step) {
    auto it = std::find(steps.begin(), steps.end(), *best_step);
    if (it != steps.end()) picked.insert(static_cast<size_t>(it - steps.begin()));
  }
  // Evenly spaced, the first and the last among them, in the slots the best one leaves.
  const size_t m = max_shown - picked.size();
  if (m == 1) picked.insert(n - 1);
  for (size_t k = 0; m > 1 && k < m; ++k) picked.insert(k * (n - 1) / (m - 1));
  return {picked.begin(), picked.end()};
}

RunReport read_run(const std::string& dir) {
  RunReport r;
  std::error_code ec;
  TESSERA_CHECK(fs::is_directory(dir, ec),
                "RUN_DIR {}: no such directory (expected a run directory with "
                "config.resolved.yaml and metrics.jsonl, docs/run-dir.md)",
                dir);
  const fs::path d(dir);
  r.dir = dir;
  r.name = fs::absolute(d).lexically_normal().filename().string();
  if (r.name.empty()) r.name = fs::absolute(d).lexically_normal().parent_path().filename().string();
  const std::string cfg_path = (d / "config.resolved.yaml").string();
  r.config = flatten_config(read_file_bounded(cfg_path, "config", kMaxReportConfigBytes), cfg_path);
  const std::string metrics_path = (d / "metrics.jsonl").string();
  r.metrics = parse_metrics_log(read_file_bounded(metrics_path, "metrics", kMaxReportMetricsBytes),
                                metrics_path);
  r.metric = config_value(r.config, "checkpoint.metric");
  r.mode = config_value(r.config, "checkpoint.mode");

  if (fs::is_regular_file(d / "outcome.json", ec)) {
    const std::string p = (d / "outcome.json").string();
    const auto j = nlohmann::json::parse(read_file_bounded(p, "outcome", kMaxReportSmallFileBytes),
                                         nullptr, false);
    TESSERA_CHECK(j.is_object() && j.contains("outcome") && j["outcome"].is_string(),
                  "outcome {}: expected a JSON object with a string \"outcome\"", p);
    r.outcome = j["outcome"].get<std::string>();
  }
  if (fs::is_regular_file(d / "checkpoints" / "best", ec)) {
    const std::string p = (d / "checkpoints" / "best").string();
    const std::string name = first_line(read_file_bounded(p, "best", kMaxReportSmallFileBytes));
    const size_t digits = name.find_first_of("0123456789");
    TESSERA_CHECK(name.rfind("step-", 0) == 0 && digits != std::string::npos &&
                      name.find_first_not_of("0123456789", digits) == std::string::npos &&
                      name.size() - digits <= 18,
                  "best {}: expected a checkpoint name like step-0000040, found '{}'", p,
                  escape_text(name, {true, 40}));
    r.best_step = std::stoll(name.substr(digits));
    r.best_source = "checkpoints/best";
  } else if (auto it = r.metrics.val.find(r.metric); it != r.metrics.val.end()) {
    const StepSeries& s = it->second;
    std::optional<size_t> best;
    for (size_t i = 0; i < s.value.size(); ++i) {
      if (!std::isfinite(s.value[i])) continue;
      if (!best || (r.mode == "min" ? s.value[i] < s.value[*best] : s.value[i] > s.value[*best])) {
        best = i;
      }
    }
    if (best) {
      r.best_step = static_cast<int64_t>(s.step[*best]);
      r.best_source = "metrics.jsonl";
    }
  }
  if (fs::exists(d / "eval" / "summary.json", ec)) {
    const std::string p = (d / "eval" / "summary.json").string();
    auto j = nlohmann::json::parse(read_file_bounded(p, "eval summary", kMaxReportSummaryBytes),
                                   nullptr, false);
    TESSERA_CHECK(j.is_object() && j.contains("metrics") && j["metrics"].is_object(),
                  "eval summary {}: expected a JSON object with \"metrics\" (written by "
                  "`tessera eval`)",
                  p);
    r.eval = std::move(j);
  }

  const EventScan scan = scan_event_images(event_files((d / "tb").string()), kImageTag);
  std::vector<int64_t> steps;
  for (const EventImageRef& ref : scan.images) steps.push_back(ref.step);
  for (size_t i : pick_gallery(steps, r.best_step, kGalleryMax)) {
    r.images.push_back(load_event_image(scan.images[i], kImageTag));
  }
  if (scan.images.empty()) {
    r.images_note = fs::is_directory(d / "tb", ec)
                        ? "no validation images in tb/ (no validation has run yet)"
                        : "no tb/ directory (logging.tensorboard: false), so no validation images";
  } else if (r.images.size() < scan.images.size()) {
    r.images_note =
        fmt::format("{} of the {} validations shown", r.images.size(), scan.images.size());
  }
  for (const std::string& note : scan.notes) {
    r.images_note += (r.images_note.empty() ? "" : "; ") + note;
  }
  return r;
}

}  // namespace tessera
