// The HTML of `tessera report` (docs/report.md): one self-contained page (no script, no network:
// a Content-Security-Policy allows only inline styles and data: images; charts are inline SVG
// from report_svg.h, pictures base64 data: URIs) from the runs read by report_data.h.
//
// Per run: a summary (state, task, architecture, steps, best checkpoint), the key settings and
// the whole resolved config (folded), the loss curve (training records as a line, validation
// records as points, log scale where it helps, the best checkpoint's step marked), one chart per
// validation metric (the raw value with points, the checkpoint.ema-smoothed "selected" value
// dashed), the learning rate, throughput (images/s) and the time per phase, the evaluation table
// (with the input's baseline beside the model when eval/summary.json has one), and a gallery of
// validation grids. With several runs a comparison comes first: a table of the runs, the curves
// overlaid (one colour per run) and the config keys that differ.
// Every string from a file goes through html_escape(). Pure functions, thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "launcher/report_data.h"

namespace tessera {

// The whole page; `generated` is shown in its header (e.g. "2024-05-01 12:00:00 UTC").
std::string render_report(const std::vector<RunReport>& runs, const std::string& generated);

// One run's section; `index` picks its colour and anchor (id="run-<index>").
std::string html_run_section(const RunReport& run, size_t index);

// The comparison of several runs (overlaid curves, runs table, config diff).
std::string html_comparison(const std::vector<RunReport>& runs);

// The table of eval/summary.json: one row per overall metric, the model's value and, when the
// summary has "bicubic" / "noisy_input" / "masked_input", the baseline's and the difference.
std::string html_eval_table(const nlohmann::json& summary);

// "<table class="config">" of key / value rows.
std::string html_config_table(const ConfigEntries& entries, const std::string& css_class);

// The config diff as a table, one column per run ("(absent)" where a run lacks the key); a
// sentence instead when nothing differs.
std::string html_config_diff(const std::vector<RunReport>& runs);

// The validation metrics of a run ("val/dice", ...; "val/loss" excluded), in name order.
std::vector<std::string> validation_metrics(const RunReport& run);

}  // namespace tessera
