// The pure parts of `tessera report` (launcher/report_*.h): HTML escaping and base64, the SVG
// chart builder (log scale, ranges, NaN), the config flattening and diff, metrics.jsonl parsing,
// the gallery's choice, the event-file image reader and read_run's errors. The command itself,
// rendered in headless Chromium, is tested in tests/e2e/report.sh.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "common/error.h"
#include "launcher/report_data.h"
#include "launcher/report_escape.h"
#include "launcher/report_events.h"
#include "launcher/report_html.h"
#include "launcher/report_svg.h"
#include "tensorboard.pb.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
const double kNaN = std::numeric_limits<double>::quiet_NaN();

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

TEST(ReportEscape, HtmlSpecialCharactersAndControlBytes) {
  EXPECT_EQ(html_escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(html_escape("tab\there\nnl"), "tab\there\nnl");
  EXPECT_EQ(html_escape(std::string("a\x01z\x7f", 4)), "a\xEF\xBF\xBDz\xEF\xBF\xBD");
  EXPECT_EQ(html_escape("caf\xC3\xA9"), "caf\xC3\xA9");  // UTF-8 passes
  EXPECT_EQ(html_escape("</script><script>alert(1)</script>").find('<'), std::string::npos);
}

TEST(ReportEscape, Base64Rfc4648Vectors) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foob"), "Zm9vYg==");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64(std::string("\xff\x00\xfe", 3)), "/wD+");
}

ChartSeries line(std::vector<double> x, std::vector<double> y) {
  return ChartSeries{"s", "#123456", std::move(x), std::move(y), false, false};
}

TEST(ReportSvg, RangeSkipsNonFiniteAndOnALogAxisNonPositive) {
  const std::vector<ChartSeries> s{line({1, 2, 3, 4, 5}, {0.5, kNaN, -2, INFINITY, 8})};
  auto r = value_range(s, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->lo, -2);
  EXPECT_EQ(r->hi, 8);
  r = value_range(s, true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->lo, 0.5);
  EXPECT_EQ(r->hi, 8);
  EXPECT_FALSE(value_range({line({1, 2}, {kNaN, kNaN})}, false));
  EXPECT_FALSE(value_range({line({1, 2}, {0, -1})}, true));
}

TEST(ReportSvg, LogScaleOnlyWhenAllPositiveAndSpanningDecades) {
  EXPECT_TRUE(use_log_scale({line({1, 2, 3}, {2.0, 0.5, 0.01})}));
  EXPECT_FALSE(use_log_scale({line({1, 2, 3}, {2.0, 1.5, 1.0})}));   // 2x: linear reads better
  EXPECT_FALSE(use_log_scale({line({1, 2, 3}, {2.0, 0.0, 0.01})}));  // a zero
  EXPECT_FALSE(use_log_scale({line({1, 2, 3}, {2.0, -1, 0.01})}));   // a negative
  EXPECT_TRUE(use_log_scale({line({1, 2, 3, 4}, {2.0, kNaN, 0.01, INFINITY})}));  // NaN ignored
  EXPECT_FALSE(use_log_scale({line({1}, {kNaN})}));
}

TEST(ReportSvg, TicksLinearAndLog) {
  const auto near = [](const std::vector<double>& got, const std::vector<double>& want) {
    if (got.size() != want.size()) return false;
    for (size_t i = 0; i < got.size(); ++i) {
      if (std::abs(got[i] - want[i]) > 1e-12 * std::max(1.0, std::abs(want[i]))) return false;
    }
    return true;
  };
  EXPECT_TRUE(near(axis_ticks(0, 1, false, 5), {0, 0.2, 0.4, 0.6, 0.8, 1}));
  EXPECT_TRUE(near(axis_ticks(-3, 7, false, 5), {-2, 0, 2, 4, 6}));
  EXPECT_TRUE(near(axis_ticks(0.01, 10, true), {0.01, 0.1, 1, 10}));
  // Less than a decade: 1, 2, 5 x 10^k.
  EXPECT_TRUE(near(axis_ticks(0.15, 0.6, true), {0.2, 0.5}));
  EXPECT_EQ(axis_ticks(3, 3, false), std::vector<double>{3});
  EXPECT_TRUE(axis_ticks(kNaN, 1, false).empty());
}

