// `base:` inheritance: multi-level, paths relative to the including file, deep merge, errors
// located in the file that holds the bad value, missing bases and cycles refused.
#include <filesystem>

#include "tests/common/config_test_util.h"

namespace tessera {
namespace {

using testing::expect_config_error;
using testing::TempDir;

TEST(ConfigBase, MultiLevelDeepMerge) {
  TempDir d;
  d.write("shared/root.yaml",
          "model: {filters: 8, depth: 3, dropout: 0.3}\n"
          "optim: {betas: [0.5, 0.6], lr: 0.01}\n"
          "eval: {metrics: [dice, iou, recall]}\n"
          "data:\n  augment: {hflip: false, vflip: false}\n");
  d.write("shared/mid.yaml",
          "base: root.yaml\n"  // relative to shared/, not to the top file
          "task: {kind: segmentation}\n"
          "model: {filters: 16}\n"
          "data:\n  augment: {vflip: true}\n");
  const std::string top = d.write("exp/top.yaml",
                                  "base: ../shared/mid.yaml\n"
                                  "experiment: {name: deep}\n"
                                  "model: {dropout: 0.2}\n"
                                  "optim: {betas: [0.7, 0.8]}\n"
                                  "eval: {metrics: [dice]}\n");
  const Config c = load_config(top);
  EXPECT_EQ(c.model.filters, 16);          // mid overrides root
  EXPECT_EQ(c.model.depth, 3);             // from root, untouched by mid and top
  EXPECT_FLOAT_EQ(c.model.dropout, 0.2f);  // top overrides root
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.01);      // sibling of an overridden key survives
  EXPECT_EQ(c.optim.betas, (std::vector<double>{0.7, 0.8}));      // lists replace
  EXPECT_EQ(c.eval.metrics, (std::vector<std::string>{"dice"}));  // ... never concatenate
  EXPECT_FALSE(c.data.augment.hflip);  // nested section merged key by key
  EXPECT_TRUE(c.data.augment.vflip);
  EXPECT_EQ(c.experiment.name, "deep");
  EXPECT_EQ(c.task.kind, TaskKind::segmentation);
}

TEST(ConfigBase, ErrorNamesTheFileThatHoldsTheValue) {
  TempDir d;
  d.write("b/base.yaml", "task: {kind: segmentation}\nmodel:\n  filters: -4\n");
  const std::string top = d.write("top.yaml", "base: b/base.yaml\nexperiment: {name: x}\n");
  const std::string base_path = (std::filesystem::path(d.path()) / "b/base.yaml").string();
  const std::string msg = expect_config_error(
      [&] { load_config(top); },
      {base_path + ":3:12: model.filters: expected an integer in [1, 1024], found -4"});
  EXPECT_EQ(msg.find(base_path), 0u);
}

TEST(ConfigBase, UnknownKeyInBaseNamesTheBase) {
  TempDir d;
  d.write("base.yaml", "task: {kind: segmentation}\noptim: {lrr: 0.1}\n");
  const std::string top = d.write("top.yaml", "base: base.yaml\nexperiment: {name: x}\n");
  expect_config_error([&] { load_config(top); },
                      {"base.yaml:2:9: unknown key `optim.lrr`;", "did you mean `lr`?"});
}

TEST(ConfigBase, OverridingAValueFromTheBaseFixesIt) {
  // The base's bad value is replaced before conversion: only the winning value is checked...
  TempDir d;
  d.write("base.yaml", "task: {kind: segmentation}\nmodel: {filters: 0}\n");
  const std::string top =
      d.write("top.yaml", "base: base.yaml\nexperiment: {name: x}\nmodel: {filters: 8}\n");
  EXPECT_EQ(load_config(top).model.filters, 8);
  // ... but unknown keys in a base are always errors.
  d.write("base2.yaml", "task: {kind: segmentation}\nmodel: {filtrs: 0}\n");
  const std::string top2 =
      d.write("top2.yaml", "base: base2.yaml\nexperiment: {name: x}\nmodel: {filters: 8}\n");
  expect_config_error([&] { load_config(top2); }, {"base2.yaml:2:9: unknown key `model.filtrs`"});
}

TEST(ConfigBase, RelationErrorsNameWhereEachKeyWasSet) {
  TempDir d;
  d.write("base.yaml",
          "task: {kind: segmentation, classes: 3}\nmodel: {activation: softmax}\n"
          "loss: {name: ce}\n");
  const std::string top = d.write("top.yaml",
                                  "base: base.yaml\nexperiment: {name: x}\n"
                                  "task: {out_channels: 2}\n");
  expect_config_error([&] { load_config(top); },
                      {"top.yaml:3:22: task.out_channels: multi-class segmentation needs "
                       "out_channels == classes, found 2; task.classes is 3 (set at ",
                       "base.yaml:1:37)"});
}

TEST(ConfigBase, MissingBaseFile) {
  TempDir d;
  const std::string top =
      d.write("dir/top.yaml", "experiment: {name: x}\nbase: ../nowhere/base.yaml\n");
  expect_config_error([&] { load_config(top); },
                      {"top.yaml:2:7: base: file not found: ", "nowhere/base.yaml",
                       "relative to the directory of the file that names them"});
}

TEST(ConfigBase, CyclesAreRefusedNamingTheChain) {
  TempDir d;
  const std::string a = d.write("a.yaml", "base: sub/b.yaml\nexperiment: {name: x}\n");
  d.write("sub/b.yaml", "base: c.yaml\n");
  d.write("sub/c.yaml", "base: ../a.yaml\n");
  const std::string msg = expect_config_error(
      [&] { load_config(a); },
      {"c.yaml:1:7: base: inheritance cycle: ", "a.yaml -> ", "sub/b.yaml -> ", "sub/c.yaml -> "});
  EXPECT_NE(msg.rfind("a.yaml"), msg.find("a.yaml")) << "the chain ends where it started: " << msg;

  const std::string self = d.write("self.yaml", "base: ./self.yaml\n");
  expect_config_error([&] { load_config(self); }, {"self.yaml:1:7: base: inheritance cycle: "});
}

TEST(ConfigBase, BaseMustBeAPath) {
  TempDir d;
  const std::string top = d.write("top.yaml", "base: [a.yaml, b.yaml]\n");
  expect_config_error([&] { load_config(top); },
                      {"top.yaml:1:7: base: expected the path of a YAML file", "found a list"});
  const std::string nested = d.write("nested.yaml", "model: {base: a.yaml}\n");
  expect_config_error([&] { load_config(nested); }, {"unknown key `model.base`"});
  const std::string dir = d.write("dirbase.yaml", "base: .\n");
  expect_config_error([&] { load_config(dir); }, {"expected a YAML file, found a directory"});
}

TEST(ConfigBase, MalformedBaseNamesTheBase) {
  TempDir d;
  d.write("base.yaml", "task: {kind: segmentation\n");
  const std::string top = d.write("top.yaml", "base: base.yaml\nexperiment: {name: x}\n");
  expect_config_error([&] { load_config(top); }, {"base.yaml:", "malformed YAML"});
}

TEST(ConfigBase, RequiredKeysMayComeFromABase) {
  TempDir d;
  d.write("base.yaml", "experiment: {name: from-base}\ntask: {kind: segmentation}\n");
  const std::string top = d.write("top.yaml", "base: base.yaml\n");
  EXPECT_EQ(load_config(top).experiment.name, "from-base");
  const std::string no_name = d.write("b2.yaml", "task: {kind: segmentation}\n");
  const std::string top2 = d.write("top2.yaml", "base: b2.yaml\n");
  expect_config_error(
      [&] { load_config(top2); },
      {"top2.yaml: missing required key `experiment.name`", "nor in its bases " + no_name});
}

}  // namespace
}  // namespace tessera
