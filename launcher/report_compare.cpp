// The comparison part of `tessera report` with several runs (declared in report_html.h): a table
// of the runs, their curves overlaid in one colour per run, the config keys that differ.
#include <fmt/format.h>

#include <set>

#include "launcher/report_escape.h"
#include "launcher/report_html.h"
#include "launcher/report_svg.h"

namespace tessera {

namespace {

// One series per run that has `key` in `train` (or the validation records with `val`).
std::vector<ChartSeries> overlay(const std::vector<RunReport>& runs, const std::string& key,
                                 bool val) {
  std::vector<ChartSeries> out;
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& m = val ? runs[i].metrics.val : runs[i].metrics.train;
    auto it = m.find(key);
    if (it == m.end()) continue;
    out.push_back(
        ChartSeries{runs[i].name, palette_color(i), it->second.step, it->second.value, val, false});
  }
  return out;
}

std::string runs_table(const std::vector<RunReport>& runs) {
  std::string out =
      "<table class=\"runs\">\n<tr><th>run</th><th>task</th><th>arch</th><th>steps</th>"
      "<th>best checkpoint</th><th>state</th><th>eval</th></tr>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunReport& r = runs[i];
    std::string best = "-";
    if (r.best_step) {
      best = fmt::format("{} at step {}", html_escape(r.metric), *r.best_step);
    }
    out += fmt::format(
        "<tr><td><span class=\"swatch\" style=\"background:{}\"></span><a href=\"#run-{}\">{}"
        "</a></td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td></tr>\n",
        palette_color(i), i, html_escape(r.name), html_escape(config_value(r.config, "task.kind")),
        html_escape(config_value(r.config, "model.arch")), r.metrics.last_step, best,
        html_escape(r.outcome.empty() ? "-" : r.outcome), r.eval ? "yes" : "-");
  }
  return out + "</table>\n";
}

}  // namespace

std::string html_config_diff(const std::vector<RunReport>& runs) {
  std::vector<ConfigEntries> configs;
  for (const RunReport& r : runs) configs.push_back(r.config);
  const std::vector<ConfigDiffRow> rows = config_diff(configs);
  if (rows.empty()) {
    return "<p class=\"note\">The configs are the same (apart from experiment.name and "
           "experiment.output_dir).</p>\n";
  }
  std::string out = "<table class=\"config-diff\">\n<tr><th>key</th>";
  for (const RunReport& r : runs) out += fmt::format("<th>{}</th>", html_escape(r.name));
  out += "</tr>\n";
  for (const ConfigDiffRow& row : rows) {
    out += fmt::format("<tr><th>{}</th>", html_escape(row.key));
    for (const auto& v : row.values) {
      out += v ? fmt::format("<td>{}</td>", html_escape(*v))
               : std::string("<td class=\"note\">(absent)</td>");
    }
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

std::string html_comparison(const std::vector<RunReport>& runs) {
  std::string out = "<section class=\"comparison\" id=\"comparison\">\n<h2>Comparison</h2>\n";
  out += runs_table(runs);
  out += "<h3>Curves overlaid</h3>\n<div class=\"charts\">\n";
  const auto chart = [&](std::vector<ChartSeries> s, const std::string& title, const std::string& y,
                         bool log_if_helps) {
    if (s.empty()) return std::string();
    ChartOptions o;
    o.title = title;
    o.y_label = y;
    o.log_y = log_if_helps && use_log_scale(s);
    return svg_chart(s, o) + "\n";
  };
  out += chart(overlay(runs, "loss", false), "train loss", "loss", true);
  out += chart(overlay(runs, "val/loss", true), "val/loss", "loss", true);
  std::set<std::string> metrics;
  for (const RunReport& r : runs) {
    for (const std::string& m : validation_metrics(r)) metrics.insert(m);
  }
  for (const std::string& m : metrics) out += chart(overlay(runs, m, true), m, m.substr(4), false);
  out += chart(overlay(runs, "images_per_s", false), "throughput", "images/s", false);
  out += "</div>\n<h3>Config keys that differ</h3>\n" + html_config_diff(runs);
  return out + "</section>\n";
}

}  // namespace tessera