TEST(ReportSvg, NaNBreaksTheLineAndIsNotDrawn) {
  ChartOptions o;
  o.title = "loss";
  const std::string svg = svg_chart({line({1, 2, 3, 4, 5}, {1, 2, kNaN, 3, 4})}, o);
  const size_t d = svg.find(" d=\"");
  ASSERT_NE(d, std::string::npos);
  const std::string path = svg.substr(d + 4, svg.find('"', d + 4) - d - 4);
  EXPECT_EQ(count(path, "M"), 2u) << path;  // two segments: 1-2 and 4-5
  EXPECT_EQ(count(path, "L"), 2u) << path;
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("NaN"), std::string::npos);
}

TEST(ReportSvg, MinAndMaxMapToThePlotEdgesWithAMargin) {
  ChartOptions o;
  o.width = 564;   // plot x from 64 to 548
  o.height = 300;  // plot y from 28 to 260
  const std::string svg = svg_chart({line({0, 10}, {0, 1})}, o);
  // y: [0,1] padded 5% -> 0 at 260 - 0.05/1.1*232 = 249.5, 1 at 38.5; x spans exactly.
  EXPECT_NE(svg.find("d=\"M64.0 249.5 L548.0 38.5\""), std::string::npos) << svg;
}

TEST(ReportSvg, LogAxisDropsNonPositivePointsAndSaysLog) {
  ChartOptions o;
  o.log_y = true;
  o.y_label = "loss";
  const std::string svg = svg_chart({line({1, 2, 3, 4}, {1, 0.1, 0, 0.001})}, o);
  EXPECT_NE(svg.find("loss (log)"), std::string::npos);
  EXPECT_NE(svg.find(">0.01<"), std::string::npos);  // a decade tick
  const size_t d = svg.find(" d=\"");
  const std::string path = svg.substr(d + 4, svg.find('"', d + 4) - d - 4);
  EXPECT_EQ(count(path, "M"), 2u) << path;
}

TEST(ReportSvg, NoDataFlatSeriesMarkerLegendAndEscaping) {
  ChartOptions o;
  o.title = "<b>&";
  EXPECT_NE(svg_chart({line({1, 2}, {kNaN, kNaN})}, o).find("no data"), std::string::npos);
  EXPECT_NE(svg_chart({}, o).find("&lt;b&gt;&amp;"), std::string::npos);
  const std::string flat = svg_chart({line({1, 2, 3}, {5, 5, 5})}, o);
  EXPECT_EQ(flat.find("nan"), std::string::npos);
  EXPECT_NE(flat.find(" L"), std::string::npos);
  o.marker_x = 2;
  o.marker_label = "best (step 2)";
  ChartSeries pts = line({1, 2, 3}, {1, 2, 3});
  pts.points = true;
  pts.label = "run <1>";
  const std::string two = svg_chart({pts, line({1, 3}, {2, 2})}, o);
  EXPECT_EQ(count(two, "<circle"), 3u);
  EXPECT_NE(two.find("class=\"marker\""), std::string::npos);
  EXPECT_NE(two.find("best (step 2)"), std::string::npos);
  EXPECT_NE(two.find("class=\"legend\""), std::string::npos);
  EXPECT_NE(two.find("run &lt;1&gt;"), std::string::npos);
}

TEST(ReportSvg, StackedBarShares) {
  const std::string svg =
      svg_stacked_bar({{"data", 1}, {"forward", 3}, {"nan", kNaN}}, {"#111", "#222", "#333"});
  EXPECT_NE(svg.find("25.0%"), std::string::npos);
  EXPECT_NE(svg.find("75.0%"), std::string::npos);
  EXPECT_NE(svg_stacked_bar({}, {}).find("no data"), std::string::npos);
}

TEST(ReportConfig, FlattenAndDiff) {
  const ConfigEntries a = flatten_config(
      "experiment: {name: a, output_dir: x}\nmodel: {arch: unet, depth: 4}\n"
      "optim: {betas: [0.9, 0.999], lr: 0.001}\ndata: {val: \"\"}\n",
      "a.yaml");
  EXPECT_EQ(config_value(a, "optim.betas"), "[0.9, 0.999]");
  EXPECT_EQ(config_value(a, "model.depth"), "4");
  EXPECT_EQ(config_value(a, "data.val"), "");
  const ConfigEntries b = flatten_config(
      "experiment: {name: b, output_dir: y}\nmodel: {arch: autoencoder, depth: 4}\n"
      "optim: {betas: [0.9, 0.999], lr: 0.01, eps: 1e-8}\ndata: {val: \"\"}\n",
      "b.yaml");
  const auto rows = config_diff({a, b});
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].key, "model.arch");
  EXPECT_EQ(rows[0].values, (std::vector<std::optional<std::string>>{"unet", "autoencoder"}));
  EXPECT_EQ(rows[1].key, "optim.lr");
  EXPECT_EQ(rows[2].key, "optim.eps");
  EXPECT_EQ(rows[2].values[0], std::nullopt);
  EXPECT_EQ(rows[2].values[1], "1e-8");
  EXPECT_TRUE(config_diff({a, a}).empty());
  EXPECT_TRUE(config_diff({a}).empty());
  EXPECT_THROW(flatten_config("- 1\n- 2\n", "list.yaml"), Error);
  EXPECT_THROW(flatten_config("a: [1,\n", "bad.yaml"), Error);
}

