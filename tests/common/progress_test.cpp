// Progress lines of long operations (common/progress.h), with a fake clock and sink.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/progress.h"

namespace tessera {
namespace {

struct Fake {
  double now = 100.0;
  std::vector<std::string> out;
  Progress::Options options(bool terminal) {
    Progress::Options o;
    o.terminal = terminal;
    o.clock = [this] { return now; };
    o.write = [this](const std::string& s) { out.push_back(s); };
    return o;
  }
};

TEST(Progress, LineTextRateAndEta) {
  EXPECT_EQ(progress_line("synth roads", 500, 2000, 10.0, false),
            "synth roads 500/2000 (25%) 50/s ETA 30s");
  EXPECT_EQ(progress_line("eval test", 3, 10, 2.0, false), "eval test 3/10 (30%) 1.50/s ETA 5s");
  EXPECT_EQ(progress_line("pack", 0, 10, 1.0, false), "pack 0/10 (0%) 0.00/s ETA ?");
  EXPECT_EQ(progress_line("pack", 10, 10, 75.0, true), "pack 10/10 (100%) in 1m15s");
  EXPECT_EQ(progress_line("read", 7, 0, 2.0, false), "read 7 3.50/s");
  EXPECT_EQ(format_duration(3725), "1h02m");
  EXPECT_EQ(format_duration(-1), "?");
}

TEST(Progress, PlainLinesEveryIntervalAndAFinalLine) {
  Fake f;
  Progress p("synth roads", 100, f.options(false));
  f.now += 5;
  p.update(10);  // before the first interval: nothing
  EXPECT_TRUE(f.out.empty());
  f.now += 6;
  p.update(20);
  f.now += 1;
  p.update(30);  // within the interval since the last line
  f.now += 10;
  p.update(60);
  f.now += 1;
  p.update(100);
  p.finish();
  p.finish();  // idempotent
  ASSERT_EQ(f.out.size(), 3u);
  EXPECT_EQ(f.out[0], "synth roads 20/100 (20%) 1.82/s ETA 44s\n");
  EXPECT_EQ(f.out[1], "synth roads 60/100 (60%) 2.73/s ETA 15s\n");
  EXPECT_EQ(f.out[2], "synth roads 100/100 (100%) in 23s\n");
  for (const auto& l : f.out) EXPECT_EQ(l.find('\r'), std::string::npos) << l;
}

TEST(Progress, AShortOperationPrintsNothing) {
  Fake f;
  {
    Progress p("eval val", 8, f.options(false));
    f.now += 0.5;
    p.update(8);
    p.finish();
  }
  EXPECT_TRUE(f.out.empty());
  // Control: the same operation over 10 s does print, so the test above can fail.
  Progress p("eval val", 8, f.options(false));
  f.now += 11;
  p.update(8);
  p.finish();
  EXPECT_EQ(f.out.size(), 2u);
}

TEST(Progress, TerminalRewritesOneLineAndEndsItOnError) {
  Fake f;
  {
    Progress p("predict", 4, f.options(true));
    f.now += 0.2;
    p.update(1);
    f.now += 0.05;
    p.update(2);  // under 0.1 s since the last: skipped
    f.now += 0.2;
    p.update(3);
    // destroyed without finish(), as when an exception unwinds: the open line is ended
  }
  ASSERT_EQ(f.out.size(), 3u);
  EXPECT_EQ(f.out[0], "\rpredict 1/4 (25%) 5.00/s ETA 1s\033[K");
  EXPECT_EQ(f.out[1].substr(0, 13), "\rpredict 3/4 ");
  EXPECT_EQ(f.out[2], "\n");
}

TEST(Progress, OffWritesNothing) {
  Fake f;
  Progress::Options o = f.options(false);
  o.plain_interval_s = -1;  // TESSERA_PROGRESS=off
  Progress p("synth", 10, o);
  f.now += 100;
  p.update(10);
  p.finish();
  EXPECT_TRUE(f.out.empty());
}

}  // namespace
}  // namespace tessera
