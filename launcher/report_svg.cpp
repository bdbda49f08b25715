#include "launcher/report_svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "launcher/report_escape.h"

namespace tessera {

namespace {

constexpr double kLeft = 64, kRight = 16, kTop = 28, kBottom = 40;
constexpr double kLegendRow = 18;
constexpr int kLegendColumns = 2;  // in a chart; the stacked bar's legend has 3
constexpr int kBarLegendColumns = 3;

bool drawable(double x, double y, bool log_y) {
  return std::isfinite(x) && std::isfinite(y) && (!log_y || y > 0);
}

// The axis span with a margin; a flat range gets a band around its value.
ValueRange padded(ValueRange r, bool log_y) {
  if (log_y) {
    double lo = std::log10(r.lo), hi = std::log10(r.hi);
    if (hi - lo < 1e-9) {
      lo -= 0.5;
      hi += 0.5;
    }
    const double m = 0.05 * (hi - lo);
    return {std::pow(10.0, lo - m), std::pow(10.0, hi + m)};
  }
  if (r.hi - r.lo <= 1e-12 * std::max(std::abs(r.lo), std::abs(r.hi))) {
    const double band = r.lo == 0 ? 1.0 : 0.1 * std::abs(r.lo);
    return {r.lo - band, r.hi + band};
  }
  const double m = 0.05 * (r.hi - r.lo);
  return {r.lo - m, r.hi + m};
}

std::string fmt1(double v) {
  return fmt::format("{:.1f}", v);
}

}  // namespace

std::optional<ValueRange> value_range(const std::vector<ChartSeries>& series, bool log_y) {
  std::optional<ValueRange> r;
  for (const ChartSeries& s : series) {
    for (size_t i = 0; i < s.y.size() && i < s.x.size(); ++i) {
      if (!drawable(s.x[i], s.y[i], log_y)) continue;
      if (!r) r = ValueRange{s.y[i], s.y[i]};
      r->lo = std::min(r->lo, s.y[i]);
      r->hi = std::max(r->hi, s.y[i]);
    }
  }
  return r;
}

bool use_log_scale(const std::vector<ChartSeries>& series) {
  for (const ChartSeries& s : series) {
    for (double v : s.y) {
      if (std::isfinite(v) && v <= 0) return false;
    }
  }
  const auto r = value_range(series, /*log_y=*/true);
  return r && r->hi >= 20 * r->lo;
}

std::vector<double> axis_ticks(double lo, double hi, bool log_y, int target) {
  std::vector<double> ticks;
  if (!(std::isfinite(lo) && std::isfinite(hi)) || hi < lo) return ticks;
  if (log_y && lo > 0) {
    const int k0 = static_cast<int>(std::floor(std::log10(lo))) - 1;
    const int k1 = static_cast<int>(std::ceil(std::log10(hi))) + 1;
    for (const std::vector<double>& mantissas :
         {std::vector<double>{1}, std::vector<double>{1, 2, 5}}) {
      ticks.clear();
      for (int k = k0; k <= k1 && ticks.size() < 64; ++k) {
        for (double m : mantissas) {
          const double v = m * std::pow(10.0, k);
          if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push_back(v);
        }
      }
      if (ticks.size() >= 2) return ticks;
    }
  }
  ticks.clear();
  const double span = hi - lo;
  if (span <= 0) return {lo};
  const double raw = span / std::max(1, target);
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * p;
  for (double m : {1.0, 2.0, 5.0}) {
    if (m * p >= raw) {
      step = m * p;
      break;
    }
  }
  for (double i = std::ceil(lo / step - 1e-9); i * step <= hi + 1e-9 * span && ticks.size() < 64;
       i += 1) {
    ticks.push_back(std::abs(i) < 0.5 ? 0.0 : i * step);
  }
  return ticks;
}

std::string format_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return "0";
  const double a = std::abs(v);
  if (a >= 1e5 || a < 1e-3) return fmt::format("{:.2g}", v);
  return fmt::format("{:.4g}", v);
}

std::string palette_color(size_t i) {
  static const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return kColors[i % 10];
}

