// Every file in configs/ loads (bases with --partial semantics), the examples are what the
// article's tasks need, the CI variants are tiny, and docs/config.md lists every key.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/config_schema.h"
#include "tests/common/config_test_util.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using testing::expect_config_error;
using testing::source_dir;

std::vector<std::string> yaml_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".yaml") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

const std::vector<std::string> kExamples = {"roads",    "cells",   "multiclass", "monet_style",
                                            "superres", "denoise", "inpaint",    "anomaly"};

TEST(ConfigExamples, EveryExampleAndCiConfigLoads) {
  const std::string root = source_dir() + "/configs";
  const auto top = yaml_files(root);
  const auto ci = yaml_files(root + "/ci");
  EXPECT_GE(top.size(), kExamples.size());
  EXPECT_GE(ci.size(), kExamples.size());
  std::set<TaskKind> kinds;
  for (const auto& f : top) {
    SCOPED_TRACE(f);
    Config c;
    ASSERT_NO_THROW(c = load_config(f));
    kinds.insert(c.task.kind);
    EXPECT_NE(c.data.train, "") << "examples name their data";
  }
  EXPECT_EQ(kinds.size(), 6u) << "every task kind has an example";
  std::set<std::string> names;
  for (const auto& f : ci) {
    SCOPED_TRACE(f);
    Config c;
    ASSERT_NO_THROW(c = load_config(f));
    EXPECT_EQ(c.data.image_size, 32);
    EXPECT_LE(c.train.max_steps, 10);
    EXPECT_GT(c.train.max_steps, 0);
    EXPECT_LE(c.model.filters, 4);
    EXPECT_EQ(c.data.batch_size, 2);
    EXPECT_EQ(c.data.train.rfind("runs/ci-data/", 0), 0u) << c.data.train;
    EXPECT_TRUE(names.insert(c.experiment.name).second) << "CI run names are unique";
  }
  for (const auto& name : kExamples) {
    EXPECT_TRUE(fs::exists(root + "/" + name + ".yaml")) << name;
    EXPECT_TRUE(fs::exists(root + "/ci/" + name + ".yaml")) << name;
  }
}

TEST(ConfigExamples, BasesLoadPartiallyAndNeedAnExperiment) {
  const auto bases = yaml_files(source_dir() + "/configs/base");
  EXPECT_GE(bases.size(), 6u);
  LoadOptions partial;
  partial.partial = true;
  for (const auto& f : bases) {
    SCOPED_TRACE(f);
    EXPECT_NO_THROW(load_config(f, {}, partial));
    expect_config_error([&] { load_config(f); }, {"missing required key `experiment.name`"});
  }
}

TEST(ConfigExamples, ArticleTasks) {
  const std::string root = source_dir() + "/configs/";
  const Config roads = load_config(root + "roads.yaml");
  EXPECT_EQ(roads.task.kind, TaskKind::segmentation);
  EXPECT_EQ(roads.task.classes, 1);
  EXPECT_EQ(roads.model.arch, "unet");
  EXPECT_EQ(roads.model.filters, 16);
  EXPECT_EQ(roads.model.depth, 4);
  EXPECT_EQ(roads.model.activation, "sigmoid");
  EXPECT_EQ(roads.data.train, "data/roads/train");
  const Config cells = load_config(root + "cells.yaml");
  EXPECT_EQ(cells.task.classes, 1);
  EXPECT_EQ(cells.model.arch, "unet");
  const Config multi = load_config(root + "multiclass.yaml");
  EXPECT_GT(multi.task.classes, 1);
  EXPECT_EQ(multi.model.activation, "softmax");
  const Config monet = load_config(root + "monet_style.yaml");
  EXPECT_EQ(monet.task.kind, TaskKind::translation);
  EXPECT_EQ(monet.model.arch, "autoencoder");
  EXPECT_EQ(monet.data.image_size, 256);
  EXPECT_EQ(monet.model.activation, "relu");
  EXPECT_TRUE(monet.loss.name == "mse" || monet.loss.name == "ssim_l1");
  const Config sr = load_config(root + "superres.yaml");
  EXPECT_EQ(sr.task.kind, TaskKind::super_resolution);
  EXPECT_EQ(sr.model.arch, "unet");
  EXPECT_EQ(sr.task.out_channels, 3);
  EXPECT_TRUE(sr.model.residual);
  EXPECT_EQ(sr.model.head_init, "zero");
  EXPECT_EQ(sr.task.scale, 2);
  EXPECT_EQ(sr.loss.name, "mse");
  EXPECT_FALSE(sr.model.batch_norm);
  const Config dn = load_config(root + "denoise.yaml");
  EXPECT_EQ(dn.task.kind, TaskKind::denoising);
  EXPECT_EQ(dn.loss.name, "mse");
  EXPECT_EQ(dn.model.arch, "unet");
  EXPECT_TRUE(dn.model.residual);
  const Config dae = load_config(root + "denoise_autoencoder.yaml");
  EXPECT_EQ(dae.task.kind, TaskKind::denoising);
  EXPECT_EQ(dae.model.arch, "autoencoder_generic");
  EXPECT_EQ(load_config(root + "inpaint.yaml").task.kind, TaskKind::inpainting);
  EXPECT_EQ(load_config(root + "anomaly.yaml").task.kind, TaskKind::anomaly);
}

TEST(ConfigExamples, ExamplesRoundTrip) {
  for (const auto& dir : {"/configs", "/configs/ci"}) {
    for (const auto& f : yaml_files(source_dir() + dir)) {
      SCOPED_TRACE(f);
      const Config c = load_config(f);
      EXPECT_EQ(flatten(load_config_from_string(to_yaml(c))), flatten(c));
    }
  }
}

TEST(ConfigExamples, DocsListEveryKeyAsGenerated) {
  std::ifstream in(source_dir() + "/docs/config.md");
  ASSERT_TRUE(in.good()) << "docs/config.md missing";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string docs = ss.str();
  EXPECT_NE(docs.find(config_keys_markdown()), std::string::npos)
      << "docs/config.md's key tables are out of date: regenerate them with "
         "`build/bin/tessera config keys` and paste the output between the markers";
  for (const auto& spec : config_schema()) {
    EXPECT_NE(docs.find("`" + spec.path + "`"), std::string::npos) << spec.path;
  }
}

}  // namespace
}  // namespace tessera
