// The grid of `tessera sweep` (launcher/runs_sweep.h); the command itself runs in
// tests/launcher/sweep_cli.sh.
#include <gtest/gtest.h>

#include "common/error.h"
#include "launcher/runs_sweep.h"

namespace tessera {
namespace {

TEST(Sweep, GridAxisParsing) {
  const GridAxis a = parse_grid_axis("optim.lr=1e-3,3e-4");
  EXPECT_EQ(a.key, "optim.lr");
  EXPECT_EQ(a.values, (std::vector<std::string>{"1e-3", "3e-4"}));
  EXPECT_EQ(parse_grid_axis("model.arch=unet").values.size(), 1u);
  for (const char* bad : {"optim.lr", "=1,2", "optim.lr=", "optim.lr=1,,2", "optim.lr=1,2,1"}) {
    EXPECT_THROW(parse_grid_axis(bad), Error) << bad;
  }
  try {
    parse_grid_axis("optim.lr=1,2,1");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("value '1' is given twice"), std::string::npos);
  }
}

TEST(Sweep, ProductNamesAndOverrides) {
  const auto pts = expand_sweep("roads", {parse_grid_axis("optim.lr=1e-3,3e-4"),
                                          parse_grid_axis("model.arch=unet,autoencoder")},
                                1, 42);
  ASSERT_EQ(pts.size(), 4u);
  EXPECT_EQ(pts[0].name, "roads-lr_1e-3-arch_unet");
  EXPECT_EQ(pts[1].name, "roads-lr_1e-3-arch_autoencoder");
  EXPECT_EQ(pts[3].name, "roads-lr_3e-4-arch_autoencoder");
  EXPECT_EQ(pts[2].overrides, (std::vector<std::string>{"optim.lr=3e-4", "model.arch=unet",
                                                        "experiment.name=roads-lr_3e-4-arch_unet"}));
}

TEST(Sweep, SeedsAndUnsafeCharactersInNames) {
  const auto pts = expand_sweep("x", {parse_grid_axis("data.train=a b/c")}, 2, 7);
  ASSERT_EQ(pts.size(), 2u);
  EXPECT_EQ(pts[0].name, "x-train_a_b_c-s0");
  EXPECT_EQ(pts[1].name, "x-train_a_b_c-s1");
  EXPECT_EQ(pts[1].overrides, (std::vector<std::string>{"data.train=a b/c", "experiment.seed=8",
                                                        "experiment.name=x-train_a_b_c-s1"}));
  EXPECT_EQ(expand_sweep("x", {}, 1, 7).size(), 1u);  // no axes, one seed: the config itself
}

TEST(Sweep, CollidingNamesAndOversizedGridsAreRefused) {
  // "a/b" and "a_b" would both be named "-k_a_b": refused instead of sharing a run directory.
  EXPECT_THROW(expand_sweep("x", {parse_grid_axis("k=a/b,a_b")}, 1, 0), Error);
  // Control: distinct names pass.
  EXPECT_EQ(expand_sweep("x", {parse_grid_axis("k=a/b,c")}, 1, 0).size(), 2u);
  GridAxis big{"k", {}};
  for (int i = 0; i < 40; ++i) big.values.push_back(std::to_string(i));
  EXPECT_THROW(expand_sweep("x", {big}, 30, 0), Error);  // 1200 > kMaxSweepPoints
  EXPECT_THROW(expand_sweep("x", {big}, 0, 0), Error);
}

}  // namespace
}  // namespace tessera