std::string svg_chart(const std::vector<ChartSeries>& series, const ChartOptions& o) {
  const int legend_rows =
      series.size() > 1 ? static_cast<int>((series.size() + kLegendColumns - 1) / kLegendColumns)
                        : 0;
  const double W = o.width, H = o.height + legend_rows * kLegendRow + (legend_rows > 0 ? 8 : 0);
  const double px0 = kLeft, px1 = W - kRight, py0 = kTop, py1 = o.height - kBottom;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" role=\"img\" aria-label=\"{2}\">\n"
      "<text class=\"title\" x=\"{3}\" y=\"18\" text-anchor=\"middle\">{2}</text>\n",
      W, H, html_escape(o.title), fmt1(W / 2));
  const bool log_y = o.log_y && value_range(series, true).has_value();
  const auto yr = value_range(series, log_y);
  std::optional<ValueRange> xr;
  for (const ChartSeries& s : series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!drawable(s.x[i], s.y[i], log_y)) continue;
      if (!xr) xr = ValueRange{s.x[i], s.x[i]};
      xr->lo = std::min(xr->lo, s.x[i]);
      xr->hi = std::max(xr->hi, s.x[i]);
    }
  }
  if (!yr || !xr) {
    svg += fmt::format(
        "<text class=\"nodata\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data"
        "</text>\n</svg>",
        fmt1(W / 2), fmt1(H / 2));
    return svg;
  }
  if (o.marker_x && std::isfinite(*o.marker_x)) {
    xr->lo = std::min(xr->lo, *o.marker_x);
    xr->hi = std::max(xr->hi, *o.marker_x);
  }
  if (xr->hi == xr->lo) {
    xr->lo -= 1;
    xr->hi += 1;
  }
  const ValueRange y = padded(*yr, log_y);
  const auto fy = [&](double v) {
    const double t =
        log_y ? (std::log10(v) - std::log10(y.lo)) / (std::log10(y.hi) - std::log10(y.lo))
              : (v - y.lo) / (y.hi - y.lo);
    return py1 - t * (py1 - py0);
  };
  const auto fx = [&](double v) { return px0 + (v - xr->lo) / (xr->hi - xr->lo) * (px1 - px0); };

  svg += "<g class=\"axes\" font-size=\"11\" fill=\"#444\">\n";
  for (double t : axis_ticks(y.lo, y.hi, log_y)) {
    svg += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"#e4e4e4\"/>"
        "<text x=\"{3}\" y=\"{4}\" text-anchor=\"end\">{5}</text>\n",
        fmt1(px0), fmt1(px1), fmt1(fy(t)), fmt1(px0 - 4), fmt1(fy(t) + 4), format_number(t));
  }
  for (double t : axis_ticks(xr->lo, xr->hi, false, 6)) {
    svg += fmt::format(
        "<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#f0f0f0\"/>"
        "<text x=\"{0}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
        fmt1(fx(t)), fmt1(py0), fmt1(py1), fmt1(py1 + 14), format_number(t));
  }
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>\n"
      "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n"
      "<text transform=\"translate(14 {}) rotate(-90)\" text-anchor=\"middle\">{}{}</text>\n"
      "</g>\n",
      fmt1(px0), fmt1(py0), fmt1(px1 - px0), fmt1(py1 - py0), fmt1((px0 + px1) / 2), fmt1(py1 + 32),
      html_escape(o.x_label), fmt1((py0 + py1) / 2), html_escape(o.y_label), log_y ? " (log)" : "");

  for (const ChartSeries& s : series) {
    std::string d, circles;
    size_t run = 0;  // points in the current unbroken segment
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!drawable(s.x[i], s.y[i], log_y)) {
        run = 0;
        continue;
      }
      const std::string xy = fmt1(fx(s.x[i])) + " " + fmt1(fy(s.y[i]));
      d += (run == 0 ? (d.empty() ? "M" : " M") : " L") + xy;
      ++run;
      if (s.points) {
        circles += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"3\"/>", fmt1(fx(s.x[i])),
                               fmt1(fy(s.y[i])));
      }
    }
    if (d.empty()) continue;
    svg += fmt::format(
        "<path class=\"series\" data-series=\"{}\" d=\"{}\" fill=\"none\" stroke=\"{}\" "
        "stroke-width=\"1.6\" stroke-linejoin=\"round\"{}/>\n",
        html_escape(s.label), d, html_escape(s.color), s.dashed ? " stroke-dasharray=\"5 3\"" : "");
    if (!circles.empty()) {
      svg += fmt::format("<g class=\"points\" fill=\"{}\">{}</g>\n", html_escape(s.color), circles);
    }
  }
  if (o.marker_x && std::isfinite(*o.marker_x)) {
    const double mx = fx(*o.marker_x);
    svg += fmt::format(
        "<line class=\"marker\" x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#222\" "
        "stroke-dasharray=\"3 3\"/><text x=\"{3}\" y=\"{4}\" font-size=\"11\" text-anchor=\"{5}\">"
        "{6}</text>\n",
        fmt1(mx), fmt1(py0), fmt1(py1), fmt1(mx + (mx > (px0 + px1) / 2 ? -4 : 4)), fmt1(py0 + 12),
        mx > (px0 + px1) / 2 ? "end" : "start", html_escape(o.marker_label));
  }
  if (legend_rows > 0) {
    const double col = (px1 - px0) / kLegendColumns;
    svg += "<g class=\"legend\" font-size=\"11\">\n";
    for (size_t i = 0; i < series.size(); ++i) {
      const double lx = px0 + static_cast<double>(i % kLegendColumns) * col;
      const double ly = o.height + 12 + static_cast<double>(i / kLegendColumns) * kLegendRow;
      svg += fmt::format(
          "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"{3}\" stroke-width=\"3\"{4}/>"
          "<text x=\"{5}\" y=\"{6}\">{7}</text>\n",
          fmt1(lx), fmt1(lx + 18), fmt1(ly - 4), html_escape(series[i].color),
          series[i].dashed ? " stroke-dasharray=\"5 3\"" : "", fmt1(lx + 22), fmt1(ly),
          html_escape(series[i].label));
    }
    svg += "</g>\n";
  }
  return svg + "</svg>";
}