TEST(ReportMetrics, TrainingAndValidationRecordsNullIsNaNPartialLastLineIgnored) {
  const std::string text =
      "{\"step\":1,\"loss\":0.5,\"lr\":0.1,\"time\":{\"data\":0.25,\"forward\":1}}\n"
      "{\"step\":2,\"loss\":null,\"lr\":0.1}\n"
      "{\"split\":\"val\",\"step\":2,\"val/dice\":0.4,\"selected/dice\":0.4}\n"
      "{\"step\":3,\"loss\":0.2";
  const MetricsLog m = parse_metrics_log(text, "m.jsonl");
  EXPECT_EQ(m.records, 3u);
  EXPECT_EQ(m.last_step, 2);
  EXPECT_EQ(m.train.at("loss").step, (std::vector<double>{1, 2}));
  EXPECT_TRUE(std::isnan(m.train.at("loss").value[1]));
  EXPECT_EQ(m.train.at("time/forward").value, std::vector<double>{1});
  EXPECT_EQ(m.val.at("val/dice").value, std::vector<double>{0.4});
  EXPECT_EQ(m.val.count("split"), 0u);
  EXPECT_EQ(m.train.count("step"), 0u);
  try {
    parse_metrics_log("{\"step\":1}\nnot json\n", "runs/x/metrics.jsonl");
    FAIL() << "a malformed line was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("runs/x/metrics.jsonl line 2"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(parse_metrics_log("{\"loss\":1}\n", "m"), Error);  // no step
}

TEST(ReportGallery, PicksFirstLastBestAndEvenlySpaced) {
  EXPECT_EQ(pick_gallery({4, 8}, std::nullopt, 8), (std::vector<size_t>{0, 1}));
  EXPECT_TRUE(pick_gallery({}, 4, 8).empty());
  std::vector<int64_t> steps;
  for (int i = 1; i <= 100; ++i) steps.push_back(10 * i);
  const auto p = pick_gallery(steps, 370, 5);
  EXPECT_EQ(p.size(), 5u);
  EXPECT_EQ(p.front(), 0u);
  EXPECT_EQ(p.back(), 99u);
  EXPECT_NE(std::find(p.begin(), p.end(), 36u), p.end());  // step 370
}

// A TFRecord of `data` as trainer/tensorboard.h frames it.
std::string frame(const std::string& data) {
  std::string out;
  const uint64_t n = data.size();
  for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  const auto put32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  put32(masked_crc32c(out.data(), 8));
  out += data;
  put32(masked_crc32c(data.data(), data.size()));
  return out;
}

std::string image_event(int64_t step, const std::string& png) {
  tb::Event e;
  e.set_step(step);
  auto* v = e.mutable_summary()->add_value();
  v->set_tag("val/images");
  v->mutable_image()->set_width(3);
  v->mutable_image()->set_height(1);
  v->mutable_image()->set_encoded_image_string(png);
  return e.SerializeAsString();
}

std::string start_event(int64_t step) {
  tb::Event e;
  e.set_step(step);
  e.mutable_session_log()->set_status(tb::SessionLog::START);
  return e.SerializeAsString();
}

class ReportFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tessera-report-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const fs::path& p, const std::string& bytes) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
  }
  fs::path dir_;
};

