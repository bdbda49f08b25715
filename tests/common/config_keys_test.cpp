// Keys that nothing reads: every schema key names the code that reads it, and a key whose feature
// is not implemented yet accepts its default only (task.mask_fraction: 0.25),
// refusing anything else with the key, the file:line and why; train.precision fp16 likewise. Also
// Config::where() (which key, set where) and with_context() (an error from a component, prefixed
// with the key that led there). That each key really reaches its reader is shown by
// config_keys_reach_test.sh, through the tessera command.
#include "common/config_schema.h"
#include "tests/common/config_test_util.h"

namespace tessera {
namespace {

using testing::expect_config_error;
using testing::kRequired;
using testing::load_text;

TEST(ConfigKeys, EveryKeyNamesTheCodeThatReadsIt) {
  for (const auto& k : config_schema()) {
    EXPECT_FALSE(k.read_by.empty()) << k.path << ": add .reads(\"component/file.cpp\")";
    if (!k.not_implemented.empty()) {
      EXPECT_EQ(k.read_by.rfind("nothing yet", 0), 0u) << k.path;
    }
  }
}

TEST(ConfigKeys, Fp16PrecisionIsRefusedNamingKeyFileAndReason) {
  // kRequired takes lines 1-2: `precision` is on line 4, its value at column 14.
  const std::string body = std::string(kRequired) + "train:\n  precision: fp16\n";
  const std::string msg = expect_config_error(
      [&] { load_text(body); },
      {"t.yaml:4:14", "train.precision", "fp16 is not implemented", "use bf16"});
  EXPECT_EQ(msg.find("t.yaml:4:14"), 0u) << msg;
  expect_config_error([&] { load_text(kRequired, {"train.precision=fp16"}); },
                      {"--set train.precision=fp16", "fp16 is not implemented"});
  // The controls: the implemented values load.
  EXPECT_EQ(load_text(std::string(kRequired) + "train: {precision: fp32}\n").train.precision,
            "fp32");
  EXPECT_EQ(load_text(std::string(kRequired) + "train: {precision: bf16}\n").train.precision,
            "bf16");
}

TEST(ConfigKeys, UnimplementedTaskKeysAcceptTheirDefaultOnly) {
  const std::string denoise =
      "experiment: {name: t}\ntask: {kind: denoising, in_channels: 3, out_channels: 3}\n"
      "model: {activation: none}\nloss: {name: mse}\neval: {metrics: [psnr]}\n"
      "checkpoint: {metric: val/psnr}\n";
  EXPECT_EQ(load_text(denoise, {"task.noise_std=0"}).task.noise_std, 0.0f);
  expect_config_error([&] { load_text(denoise, {"task.mask_fraction=0.5"}); },
                      {"task.mask_fraction: `0.5` is refused", "--mask-fraction F"});
  EXPECT_EQ(load_text(denoise, {"task.mask_fraction=0.25"}).task.mask_fraction, 0.25f);
}

TEST(ConfigKeys, NoiseOnTheFlyIsForDenoisingOnly) {
  const std::string denoise =
      "experiment: {name: t}\ntask: {kind: denoising, in_channels: 3, out_channels: 3}\n"
      "model: {activation: none}\nloss: {name: mse}\neval: {metrics: [psnr]}\n"
      "checkpoint: {metric: val/psnr}\n";
  EXPECT_FLOAT_EQ(load_text(denoise, {"task.noise_std=0.1"}).task.noise_std, 0.1f);
  // Control: the same value for a task whose targets are not the clean inputs.
  const std::string translation =
      "experiment: {name: t}\ntask: {kind: translation, in_channels: 3, out_channels: 3}\n"
      "model: {activation: none}\nloss: {name: mse}\neval: {metrics: [psnr]}\n"
      "checkpoint: {metric: val/psnr}\n";
  expect_config_error([&] { load_text(translation, {"task.noise_std=0.1"}); },
                      {"task.noise_std", "task.kind denoising", "task.kind is translation"});
  expect_config_error([&] { load_text(denoise, {"task.noise_std=2"}); }, {"task.noise_std"});
}

TEST(ConfigKeys, WhereNamesTheFileLineOrOverrideThatSetAKey) {
  const Config c = load_text(std::string(kRequired) + "data:\n  val: v\n  train: data/x\n",
                             {"data.test=data/t"});
  EXPECT_EQ(c.where("data.train"), "data.train (set in t.yaml:5)");
  EXPECT_EQ(c.where("data.test"), "data.test (set by --set data.test=data/t)");
  EXPECT_EQ(c.where("optim.lr"), "optim.lr (default)");
  EXPECT_EQ(c.where("experiment.name"), "experiment.name (set in t.yaml:1)");
}

TEST(ConfigKeys, WithContextPutsTheKeyBeforeTheSourceLocation) {
  const Config c = load_text(std::string(kRequired) + "data: {train: data/x}\n");
  try {
    with_context(c.where("data.train"),
                 [] { TESSERA_THROW("dataset directory {} does not exist", "data/x"); });
    FAIL() << "nothing thrown";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("data.train (set in t.yaml:3): config_keys_test.cpp:", 0), 0u) << what;
    EXPECT_NE(what.find(": dataset directory data/x does not exist"), std::string::npos) << what;
    EXPECT_EQ(e.context(), "data.train (set in t.yaml:3)");
    EXPECT_EQ(e.message(), "dataset directory data/x does not exist");
  }
  // Values pass through; other exceptions are wrapped too.
  EXPECT_EQ(with_context("k", [] { return 7; }), 7);
  try {
    with_context("k (default)", [] { throw std::out_of_range("index 3"); });
    FAIL() << "nothing thrown";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "k (default): index 3");
  }
}

}  // namespace
}  // namespace tessera
