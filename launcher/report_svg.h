// The charts of `tessera report` (launcher/report_html.h): inline SVG written here, no script
// and no external resource, so the report opens offline and prints as it shows.
//
// svg_chart() draws line series over a shared x axis (the training step): each series a <path>
// (a NaN, an infinity or, on a log axis, a value <= 0 breaks the line: the points on either side
// are not joined, and the point itself is left out), optionally a <circle> per point (validation
// records), an optional dashed vertical marker (the best checkpoint's step), axis ticks and a
// legend when more than one series is drawn. The y axis is logarithmic (base 10) when asked and
// possible (some positive value); use_log_scale() says when a log axis helps: every finite value
// positive and the largest at least 20 times the smallest. The axes span the finite values
// (positive ones on a log axis) with a small margin; a flat series gets a band around its value.
// svg_stacked_bar() draws one horizontal bar split into labelled shares (the per-phase time).
// All text is HTML-escaped here. Pure functions, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tessera {

struct ChartSeries {
  std::string label;
  std::string color;      // CSS colour, e.g. "#1f77b4"
  std::vector<double> x;  // same length as y
  std::vector<double> y;
  bool points = false;  // a circle at each point
  bool dashed = false;
};

struct ChartOptions {
  std::string title;
  std::string x_label = "step";
  std::string y_label;
  bool log_y = false;
  std::optional<double> marker_x;  // a dashed vertical line
  std::string marker_label;        // its text, e.g. "best (step 40)"
  int width = 372;
  int height = 250;
};

// The y range a chart shows (before the margin): min and max of the finite values, positive
// ones only when `log_y`; nullopt when there is none.
struct ValueRange {
  double lo = 0, hi = 0;
};
std::optional<ValueRange> value_range(const std::vector<ChartSeries>& series, bool log_y);

bool use_log_scale(const std::vector<ChartSeries>& series);

// Up to about `target` round tick values (1, 2, 5 x 10^k) covering [lo, hi]; on a log axis the
// powers of ten in range; when fewer than two fall inside, 1, 2, 5 x 10^k in range; when still
// fewer than two, linear ticks.
std::vector<double> axis_ticks(double lo, double hi, bool log_y, int target = 5);

// "0.0012", "3.5", "1.2e+05": a short label for a tick or a table cell.
std::string format_number(double v);

// The <svg> element. A chart with no drawable point says "no data" in its place.
std::string svg_chart(const std::vector<ChartSeries>& series, const ChartOptions& options);

// One bar of `width` px: a share per (label, value) with value > 0, each labelled with its
// percentage; the legend beneath gives label, value and percentage.
std::string svg_stacked_bar(const std::vector<std::pair<std::string, double>>& parts,
                            const std::vector<std::string>& colors, int width = 560);

// The colour of series / run `i` (a 10-colour palette, cycling).
std::string palette_color(size_t i);

}  // namespace tessera
