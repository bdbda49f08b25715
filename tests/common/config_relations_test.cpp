// Relations between keys: each refused combination names the key at fault, its location, and
// the related key with where it was set.
#include "tests/common/config_test_util.h"

namespace tessera {
namespace {

using testing::expect_config_error;
using testing::load_text;

struct Case {
  const char* yaml;  // appended to the required keys
  std::vector<std::string> fragments;
};

constexpr const char* kHead = "experiment: {name: t}\n";

void check(const Case& c, const std::string& head = kHead) {
  SCOPED_TRACE(c.yaml);
  expect_config_error([&] { load_text(head + c.yaml); }, c.fragments);
}

TEST(ConfigRelations, Segmentation) {
  check({"task: {kind: segmentation, classes: 1, out_channels: 3}\n",
         {"t.yaml:2:54: task.out_channels: binary segmentation needs out_channels 1, found 3",
          "task.classes is 1 (set at t.yaml:2:37)"}});
  check({"task: {kind: segmentation, classes: 3}\nmodel: {activation: softmax}\n",
         {"t.yaml: task.out_channels (not set: default 1): multi-class segmentation needs "
          "out_channels == classes, found 1; task.classes is 3 (set at t.yaml:2:37)"}});
  check({"task: {kind: segmentation, classes: 3, out_channels: 3}\nloss: {name: ce}\n",
         {"model.activation (not set: default sigmoid): multi-class segmentation needs "
          "activation softmax"}});
  check({"task: {kind: segmentation}\nmodel: {activation: softmax}\n",
         {"t.yaml:3:21: model.activation: binary segmentation needs activation sigmoid"}});
  check({"task: {kind: segmentation}\nloss: {name: ce}\n",
         {"t.yaml:3:14: loss.name: binary segmentation accepts bce, dice, bce_dice, focal, found "
          "ce"}});
  check({"task: {kind: segmentation, classes: 3, out_channels: 3}\nmodel: {activation: softmax}\n",
         {"loss.name (not set: default bce_dice): multi-class segmentation accepts ce, "
          "multiclass_dice, ce_dice, focal"}});
  // Colour jitter on multispectral inputs is refused; the same 4 channels without it pass.
  check({"task: {kind: segmentation, in_channels: 4}\n",
         {"data.augment.color_jitter (not set: default 0.1): is defined for grey and RGB inputs "
          "only, and task.in_channels is 4"}});
  EXPECT_NO_THROW(load_text(std::string(kHead) +
                            "task: {kind: segmentation, in_channels: 4}\n"
                            "data: {augment: {color_jitter: 0}}\n"));
  check({"task: {kind: segmentation}\neval: {metrics: [dice, psnr]}\n",
         {"eval.metrics: `psnr` is not a segmentation metric"}});
  check(
      {"task: {kind: segmentation, classes: 3, out_channels: 3}\nmodel: {activation: softmax}\n"
       "loss: {name: ce, class_weights: [1, 2]}\n",
       {"loss.class_weights: expected one weight per class (3"}});
}

TEST(ConfigRelations, ImageTasks) {
  const char* image =
      "model: {activation: none}\nloss: {name: l1}\neval: {metrics: [psnr]}\n"
      "checkpoint: {metric: val/psnr}\n";
  const std::string head = std::string(kHead) + image;
  check({"task: {kind: super_resolution, scale: 1, out_channels: 3}\n",
         {"task.scale: super_resolution needs scale >= 2, found 1"}},
        head);
  check({"task: {kind: super_resolution, scale: 3, out_channels: 3}\ndata: {image_size: 128}\n",
         {"data.image_size: must be divisible by task.scale (3) for super_resolution, found 128"}},
        head);
  check({"task: {kind: super_resolution, out_channels: 1}\n",
         {"task.out_channels: task super_resolution reconstructs the input image"}},
        head);
  check({"task: {kind: denoising, out_channels: 3, classes: 2}\n",
         {"task.classes: applies to segmentation only"}},
        head);
  check({"task: {kind: anomaly, out_channels: 3}\nloss: {name: bce}\n",
         {"loss.name: task anomaly accepts mse, l1, ssim, ssim_l1, found bce"}},
        std::string(kHead) +
            "model: {activation: none}\neval: {metrics: [psnr]}\n"
            "checkpoint: {metric: val/psnr}\n");
  check({"task: {kind: translation, out_channels: 3}\neval: {metrics: [auc]}\n",
         {"eval.metrics: `auc` is not a metric of task translation"}},
        std::string(kHead) +
            "model: {activation: none}\nloss: {name: l1}\n"
            "checkpoint: {metric: val/psnr}\n");
  check({"task: {kind: translation, out_channels: 3}\nmodel: {activation: softmax}\n",
         {"model.activation: softmax is for multi-class segmentation"}},
        std::string(kHead) +
            "loss: {name: l1}\neval: {metrics: [psnr]}\n"
            "checkpoint: {metric: val/psnr}\n");
}

TEST(ConfigRelations, ModelAndTraining) {
  const std::string seg = std::string(kHead) + "task: {kind: segmentation}\n";
  check({"data: {image_size: 100}\n",
         {"data.image_size: a U-Net of depth 4 needs a size divisible by 16, found 100"}},
        seg);
  check({"eval: {tile: 200}\n", {"eval.tile: a U-Net of depth 4 needs a tile divisible by 16"}},
        seg);
  check({"model: {residual: true}\n", {"model.residual: adds the input to the output"}}, seg);
  check({"model: {head_init: zero}\n",
         {"model.head_init: zero starts the network at a constant output unless model.residual"}},
        seg);
  check({"model: {arch: autoencoder, depth: 3}\n",
         {"model.depth: model.arch autoencoder is the article's fixed network (4 down-samplings), "
          "so model.depth must be 4, found 3"}},
        seg);
  check({"optim: {nesterov: true}\n", {"optim.nesterov: needs optim.name sgd and momentum > 0"}},
        seg);
  check({"optim: {lr: 1e-4}\nschedule: {min_lr: 1e-3}\n", {"schedule.min_lr: must be <= optim.lr"}},
        seg);
  check({"schedule: {name: step}\n",
         {"schedule.milestones (not set: default []): schedule step "
          "needs milestones"}},
        seg);
  check({"schedule: {name: step, milestones: [10, 5]}\n",
         {"schedule.milestones: expected strictly increasing steps, found 5 after 10"}},
        seg);
  check({"schedule: {milestones: [10]}\n",
         {"schedule.milestones: only schedule step uses milestones"}},
        seg);
  check({"train: {max_steps: 0, max_epochs: 0}\n",
         {"train.max_steps: train.max_steps and train.max_epochs are both 0"}},
        seg);
  check({"train: {max_steps: 50}\n",
         {"schedule.warmup_steps (not set: default 100): must be < "
          "train.max_steps, found 100; train.max_steps is 50"}},
        seg);
  check({"dist: {backend: nccl}\n", {"dist.backend: nccl needs device cuda"}}, seg);
  check({"dist: {sync_batchnorm: true}\nmodel: {batch_norm: false}\n",
         {"dist.sync_batchnorm: has no effect without batch norm"}},
        seg);
  check(
      {"loss: {bce_weight: 0, dice_weight: 0}\n", {"bce_dice needs bce_weight + dice_weight > 0"}},
      seg);
}

TEST(ConfigRelations, CheckpointMetricAndMode) {
  const std::string seg = std::string(kHead) + "task: {kind: segmentation}\n";
  check({"checkpoint: {mode: min}\n",
         {"checkpoint.mode: val/dice is higher better, so mode must be max, found min"}},
        seg);
  check({"checkpoint: {metric: val/loss}\n",
         {"checkpoint.mode (not set: default max): val/loss is lower better, so mode must be min"}},
        seg);
  check({"checkpoint: {metric: val/psnr}\n",
         {"checkpoint.metric: expected val/loss, train/loss or val/<metric> with <metric> one of "
          "eval.metrics (dice, iou, precision, recall), found \"val/psnr\""}},
        seg);
  check({"checkpoint: {metric: dice}\n", {"checkpoint.metric: expected val/loss"}}, seg);
  EXPECT_NO_THROW(load_text(seg + "checkpoint: {metric: val/loss, mode: min}\n"));
  EXPECT_NO_THROW(load_text(seg + "checkpoint: {metric: val/iou}\n"));
}

TEST(ConfigRelations, ExperimentAndCluster) {
  const std::string seg = "task: {kind: segmentation}\n";
  check({"experiment: {name: my/run}\n",
         {"experiment.name: expected a name made of letters, digits"}},
        seg);
  check({"experiment: {name: ..}\n", {"experiment.name: expected a name"}}, seg);
  check({"experiment: {name: t, output_dir: \"\"}\n",
         {"experiment.output_dir: expected a directory"}},
        seg);
  const std::string base = std::string(kHead) + seg;
  check({"cluster: {time: 1h}\n", {"cluster.time: expected a Slurm time limit", "found \"1h\""}},
        base);
  check({"cluster: {hosts: [a], hostfile: h.txt}\n",
         {"cluster.hosts: give either cluster.hosts or cluster.hostfile, not both"}},
        base);
  check({"cluster: {env: [\"1BAD=x\"]}\n", {"cluster.env: expected NAME=value or NAME"}}, base);
  check({"cluster: {hosts: [\"a b\"]}\n", {"cluster.hosts: expected host names"}}, base);
  for (const char* t : {"30", "30:00", "01:00:00", "2-00", "2-12:30", "2-12:30:00", "UNLIMITED"}) {
    EXPECT_NO_THROW(load_text(base + "cluster: {time: \"" + t + "\"}\n")) << t;
  }
}

}  // namespace
}  // namespace tessera
