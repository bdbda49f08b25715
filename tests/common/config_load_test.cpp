// Loading valid configs: defaults, every value type, strictness of scalar conversions.
#include <limits>

#include "common/config_internal.h"
#include "common/config_schema.h"
#include "tests/common/config_test_util.h"

namespace tessera {
namespace {

using testing::expect_config_error;
using testing::kRequired;
using testing::load_text;

TEST(ConfigLoad, RequiredKeysOnlyGiveDefaults) {
  const Config c = load_text(kRequired);
  Config expected;
  expected.experiment.name = "t";
  EXPECT_EQ(flatten(c), flatten(expected));
  EXPECT_EQ(c.run_dir(), "runs/t");
  EXPECT_EQ(c.task.kind, TaskKind::segmentation);
}

TEST(ConfigLoad, EveryValueType) {
  const Config c = load_text(R"(
experiment: {name: every-type, seed: 18446744073709551615, output_dir: /tmp/out}
task: {kind: segmentation, classes: 5, out_channels: 5}
model: {filters: 32, dropout: 0.25, batch_norm: false, activation: softmax}
loss: {name: ce, class_weights: [0.5, 1, 2.5, 1, 1], ignore_index: 255}
optim: {lr: 3e-4, betas: [0.8, 0.95], nesterov: False}
schedule: {name: step, milestones: [100, 200, 300000000000], gamma: 0.5}
train: {max_steps: 5000000000, channels_last: TRUE}
eval: {metrics: [miou, accuracy], threshold: 0.25}
checkpoint: {metric: val/miou}
cluster: {hosts: [node1, node2], env: ["NCCL_DEBUG=INFO", "PATH"], time: "2-12:00:00"}
data:
  augment: {hflip: false, scale_jitter: 0.2}
)");
  EXPECT_EQ(c.experiment.name, "every-type");
  EXPECT_EQ(c.experiment.seed, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(c.run_dir(), "/tmp/out/every-type");
  EXPECT_EQ(c.task.classes, 5);
  EXPECT_EQ(c.model.filters, 32);
  EXPECT_FLOAT_EQ(c.model.dropout, 0.25f);
  EXPECT_FALSE(c.model.batch_norm);
  EXPECT_EQ(c.loss.class_weights, (std::vector<float>{0.5f, 1.f, 2.5f, 1.f, 1.f}));
  EXPECT_EQ(c.loss.ignore_index, 255);
  EXPECT_DOUBLE_EQ(c.optim.lr, 3e-4);
  EXPECT_EQ(c.optim.betas, (std::vector<double>{0.8, 0.95}));
  EXPECT_EQ(c.schedule.milestones, (std::vector<int64_t>{100, 200, 300000000000LL}));
  EXPECT_EQ(c.train.max_steps, 5000000000LL);
  EXPECT_TRUE(c.train.channels_last);
  EXPECT_EQ(c.eval.metrics, (std::vector<std::string>{"miou", "accuracy"}));
  EXPECT_EQ(c.cluster.hosts, (std::vector<std::string>{"node1", "node2"}));
  EXPECT_EQ(c.cluster.env, (std::vector<std::string>{"NCCL_DEBUG=INFO", "PATH"}));
  EXPECT_EQ(c.cluster.time, "2-12:00:00");
  EXPECT_FALSE(c.data.augment.hflip);
  EXPECT_TRUE(c.data.augment.vflip);  // untouched sibling keeps its default
  EXPECT_FLOAT_EQ(c.data.augment.scale_jitter, 0.2f);
}

TEST(ConfigLoad, EmptySectionIsAccepted) {
  const Config c = load_text(std::string(kRequired) + "model:\ncluster:\n");
  EXPECT_EQ(c.model.filters, ModelConfig{}.filters);
}

TEST(ConfigLoad, QuotedStringsAreStrings) {
  const Config c = load_text(
      "experiment: {name: \"123\"}\ntask: {kind: 'segmentation'}\n"
      "data: {train: \"data/a b/train\"}\n");
  EXPECT_EQ(c.experiment.name, "123");
  EXPECT_EQ(c.data.train, "data/a b/train");
}

TEST(ConfigLoad, IntegersAreStrict) {
  for (const char* v : {"1.5", "1e3", "16x", "0x10", "\"16\"", "true"}) {
    SCOPED_TRACE(v);
    expect_config_error(
        [&] { load_text(std::string(kRequired) + "model: {filters: " + v + "}\n"); },
        {"t.yaml:3:18", "model.filters: expected an integer in [1, 1024], found"});
  }
  expect_config_error(
      [] { load_text(std::string(kRequired) + "train: {max_steps: 99999999999999999999}\n"); },
      {"train.max_steps: expected an integer >= 0, found `99999999999999999999`"});
  expect_config_error([] { load_text("experiment: {name: t, seed: -1}\ntask: {kind: anomaly}\n"); },
                      {"experiment.seed: expected an integer, found `-1`"});
}

TEST(ConfigLoad, NumbersAreStrict) {
  for (const char* v : {".nan", ".inf", "nan", "inf", "1_5", "fast", "'0.1'"}) {
    SCOPED_TRACE(v);
    expect_config_error([&] { load_text(std::string(kRequired) + "optim: {lr: " + v + "}\n"); },
                        {"t.yaml:3:13", "optim.lr: expected a number > 0, found"});
  }
  expect_config_error([] { load_text(std::string(kRequired) + "optim: {lr: \"0.1\"}\n"); },
                      {"found the quoted string \"0.1\""});
  // an integer literal is a valid number
  EXPECT_DOUBLE_EQ(load_text(std::string(kRequired) + "optim: {lr: 1}\n").optim.lr, 1.0);
}

TEST(ConfigLoad, BoolsAreStrict) {
  for (const char* v : {"yes", "no", "on", "1", "0", "y"}) {
    SCOPED_TRACE(v);
    expect_config_error([&] { load_text(std::string(kRequired) + "dist: {overlap: " + v + "}\n"); },
                        {"dist.overlap: expected true or false, found `"});
  }
}

TEST(ConfigLoad, PartialSkipsOnlyRequiredKeys) {
  LoadOptions partial;
  partial.partial = true;
  const Config c = load_config_from_string("model: {filters: 8}\n", "b.yaml", {}, ".", partial);
  EXPECT_EQ(c.model.filters, 8);
  expect_config_error(
      [&] { load_config_from_string("model: {filters: 0}\n", "b.yaml", {}, ".", partial); },
      {"b.yaml:1:18: model.filters"});
  expect_config_error(
      [&] { load_config_from_string("task: {classes: 3}\n", "b.yaml", {}, ".", partial); },
      {"task.out_channels"});
}

TEST(ConfigLoad, TaskKindStrings) {
  for (TaskKind k : {TaskKind::segmentation, TaskKind::translation, TaskKind::super_resolution,
                     TaskKind::denoising, TaskKind::inpainting, TaskKind::anomaly}) {
    EXPECT_EQ(task_kind_from_string(to_string(k)), k);
  }
  expect_config_error([] { task_kind_from_string("segment"); },
                      {"unknown task kind `segment`", "super_resolution"});
}

TEST(ConfigLoad, LoadConfigSetsSourcePath) {
  testing::TempDir dir;
  const std::string path = dir.write("x.yaml", kRequired);
  EXPECT_EQ(load_config(path).source_path, path);
  expect_config_error([&] { load_config(dir.path() + "/missing.yaml"); },
                      {"missing.yaml: config file not found"});
  expect_config_error([&] { load_config(dir.path()); },
                      {"expected a YAML file, found a directory"});
}

TEST(ConfigSchema, DefaultsSatisfyTheSchema) {
  // The struct defaults must be valid values of their own keys.
  const Config defaults;
  for (const auto& spec : config_schema()) {
    SCOPED_TRACE(spec.path);
    Config c;
    Leaf leaf;
    leaf.node = YAML::Load(format_value(spec, defaults, true));
    EXPECT_NO_THROW(assign_value(spec, leaf, c));
  }
}

TEST(ConfigSchema, KeysAndSections) {
  EXPECT_NE(find_config_key("optim.lr"), nullptr);
  EXPECT_NE(find_config_key("data.augment.hflip"), nullptr);
  EXPECT_EQ(find_config_key("data.augment"), nullptr);
  EXPECT_TRUE(is_config_section("data.augment"));
  EXPECT_TRUE(is_config_section("data"));
  EXPECT_FALSE(is_config_section("optim.lr"));
  const auto top = config_children("");
  EXPECT_EQ(top.front(), "base");
  EXPECT_EQ(top.size(), 14u);  // base + 13 sections
  EXPECT_EQ(edit_distance("filter", "filters"), 1u);
  EXPECT_EQ(edit_distance("fitlers", "filters"), 1u);  // transposition
  EXPECT_EQ(closest_match("filter", config_children("model")), "filters");
  EXPECT_EQ(closest_match("qqqqqqq", config_children("model")), "");
}

}  // namespace
}  // namespace tessera
