// `--set key.path=value` overrides: typed like file values, applied last, same error quality.
#include "tests/common/config_test_util.h"

namespace tessera {
namespace {

using testing::expect_config_error;
using testing::kRequired;
using testing::load_text;

TEST(ConfigOverride, EveryType) {
  const Config c =
      load_text(kRequired, {"optim.lr=3e-4", "model.filters=32", "model.batch_norm=false",
                            "experiment.name=over", "optim.name=sgd", "optim.betas=[0.8, 0.9]",
                            "eval.metrics=[dice,iou]",
                            "cluster.partition=", "cluster.time=02:00:00", "cluster.env=[A=1, B]",
                            "experiment.seed=7", "train.max_steps=10", "schedule.warmup_steps=2"});
  EXPECT_DOUBLE_EQ(c.optim.lr, 3e-4);
  EXPECT_EQ(c.model.filters, 32);
  EXPECT_FALSE(c.model.batch_norm);
  EXPECT_EQ(c.experiment.name, "over");
  EXPECT_EQ(c.optim.name, "sgd");
  EXPECT_EQ(c.optim.betas, (std::vector<double>{0.8, 0.9}));
  EXPECT_EQ(c.eval.metrics, (std::vector<std::string>{"dice", "iou"}));
  EXPECT_EQ(c.cluster.partition, "");
  EXPECT_EQ(c.cluster.time, "02:00:00");
  EXPECT_EQ(c.cluster.env, (std::vector<std::string>{"A=1", "B"}));
  EXPECT_EQ(c.experiment.seed, 7u);
  EXPECT_EQ(c.train.max_steps, 10);
}

TEST(ConfigOverride, WinsOverFileAndLaterWinsOverEarlier) {
  const Config c = load_text(std::string(kRequired) + "model: {filters: 8}\n",
                             {"model.filters=16", "model.filters=24"});
  EXPECT_EQ(c.model.filters, 24);
}

TEST(ConfigOverride, CanFixAnInvalidFileValueAndSupplyRequiredKeys) {
  const Config c = load_text("task: {kind: segmentation}\nmodel: {filters: 0}\n",
                             {"model.filters=4", "experiment.name=cli"});
  EXPECT_EQ(c.model.filters, 4);
  EXPECT_EQ(c.experiment.name, "cli");
}

TEST(ConfigOverride, WrongTypeAndRange) {
  expect_config_error([] { load_text(kRequired, {"optim.lr=fast"}); },
                      {"--set optim.lr=fast: optim.lr: expected a number > 0, found `fast`"});
  expect_config_error([] { load_text(kRequired, {"optim.lr=-1"}); },
                      {"--set optim.lr=-1: optim.lr: expected a number > 0, found -1"});
  expect_config_error([] { load_text(kRequired, {"model.filters=1.5"}); },
                      {"--set model.filters=1.5: model.filters: expected an integer"});
  expect_config_error([] { load_text(kRequired, {"model.batch_norm=yes"}); },
                      {"model.batch_norm: expected true or false, found `yes`"});
  expect_config_error([] { load_text(kRequired, {"optim.betas=0.9"}); },
                      {"--set optim.betas=0.9: optim.betas: expected a list of 2 values"});
  expect_config_error([] { load_text(kRequired, {"optim.betas=[0.9,1.5]"}); },
                      {"--set optim.betas=[0.9,1.5]: optim.betas[1]: expected a number in [0, 1), "
                       "found 1.5"});
  expect_config_error([] { load_text(kRequired, {"model.filters="}); },
                      {"model.filters: expected an integer in [1, 1024], found an empty value"});
  expect_config_error([] { load_text(kRequired, {"optim.name=adamm"}); },
                      {"optim.name: unknown value `adamm`; accepted: adam, adamw, sgd"});
  expect_config_error([] { load_text(kRequired, {"optim.betas=[0.9,"}); },
                      {"--set optim.betas=[0.9,: optim.betas: malformed value `[0.9,`"});
}

TEST(ConfigOverride, UnknownKeys) {
  expect_config_error([] { load_text(kRequired, {"optim.lrr=0.1"}); },
                      {"--set optim.lrr=0.1: unknown key `optim.lrr`; did you mean `optim.lr`?"});
  expect_config_error([] { load_text(kRequired, {"modle.filters=3"}); },
                      {"unknown key `modle.filters`; did you mean `model.filters`?"});
  expect_config_error([] { load_text(kRequired, {"train.lr=0.1"}); },
                      {"unknown key `train.lr`; did you mean `optim.lr`?"});
  expect_config_error([] { load_text(kRequired, {"filters=3"}); },
                      {"unknown key `filters`; did you mean `model.filters`?"});
  expect_config_error([] { load_text(kRequired, {"model=3"}); },
                      {"`model` is a section, not a value", "Keys in `model`:"});
  expect_config_error([] { load_text(kRequired, {"data.augment=3"}); },
                      {"`data.augment` is a section"});
}

TEST(ConfigOverride, MalformedArguments) {
  expect_config_error([] { load_text(kRequired, {"optim.lr"}); },
                      {"--set optim.lr: expected key.path=value"});
  expect_config_error([] { load_text(kRequired, {"=3"}); }, {"expected key.path=value"});
  expect_config_error([] { load_text(kRequired, {"base=x.yaml"}); },
                      {"`base` cannot be overridden"});
}

TEST(ConfigOverride, RelationErrorsNameTheOverride) {
  expect_config_error([] { load_text(kRequired, {"task.classes=3"}); },
                      {"task.out_channels (not set: default 1): multi-class segmentation",
                       "task.classes is 3 (set at --set task.classes=3)"});
}

}  // namespace
}  // namespace tessera
