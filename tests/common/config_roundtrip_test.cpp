// to_yaml() writes every key with its resolved value; loading that text gives the same config.
#include <set>
#include <sstream>

#include "common/config_schema.h"
#include "tests/common/config_test_util.h"

namespace tessera {
namespace {

using testing::load_text;

Config roundtrip(const Config& c) {
  return load_config_from_string(to_yaml(c), "resolved.yaml");
}

TEST(ConfigRoundTrip, DefaultsAndEveryKeyPresent) {
  Config c;
  c.experiment.name = "rt";
  const std::string yaml = to_yaml(c);
  for (const auto& spec : config_schema()) {
    const std::string leaf = spec.name() + ": ";
    EXPECT_NE(yaml.find(leaf), std::string::npos) << spec.path << " missing from\n" << yaml;
  }
  EXPECT_EQ(flatten(roundtrip(c)), flatten(c));
  EXPECT_EQ(to_yaml(roundtrip(c)), yaml);
  EXPECT_EQ(flatten(c).size(), config_schema().size());
}

TEST(ConfigRoundTrip, AwkwardValuesSurvive) {
  Config c;
  c.experiment.name = "a.b_c-1";
  c.experiment.seed = 18446744073709551615ULL;
  c.experiment.output_dir = "runs dir/with: colon #hash \"quotes\" and \\ backslash";
  c.data.train = "true";  // a string that looks like a bool
  c.data.val = "123";     // ... like a number
  c.data.test = "null";
  c.cluster.partition = "";
  c.cluster.account = "tab\there\nnewline";
  c.cluster.env = {"A=1", "PATH", "X=a, b: [c]"};
  c.cluster.hosts = {"n1", "n-2.example.org"};
  c.cluster.time = "1-00:00";
  c.optim.lr = 0.1 + 0.2;  // not exactly representable in few digits
  c.optim.eps = 1e-300;
  c.model.dropout = 0.1f;
  c.loss.focal_alpha = 1.0f / 3.0f;
  c.task.kind = TaskKind::segmentation;
  c.task.classes = 3;
  c.task.out_channels = 3;
  c.model.activation = "softmax";
  c.loss.name = "ce";
  c.loss.class_weights = {0.1f, 1.0f / 7.0f, 3.0f};
  c.schedule.name = "step";
  c.schedule.milestones = {10, 20, 9007199254740993LL};
  c.eval.metrics = {"miou"};
  c.checkpoint.metric = "val/miou";
  const Config back = roundtrip(c);
  EXPECT_EQ(flatten(back), flatten(c)) << to_yaml(c);
  EXPECT_EQ(back.experiment.output_dir, c.experiment.output_dir);
  EXPECT_EQ(back.cluster.account, c.cluster.account);
  EXPECT_EQ(back.data.train, "true");
  EXPECT_EQ(back.data.val, "123");
  EXPECT_EQ(back.data.test, "null");
  EXPECT_EQ(back.optim.lr, c.optim.lr);  // bit-exact
  EXPECT_EQ(back.optim.eps, c.optim.eps);
  EXPECT_EQ(back.model.dropout, c.model.dropout);
  EXPECT_EQ(back.loss.focal_alpha, c.loss.focal_alpha);
  EXPECT_EQ(back.loss.class_weights, c.loss.class_weights);
  EXPECT_EQ(back.schedule.milestones, c.schedule.milestones);
  EXPECT_EQ(back.experiment.seed, c.experiment.seed);
}

TEST(ConfigRoundTrip, EveryTaskKind) {
  const char* tails[] = {
      "task: {kind: translation, out_channels: 3}\nmodel: {arch: autoencoder, activation: relu}\n"
      "loss: {name: mse}\neval: {metrics: [psnr]}\ncheckpoint: {metric: val/psnr}\n",
      "task: {kind: super_resolution, out_channels: 3, scale: 4}\nmodel: {activation: none, "
      "residual: true}\nloss: {name: l1}\neval: {metrics: [psnr_y]}\ncheckpoint: {metric: "
      "val/psnr_y}\n",
      "task: {kind: anomaly, out_channels: 3}\nmodel: {arch: autoencoder_generic}\nloss: {name: "
      "ssim_l1}\neval: {metrics: [auc, mae]}\ncheckpoint: {metric: val/mae, mode: min}\n"};
  for (const char* t : tails) {
    const Config c = load_text(std::string("experiment: {name: k}\n") + t);
    EXPECT_EQ(flatten(roundtrip(c)), flatten(c)) << t;
  }
}

TEST(ConfigRoundTrip, FlattenIsKeyPathToPlainText) {
  Config c;
  c.experiment.name = "f";
  c.cluster.partition = "gpu";
  const auto flat = flatten(c);
  EXPECT_EQ(flat.at("optim.lr"), "0.001");
  EXPECT_EQ(flat.at("optim.betas"), "[0.9, 0.999]");
  EXPECT_EQ(flat.at("model.batch_norm"), "true");
  EXPECT_EQ(flat.at("task.kind"), "segmentation");
  EXPECT_EQ(flat.at("cluster.partition"), "gpu");
  EXPECT_EQ(flat.at("cluster.time"), "01:00:00");  // plain, unquoted
  EXPECT_EQ(flat.at("data.augment.hflip"), "true");
  EXPECT_EQ(flat.at("eval.metrics"), "[dice, iou, precision, recall]");
}

TEST(ConfigRoundTrip, YamlLayoutIsNested) {
  Config c;
  c.experiment.name = "n";
  std::istringstream in(to_yaml(c));
  std::string line;
  std::set<std::string> top;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != ' ') top.insert(line);
  }
  EXPECT_EQ(top.size(), 13u);
  EXPECT_TRUE(top.count("data:"));
  EXPECT_NE(to_yaml(c).find("\n  augment:\n    hflip: true\n"), std::string::npos);
}

}  // namespace
}  // namespace tessera