std::string svg_stacked_bar(const std::vector<std::pair<std::string, double>>& parts,
                            const std::vector<std::string>& colors, int width) {
  double total = 0;
  for (const auto& [label, v] : parts) {
    if (std::isfinite(v) && v > 0) total += v;
  }
  const int rows = static_cast<int>(parts.size() + kBarLegendColumns - 1) / kBarLegendColumns;
  const double H = 40 + rows * kLegendRow;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"bar\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" role=\"img\" aria-label=\"time per phase\">\n",
      width, H);
  if (total <= 0) return svg + "<text x=\"8\" y=\"20\">no data</text>\n</svg>";
  const double x0 = 8, x1 = width - 8.0;
  double x = x0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const double v = parts[i].second;
    if (!(std::isfinite(v) && v > 0)) continue;
    const double w = v / total * (x1 - x0);
    const std::string color = i < colors.size() ? colors[i] : palette_color(i);
    svg += fmt::format(
        "<rect x=\"{}\" y=\"4\" width=\"{}\" height=\"22\" fill=\"{}\"><title>{}"
        "</title></rect>\n",
        fmt1(x), fmt1(w), html_escape(color), html_escape(parts[i].first));
    if (w > 34) {
      svg += fmt::format(
          "<text x=\"{}\" y=\"19\" font-size=\"11\" fill=\"#fff\" "
          "text-anchor=\"middle\">{:.0f}%</text>\n",
          fmt1(x + w / 2), 100 * v / total);
    }
    x += w;
  }
  const double col = (x1 - x0) / kBarLegendColumns;
  for (size_t i = 0; i < parts.size(); ++i) {
    const double lx = x0 + static_cast<double>(i % kBarLegendColumns) * col;
    const double ly = 46 + static_cast<double>(i / kBarLegendColumns) * kLegendRow;
    const double v = parts[i].second;
    const double pct = std::isfinite(v) && v > 0 ? 100 * v / total : 0;
    svg += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/>"
        "<text x=\"{}\" y=\"{}\" font-size=\"11\">{} {} s ({:.1f}%)</text>\n",
        fmt1(lx), fmt1(ly - 9), html_escape(i < colors.size() ? colors[i] : palette_color(i)),
        fmt1(lx + 14), fmt1(ly), html_escape(parts[i].first), format_number(v), pct);
  }
  return svg + "</svg>";
}

}  // namespace tessera
