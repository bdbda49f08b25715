#include "launcher/report_html.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "launcher/report_escape.h"
#include "launcher/report_svg.h"

namespace tessera {

namespace {

// The settings a reader looks for first, when the config has them.
const char* const kKeySettings[] = {"task.kind",       "task.classes",    "model.arch",
                                    "model.filters",   "model.depth",     "model.activation",
                                    "loss.name",       "optim.name",      "optim.lr",
                                    "schedule.name",   "data.batch_size", "data.image_size",
                                    "train.max_steps", "train.precision", "checkpoint.metric",
                                    "checkpoint.mode", "checkpoint.ema",  "experiment.seed"};

const char* const kPhases[] = {"data", "forward", "backward", "reduce", "optimizer"};

const char* const kCss = R"(body{font-family:sans-serif;margin:24px;color:#222;max-width:1180px}
h1{font-size:22px}h2{font-size:19px;border-bottom:2px solid #ccc;padding-bottom:4px;margin-top:36px}
h3{font-size:15px;margin:18px 0 6px}table{border-collapse:collapse;font-size:13px;margin:6px 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f2f2f2}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:12px}
.chart,.bar{background:#fff;border:1px solid #ddd}.note{color:#666;font-size:13px}
.swatch{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:middle}
figure{display:inline-block;margin:0 12px 12px 0;vertical-align:top}
figure img{image-rendering:pixelated;border:1px solid #ccc}figcaption{font-size:12px;color:#444}
details{margin:6px 0}summary{cursor:pointer;font-size:13px}
.head{display:flex;flex-wrap:wrap;gap:32px;align-items:flex-start})";

ChartSeries series_of(const StepSeries& s, std::string label, std::string color, bool points,
                      bool dashed) {
  return ChartSeries{std::move(label), std::move(color), s.step, s.value, points, dashed};
}

const StepSeries* find(const std::map<std::string, StepSeries>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}

std::string best_label(const RunReport& r) {
  return r.best_step ? fmt::format("best (step {})", *r.best_step) : "";
}

ChartOptions options(const std::string& title, const std::string& y, const RunReport& r) {
  ChartOptions o;
  o.title = title;
  o.y_label = y;
  o.marker_x =
      r.best_step ? std::optional<double>(static_cast<double>(*r.best_step)) : std::nullopt;
  o.marker_label = best_label(r);
  return o;
}

std::string value_at(const RunReport& r, const std::string& key, int64_t step) {
  const StepSeries* s = find(r.metrics.val, key);
  if (s == nullptr) return "-";
  for (size_t i = 0; i < s->step.size(); ++i) {
    if (static_cast<int64_t>(s->step[i]) == step) return format_number(s->value[i]);
  }
  return "-";
}

std::string summary_table(const RunReport& r) {
  const std::string max_steps = config_value(r.config, "train.max_steps");
  std::string best = "-";
  if (r.best_step) {
    best = fmt::format("{} {} at step {} (from {})", html_escape(r.metric),
                       html_escape(value_at(r, r.metric, *r.best_step)), *r.best_step,
                       html_escape(r.best_source));
  }
  return fmt::format(
      "<table class=\"summary\"><tr><th>directory</th><td>{}</td></tr>"
      "<tr><th>state</th><td>{}</td></tr><tr><th>task</th><td>{}</td></tr>"
      "<tr><th>architecture</th><td>{}</td></tr><tr><th>steps</th><td>{} / {}</td></tr>"
      "<tr><th>records</th><td>{} training, {} validation</td></tr>"
      "<tr><th>best checkpoint</th><td>{}</td></tr></table>\n",
      html_escape(r.dir),
      html_escape(r.outcome.empty() ? "no outcome.json (running or ended early)" : r.outcome),
      html_escape(config_value(r.config, "task.kind")),
      html_escape(config_value(r.config, "model.arch")), r.metrics.last_step,
      html_escape(max_steps.empty() ? "?" : max_steps),
      find(r.metrics.train, "loss") ? find(r.metrics.train, "loss")->step.size() : 0,
      r.metrics.val.empty() ? 0 : r.metrics.val.begin()->second.step.size(), best);
}

std::string phase_breakdown(const RunReport& r) {
  std::vector<std::pair<std::string, double>> parts;
  std::vector<std::string> names(std::begin(kPhases), std::end(kPhases));
  for (const auto& [key, s] : r.metrics.train) {
    if (key.rfind("time/", 0) == 0 &&
        std::find(names.begin(), names.end(), key.substr(5)) == names.end()) {
      names.push_back(key.substr(5));
    }
  }
  for (const std::string& n : names) {
    const StepSeries* s = find(r.metrics.train, "time/" + n);
    if (s == nullptr) continue;
    double sum = 0;
    for (double v : s->value) {
      if (std::isfinite(v)) sum += v;
    }
    parts.emplace_back(n, sum);
  }
  if (parts.empty()) return "<p class=\"note\">metrics.jsonl has no per-phase times.</p>\n";
  std::vector<std::string> colors;
  for (size_t i = 0; i < parts.size(); ++i) colors.push_back(palette_color(i));
  std::string wait;
  if (const StepSeries* w = find(r.metrics.train, "data_wait_fraction")) {
    double sum = 0;
    size_t n = 0;
    for (double v : w->value) {
      if (std::isfinite(v)) sum += v, ++n;
    }
    if (n > 0)
      wait = fmt::format(" Mean data-wait fraction {:.1f}%.", 100 * sum / static_cast<double>(n));
  }
  return fmt::format(
      "<h3>Time per phase (rank 0, all logged intervals)</h3>\n{}\n"
      "<p class=\"note\">Seconds summed over the training records.{}</p>\n",
      svg_stacked_bar(parts, colors), wait);
}

std::string gallery(const RunReport& r) {
  std::string out = "<h3>Validation images (input | target | prediction)</h3>\n";
  if (!r.images_note.empty()) {
    out += fmt::format("<p class=\"note\">{}</p>\n", html_escape(r.images_note));
  }
  out += "<div class=\"gallery\">\n";
  for (const ValidationImage& im : r.images) {
    const int scale = im.width > 0 ? std::max(1, std::min(4, 360 / im.width)) : 1;
    const bool best = r.best_step && *r.best_step == im.step;
    out += fmt::format(
        "<figure><img src=\"data:image/png;base64,{}\" width=\"{}\" height=\"{}\" "
        "alt=\"validation images at step {}\"><figcaption>step {}{}</figcaption></figure>\n",
        base64(im.png), im.width * scale, im.height * scale, im.step, im.step,
        best ? " (best checkpoint)" : "");
  }
  return out + "</div>\n";
}

}  // namespace

std::vector<std::string> validation_metrics(const RunReport& run) {
  std::vector<std::string> out;
  for (const auto& [key, s] : run.metrics.val) {
    // val/images is the number of images scored, not a metric.
    if (key.rfind("val/", 0) == 0 && key != "val/loss" && key != "val/images") out.push_back(key);
  }
  return out;
}

std::string html_config_table(const ConfigEntries& entries, const std::string& css_class) {
  std::string out = fmt::format("<table class=\"{}\">\n", html_escape(css_class));
  for (const auto& [k, v] : entries) {
    out += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", html_escape(k), html_escape(v));
  }
  return out + "</table>\n";
}

std::string html_eval_table(const nlohmann::json& summary) {
  std::string base;
  for (const char* b : {"bicubic", "noisy_input", "masked_input"}) {
    if (summary.contains(b) && summary[b].is_object()) base = b;
  }
  const auto num = [](const nlohmann::json& j, const std::string& k) -> std::optional<double> {
    if (!j.is_object() || !j.contains(k)) return std::nullopt;
    if (j[k].is_number()) return j[k].get<double>();
    if (j[k].is_null()) return std::nan("");
    return std::nullopt;
  };
  std::string out = fmt::format(
      "<p class=\"note\">checkpoint {}, split {}, {} samples</p>\n<table class=\"eval\">\n"
      "<tr><th>metric</th><th>model</th>{}</tr>\n",
      html_escape(summary.value("checkpoint", std::string("?"))),
      html_escape(summary.value("split", std::string("?"))),
      summary.contains("samples") ? summary["samples"].dump() : std::string("?"),
      base.empty()
          ? ""
          : fmt::format("<th>{} (baseline)</th><th>model - baseline</th>", html_escape(base)));
  const nlohmann::json& m = summary.at("metrics");
  for (const auto& [key, v] : m.items()) {
    const auto model = num(m, key);
    if (!model || key == "images") continue;  // the count of images, in the line above
    std::string row = fmt::format("<tr><td>{}</td><td class=\"num\">{}</td>", html_escape(key),
                                  format_number(*model));
    if (!base.empty()) {
      const auto b = num(summary.at(base), key);
      row += b ? fmt::format("<td class=\"num\">{}</td><td class=\"num\">{}</td>",
                             format_number(*b), format_number(*model - *b))
               : "<td>-</td><td>-</td>";
    }
    out += row + "</tr>\n";
  }
  return out + "</table>\n";
}

std::string html_run_section(const RunReport& r, size_t index) {
  std::string out = fmt::format(
      "<section class=\"run\" id=\"run-{}\">\n<h2><span class=\"swatch\" "
      "style=\"background:{}\"></span>{}</h2>\n",
      index, palette_color(index), html_escape(r.name));
  ConfigEntries key_settings;
  for (const char* k : kKeySettings) {
    const std::string v = config_value(r.config, k);
    if (!v.empty()) key_settings.emplace_back(k, v);
  }
  out += "<div class=\"head\"><div>" + summary_table(r) + "</div>\n<div><h3>Config</h3>\n" +
         html_config_table(key_settings, "config key-settings") + "</div></div>\n";
  out += fmt::format(
      "<details><summary>all {} keys of config.resolved.yaml</summary>\n{}"
      "</details>\n",
      r.config.size(), html_config_table(r.config, "config full"));

  out += "<h3>Curves</h3>\n<div class=\"charts\">\n";
  std::vector<ChartSeries> loss;
  if (const StepSeries* s = find(r.metrics.train, "loss")) {
    loss.push_back(series_of(*s, "train loss", palette_color(0), false, false));
  }
  if (const StepSeries* s = find(r.metrics.val, "val/loss")) {
    loss.push_back(series_of(*s, "val/loss", palette_color(1), true, false));
  }
  ChartOptions lo = options("loss", "loss", r);
  lo.log_y = use_log_scale(loss);
  out += svg_chart(loss, lo) + "\n";
  for (const std::string& key : validation_metrics(r)) {
    std::vector<ChartSeries> s{
        series_of(r.metrics.val.at(key), key, palette_color(2), true, false)};
    const std::string sel = "selected/" + key.substr(4);
    if (const StepSeries* e = find(r.metrics.val, sel)) {
      s.push_back(series_of(*e, "selected (EMA)", palette_color(3), false, true));
    }
    out += svg_chart(s, options(key, key.substr(4), r)) + "\n";
  }
  if (const StepSeries* s = find(r.metrics.train, "lr")) {
    std::vector<ChartSeries> lr{series_of(*s, "lr", palette_color(4), false, false)};
    ChartOptions o = options("learning rate", "lr", r);
    o.log_y = use_log_scale(lr);
    out += svg_chart(lr, o) + "\n";
  }
  if (const StepSeries* s = find(r.metrics.train, "images_per_s")) {
    out += svg_chart({series_of(*s, "images/s", palette_color(5), false, false)},
                     options("throughput (all ranks)", "images/s", r)) +
           "\n";
  }
  out += "</div>\n" + phase_breakdown(r);

  out += "<h3>Evaluation (eval/summary.json)</h3>\n";
  out += r.eval ? html_eval_table(*r.eval)
                : "<p class=\"note\">no eval/summary.json: run <code>tessera eval</code> on this "
                  "run's config to add the test-split table.</p>\n";
  out += gallery(r);
  return out + "</section>\n";
}

std::string render_report(const std::vector<RunReport>& runs, const std::string& generated) {
  std::string names;
  for (const RunReport& r : runs) names += (names.empty() ? "" : ", ") + r.name;
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "img-src data:; style-src 'unsafe-inline'\">\n<title>tessera report: {}</title>\n"
      "<style>\n{}\n</style>\n</head>\n<body>\n<h1>tessera report: {}</h1>\n"
      "<p class=\"note\">{} run{}, generated {}</p>\n",
      html_escape(names), kCss, html_escape(names), runs.size(), runs.size() == 1 ? "" : "s",
      html_escape(generated));
  if (runs.size() > 1) out += html_comparison(runs);
  for (size_t i = 0; i < runs.size(); ++i) out += html_run_section(runs[i], i);
  return out + "</body>\n</html>\n";
}

}  // namespace tessera
