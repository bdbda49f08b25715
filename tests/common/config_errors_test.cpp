// Every kind of bad input gets a ConfigError naming the file, line:column, key path, what was
// expected and what was found. (Relations between keys: config_relations_test.cpp.)
#include "tests/common/config_test_util.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdio>
#include <future>

namespace tessera {
namespace {

using testing::expect_config_error;
using testing::kRequired;
using testing::load_text;

// kRequired takes lines 1-2, so `body` starts on line 3.
std::string expect_error(const std::string& body, const std::vector<std::string>& fragments) {
  return expect_config_error([&] { load_text(std::string(kRequired) + body); }, fragments);
}

TEST(ConfigErrors, UnknownKeySuggestsSibling) {
  const std::string msg =
      expect_error("model:\n  filter: 16\n",
                   {"t.yaml:4:3: unknown key `model.filter`;", "did you mean `filters`?",
                    "Keys in `model`: arch, filters, depth"});
  EXPECT_EQ(msg.find("t.yaml:4:3"), 0u) << "the location comes first";
}

TEST(ConfigErrors, UnknownKeyTypos) {
  expect_error("model: {fitlers: 16}\n",
               {"unknown key `model.fitlers`", "did you mean `filters`?"});
  expect_error("optim: {learning_rate: 0.1}\n", {"unknown key `optim.learning_rate`"});
  expect_error("data:\n  augment: {hflips: true}\n",
               {"t.yaml:4:13: unknown key `data.augment.hflips`", "did you mean `hflip`?"});
}

TEST(ConfigErrors, UnknownSectionSuggestsSection) {
  expect_error("modle:\n  filters: 16\n",
               {"t.yaml:3:1: unknown key `modle`;", "did you mean `model`?", "Top-level keys:"});
}

TEST(ConfigErrors, UnknownKeyFoundInAnotherSection) {
  expect_error("train: {lr: 0.1}\n", {"t.yaml:3:9: unknown key `train.lr`;",
                                      "did you mean `optim.lr`?", "Keys in `train`:"});
}

TEST(ConfigErrors, UnknownKeyWithoutCloseMatchListsKnownKeys) {
  const std::string msg = expect_error("model: {zzzzzzzzz: 1}\n",
                                       {"unknown key `model.zzzzzzzzz`", "Keys in `model`:"});
  EXPECT_EQ(msg.find("did you mean"), std::string::npos) << msg;
}

TEST(ConfigErrors, WrongTypes) {
  expect_error("model: {filters: sixteen}\n",
               {"t.yaml:3:18: model.filters: expected an integer in [1, 1024], found `sixteen`"});
  expect_error("model: {batch_norm: 1}\n",
               {"t.yaml:3:21: model.batch_norm: expected true or false, found `1`"});
  expect_error("model: {filters: [16]}\n", {"model.filters: expected an integer", "found a list"});
  expect_error("data: {train: {dir: x}}\n", {"data.train: expected a string, found a mapping"});
  expect_error("optim: {betas: 0.9}\n",
               {"t.yaml:3:16: optim.betas: expected a list of 2 values, each a number in [0, 1), "
                "found `0.9`"});
  expect_error("optim:\n  betas: [0.9, fast]\n",
               {"t.yaml:4:16: optim.betas[1]: expected a number in [0, 1), found `fast`"});
  expect_error(
      "optim: {betas: [0.9]}\n",
      {"optim.betas: expected a list of 2 values, each a number in [0, 1), found 1 value"});
  expect_error("eval: {metrics: dice}\n",
               {"eval.metrics: expected a list of values", "found `dice`"});
}

TEST(ConfigErrors, EmptyValue) {
  expect_error(
      "model:\n  filters:\n",
      {"t.yaml:4:3: model.filters: expected an integer in [1, 1024], found an empty value"});
  expect_error("data: {train: }\n", {"data.train: expected a string, found an empty value"});
}

TEST(ConfigErrors, OutOfRange) {
  expect_error("optim: {lr: -0.001}\n",
               {"t.yaml:3:13: optim.lr: expected a number > 0, found -0.001"});
  expect_error("optim: {lr: 0}\n", {"optim.lr: expected a number > 0, found 0"});
  expect_error("data: {batch_size: 0}\n",
               {"t.yaml:3:20: data.batch_size: expected an integer in [1, 65536], found 0"});
  expect_error("model: {dropout: 1.0}\n",
               {"model.dropout: expected a number in [0, 1), found 1.0"});
  expect_error("optim: {betas: [0.9, 1.0]}\n",
               {"t.yaml:3:22: optim.betas[1]: expected a number in [0, 1), found 1.0"});
  expect_error("loss: {ignore_index: -2}\n",
               {"loss.ignore_index: expected an integer in [-1, 255]"});
  expect_error("train: {grad_accum: 0}\n", {"train.grad_accum: expected an integer in [1, 4096]"});
  expect_error("dist: {timeout_s: 0}\n", {"dist.timeout_s: expected a number > 0, found 0"});
  expect_error("schedule: {name: step, milestones: [0]}\n",
               {"schedule.milestones[0]: expected an integer >= 1, found 0"});
}

TEST(ConfigErrors, UnknownEnumValueListsAccepted) {
  expect_error("optim: {name: adamm}\n",
               {"t.yaml:3:15: optim.name: unknown value `adamm`; accepted: adam, adamw, sgd",
                "(did you mean `adam`?)"});
  expect_config_error(
      [] { load_text("experiment: {name: t}\ntask: {kind: segmentaton}\n"); },
      {"t.yaml:2:14: task.kind: unknown value `segmentaton`; accepted: segmentation, translation, "
       "super_resolution, denoising, inpainting, anomaly",
       "did you mean `segmentation`?"});
  expect_error("eval: {metrics: [dice, f1]}\n",
               {"t.yaml:3:24: eval.metrics[1]: unknown value `f1`; accepted: dice, iou"});
  expect_error("train: {device: gpu}\n",
               {"train.device: unknown value `gpu`; accepted: cpu, cuda"});
}

TEST(ConfigErrors, MissingRequiredKey) {
  expect_config_error([] { load_text("task: {kind: segmentation}\n"); },
                      {"t.yaml: missing required key `experiment.name`: expected a string, not "
                       "set in t.yaml",
                       "--partial"});
  expect_config_error([] { load_text("experiment: {name: t}\n"); },
                      {"missing required key `task.kind`", "one of: segmentation"});
  expect_config_error([] { load_text(""); }, {"missing required key `experiment.name`"});
}

TEST(ConfigErrors, MalformedYaml) {
  expect_config_error([] { load_text("experiment: {name: t}\ntask:\n  kind: [segmentation\n"); },
                      {"t.yaml:4:1: malformed YAML: end of sequence flow not found"});
  expect_config_error([] { load_text("experiment: {name: t}\ntask: kind: segmentation\n"); },
                      {"t.yaml:2:11: malformed YAML: illegal map value"});
  expect_config_error([] { load_text("experiment:\n  name: t\n   seed: 1\n"); },
                      {"t.yaml:", "malformed YAML"});
}

TEST(ConfigErrors, SeveralDocuments) {
  expect_config_error(
      [] {
        load_text("experiment: {name: t}\ntask: {kind: segmentation}\n---\nmodel: {filters: 8}\n");
      },
      {"t.yaml:3:1: expected one YAML document, found more"});
  // a single document with an explicit start marker is fine
  EXPECT_NO_THROW(load_text("---\nexperiment: {name: t}\ntask: {kind: segmentation}\n"));
}

// A stray `,` at document level: yaml-cpp 0.7's LoadAll never returns on it (each call yields
// another empty document; memory grows without bound: found by tests/fuzz/fuzz_config). Each
// input must give a clean error, within a bound that tells an error from a hang. The control
// runs LoadAll itself in a child limited to 1 GiB and 20 s: where yaml-cpp has the defect the
// child dies or runs out of memory (the guard is what makes the difference); a yaml-cpp
// without it returns, which the test reports.
TEST(ConfigErrors, StrayCommaAtDocumentLevelIsAnErrorNotAnEndlessParse) {
  for (const char* text : {",", ",x\n t\n", "[a], b\n", "{a: b},\n", "--- ,\n", "\"a\",\n",
                           ",a: b\n", "experiment: {name: t}\n---\n,\n"}) {
    SCOPED_TRACE(text);
    auto result = std::async(std::launch::async, [text] {
      try {
        load_text(text);
      } catch (const ConfigError& e) {
        return e.message();
      }
      return std::string("no error");
    });
    if (result.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      ADD_FAILURE() << "loading the config did not end in 20 s";
      std::_Exit(1);  // the parse thread cannot be joined
    }
    const std::string message = result.get();
    EXPECT_NE(message.find("t.yaml:"), std::string::npos) << message;
    EXPECT_TRUE(message.find("one YAML document") != std::string::npos ||
                message.find("malformed YAML") != std::string::npos)
        << message;
  }
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const rlimit mem{1u << 30, 1u << 30};
    ::setrlimit(RLIMIT_AS, &mem);
    ::alarm(20);
    try {
      std::_Exit(YAML::LoadAll(",").size() < 1000 ? 0 : 4);
    } catch (const std::bad_alloc&) {
      std::_Exit(3);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    std::printf("control: this yaml-cpp's LoadAll(\",\") returns: it lacks the defect\n");
  } else {
    std::printf("control: YAML::LoadAll(\",\") did not return (%s %d): the defect is present\n",
                WIFEXITED(status) ? "exit" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  }
}

TEST(ConfigErrors, NotAMapping) {
  expect_config_error(
      [] { load_text("- a\n- b\n"); },
      {"t.yaml:1:1: expected a mapping of sections at the top level", "found a list"});
  expect_error("model: 5\n", {"t.yaml:3:8: `model` is a section: expected a mapping of its keys, "
                              "found `5`",
                              "Keys in `model`:"});
  expect_error("data: {augment: [hflip]}\n", {"`data.augment` is a section", "found a list"});
}

TEST(ConfigErrors, DuplicateKey) {
  expect_error("model:\n  filters: 16\n  filters: 32\n",
               {"t.yaml:5:3: duplicate key `model.filters`"});
  expect_config_error([] { load_text("experiment: {name: t}\nexperiment: {seed: 1}\n"); },
                      {"t.yaml:2:1: duplicate key `experiment`"});
}

TEST(ConfigErrors, NonScalarKey) {
  expect_error("model: {[a, b]: 1}\n",
               {"t.yaml:3:9: expected a key name in `model`, found a list"});
}

}  // namespace
}  // namespace tessera