TEST_F(ReportFiles, EventImagesFollowTensorBoardsDiscardRuleAndSkipDamage) {
  // File 1: a run that validated at 4 and 8 and was killed; file 2 resumed from 4 (START 5) and
  // validated at 8 again: its picture replaces the orphaned one.
  write(dir_ / "tb/events.out.tfevents.1.h",
        frame(start_event(0)) + frame(image_event(4, "png4")) + frame(image_event(8, "old8")));
  std::string second = frame(start_event(5)) + frame(image_event(8, "new8"));
  std::string damaged = frame(image_event(12, "png12"));
  damaged[damaged.size() - 6] ^= 0x20;  // in the data: its CRC fails
  write(dir_ / "tb/events.out.tfevents.2.h", second + damaged + frame(image_event(16, "png16")));
  const auto files = event_files((dir_ / "tb").string());
  ASSERT_EQ(files.size(), 2u);
  const EventScan scan = scan_event_images(files, "val/images");
  ASSERT_EQ(scan.images.size(), 3u);
  EXPECT_EQ(scan.images[0].step, 4);
  EXPECT_EQ(scan.images[1].step, 8);
  EXPECT_EQ(scan.images[2].step, 16);
  EXPECT_EQ(load_event_image(scan.images[1], "val/images").png, "new8");
  ASSERT_EQ(scan.notes.size(), 1u);
  EXPECT_NE(scan.notes[0].find("bad data CRC"), std::string::npos);
}

TEST_F(ReportFiles, AnAbsurdRecordLengthIsRefusedBeforeAllocating) {
  std::string head;
  const uint64_t n = uint64_t{1} << 62;
  for (int i = 0; i < 8; ++i) head += static_cast<char>((n >> (8 * i)) & 0xff);
  const uint32_t crc = masked_crc32c(head.data(), 8);
  for (int i = 0; i < 4; ++i) head += static_cast<char>((crc >> (8 * i)) & 0xff);
  write(dir_ / "events.out.tfevents.1.h", frame(image_event(2, "png2")) + head + "xxxx");
  const EventScan scan =
      scan_event_images({(dir_ / "events.out.tfevents.1.h").string()}, "val/images");
  EXPECT_EQ(scan.images.size(), 1u);
  ASSERT_EQ(scan.notes.size(), 1u);
  EXPECT_NE(scan.notes[0].find("claims"), std::string::npos) << scan.notes[0];
}

TEST_F(ReportFiles, ReadRunErrorsNameTheFile) {
  const auto message = [](const std::string& d) {
    try {
      read_run(d);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message((dir_ / "nope").string()).find("no such directory"), std::string::npos);
  write(dir_ / "r/config.resolved.yaml", "experiment: {name: r}\ncheckpoint: {metric: val/dice}\n");
  EXPECT_NE(message((dir_ / "r").string()).find("metrics.jsonl: not found"), std::string::npos);
  write(dir_ / "r/metrics.jsonl", "{\"step\":1,\"loss\":1}\n[1,2]\n");
  EXPECT_NE(message((dir_ / "r").string()).find("metrics.jsonl line 2: not a JSON object"),
            std::string::npos);
  write(dir_ / "r/metrics.jsonl",
        "{\"step\":1,\"loss\":1}\n{\"split\":\"val\",\"step\":1,\"val/dice\":0.5}\n");
  const RunReport r = read_run((dir_ / "r").string());
  EXPECT_EQ(r.name, "r");
  EXPECT_EQ(r.best_step, 1);
  EXPECT_EQ(r.best_source, "metrics.jsonl");
  EXPECT_TRUE(r.images.empty());
  EXPECT_NE(r.images_note.find("no tb/"), std::string::npos);
  const std::string html = render_report({r, r}, "now");
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("Content-Security-Policy"), std::string::npos);
  EXPECT_NE(html.find("The configs are the same"), std::string::npos);
}

TEST(ReportHtml, EvalTableWithBaseline) {
  const auto summary = nlohmann::json::parse(
      R"({"checkpoint":"step-0000006","split":"test","samples":8,
          "metrics":{"psnr":20.5,"ssim":0.5},"noisy_input":{"psnr":18.0,"ssim":0.25}})");
  const std::string t = html_eval_table(summary);
  EXPECT_NE(t.find("noisy_input (baseline)"), std::string::npos);
  EXPECT_NE(t.find(">2.5<"), std::string::npos);   // psnr model - baseline
  EXPECT_NE(t.find(">0.25<"), std::string::npos);  // ssim baseline and difference
  const std::string plain = html_eval_table(nlohmann::json::parse(R"({"metrics":{"dice":0.7}})"));
  EXPECT_EQ(plain.find("baseline"), std::string::npos);
  EXPECT_NE(plain.find(">0.7<"), std::string::npos);
}

}  // namespace
}  // namespace tessera
