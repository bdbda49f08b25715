// The schema table, part 1 (experiment, task, model, loss, data): every config key, its field,
// range, accepted values and meaning. Part 2 (optim ... logging) is config_schema_run.cpp.
// Defaults are not repeated here: they are the initial values of the structs in config.h.
#include "common/config_schema.h"
#include "common/config_internal.h"

#include <algorithm>

namespace tessera {

std::vector<std::string> schema_table::all_metrics() {
  std::vector<std::string> m = segmentation_metrics();
  m.insert(m.end(), image_metrics().begin(), image_metrics().end());
  return m;
}

namespace {

using namespace schema_table;

std::vector<std::string> all_losses() {
  std::vector<std::string> l = binary_losses();
  for (const auto& v : multiclass_losses()) {
    if (std::find(l.begin(), l.end(), v) == l.end()) l.push_back(v);
  }
  l.insert(l.end(), image_losses().begin(), image_losses().end());
  return l;
}

std::vector<KeySpec> build_schema() {
  std::vector<KeySpec> s;
  // experiment
  s.push_back(
      key("experiment.name", TESSERA_CFG_FIELD(experiment.name),
          "Run name; the run directory is output_dir/name. Letters, digits, `.`, `_`, "
          "`-`.")
          .must_be_set()
          .reads("trainer/trainer.cpp (run directory); launcher/cluster_sbatch.cpp (job name)"));
  s.push_back(key("experiment.seed", TESSERA_CFG_FIELD(experiment.seed),
                  "Seed of every random stream (init, dropout, shuffling, augmentation).")
                  .reads("trainer/trainer.cpp (init, dropout); datasets/sampler.cpp, "
                         "datasets/loader.cpp (order, augmentation)"));
  s.push_back(key("experiment.output_dir", TESSERA_CFG_FIELD(experiment.output_dir),
                  "Parent of the run directory (relative to the working directory).")
                  .reads("trainer/trainer.cpp (run directory)"));
  // task
  s.push_back(
      key("task.kind", TESSERA_CFG_FIELD(task.kind), "What the network learns.")
          .must_be_set()
          .one_of({"segmentation", "translation", "super_resolution", "denoising", "inpainting",
                   "anomaly"})
          .reads("trainer/losses.cpp, trainer/metrics.cpp, trainer/task_io.cpp, models/model.cpp"));
  s.push_back(key("task.classes", TESSERA_CFG_FIELD(task.classes),
                  "Segmentation classes: 1 = binary (sigmoid), >1 = multi-class (softmax). "
                  "Must be 1 for other tasks.")
                  .in(closed(1, 256))
                  .reads("models/model.cpp, trainer/losses.cpp, trainer/metrics.cpp"));
  s.push_back(
      key("task.in_channels", TESSERA_CFG_FIELD(task.in_channels), "Channels of the network input.")
          .in(closed(1, 64))
          .reads("models/model.cpp; datasets/loader.cpp (checked against the data)"));
  s.push_back(key("task.out_channels", TESSERA_CFG_FIELD(task.out_channels),
                  "Channels of the network output (segmentation: 1 or classes).")
                  .in(closed(1, 256))
                  .reads("models/model.cpp, trainer/metrics.cpp"));
  s.push_back(key("task.scale", TESSERA_CFG_FIELD(task.scale),
                  "Up-scaling factor; read by super_resolution only (needs >= 2).")
                  .in(closed(1, 16))
                  .reads("trainer/task_io.cpp, datasets/loader.cpp (super_resolution)"));
  s.push_back(key("task.noise_std", TESSERA_CFG_FIELD(task.noise_std),
                  "Denoising: std (images in [0, 1]) of Gaussian noise drawn afresh every "
                  "training step on the clean targets (clipped, rounded to 8-bit levels), "
                  "replacing data.train's stored noisy inputs; validation and test keep their "
                  "stored inputs. 0 = train on the stored inputs.")
                  .in(closed(0, 1))
                  .reads("trainer/training_step.cpp (next_batch), trainer/task_io.cpp"));
  s.push_back(key("task.mask_fraction", TESSERA_CFG_FIELD(task.mask_fraction),
                  "Inpainting: fraction of the image hidden on the fly. Not implemented yet: the "
                  "holes are made with the data (`tessera synth/pack --mask-fraction F`).")
                  .in(open(0, 1))
                  .only_default("hiding parts of the image on the fly is not implemented yet; "
                                "the holes are made with the data (`tessera synth --task "
                                "inpaint --mask-fraction F`, `tessera pack --task inpainting "
                                "--mask-fraction F`): remove the key")
                  .reads("nothing yet (only the default is accepted)"));
  // model
  s.push_back(key("model.arch", TESSERA_CFG_FIELD(model.arch),
                  "unet = the article's GiveMeUnet; autoencoder = the article's myTransformer "
                  "(fixed layers, 256x256); autoencoder_generic = configurable autoencoder.")
                  .one_of({"unet", "autoencoder", "autoencoder_generic"})
                  .reads("models/model.cpp"));
  s.push_back(key("model.filters", TESSERA_CFG_FIELD(model.filters),
                  "Filters of the first level (doubled at each level down).")
                  .in(closed(1, 1024))
                  .reads("models/unet.cpp, models/autoencoder.cpp"));
  s.push_back(key("model.depth", TESSERA_CFG_FIELD(model.depth),
                  "Number of 2x down-samplings (unet: image sizes must be divisible by 2^depth).")
                  .in(closed(1, 8))
                  .reads("models/unet.cpp, models/autoencoder.cpp"));
  s.push_back(key("model.dropout", TESSERA_CFG_FIELD(model.dropout), "Dropout probability.")
                  .in(half_open(0, 1))
                  .reads("models/unet.cpp, models/autoencoder.cpp"));
  s.push_back(key("model.batch_norm", TESSERA_CFG_FIELD(model.batch_norm),
                  "BatchNorm after each convolution.")
                  .reads("models/unet.cpp, models/autoencoder.cpp"));
  s.push_back(key("model.activation", TESSERA_CFG_FIELD(model.activation),
                  "Output activation (binary segmentation: sigmoid; multi-class: softmax).")
                  .one_of({"sigmoid", "softmax", "none", "relu"})
                  .reads("models/model.cpp, trainer/losses.cpp, trainer/task_io.cpp"));
  s.push_back(key("model.residual", TESSERA_CFG_FIELD(model.residual),
                  "Output = input (bicubic up-scaled for super-resolution) + network output.")
                  .reads("models/model.cpp"));
  s.push_back(key("model.head_init", TESSERA_CFG_FIELD(model.head_init),
                  "Initial weights of the last convolution: keras (Glorot-uniform, as the "
                  "article) or zero (with model.residual, the untrained network is exactly its "
                  "baseline: the input, or its bicubic up-scaling).")
                  .one_of({"keras", "zero"})
                  .reads("models/model.cpp"));
  // loss
  s.push_back(key("loss.name", TESSERA_CFG_FIELD(loss.name),
                  "Training loss; must suit the task (see the task table).")
                  .one_of(all_losses())
                  .reads("trainer/losses.cpp"));
  s.push_back(key("loss.bce_weight", TESSERA_CFG_FIELD(loss.bce_weight),
                  "bce_dice / ce_dice: weight of the cross-entropy term.")
                  .in(ge(0))
                  .reads("trainer/losses.cpp"));
  s.push_back(key("loss.dice_weight", TESSERA_CFG_FIELD(loss.dice_weight),
                  "bce_dice / ce_dice: weight of the Dice term.")
                  .in(ge(0))
                  .reads("trainer/losses.cpp"));
  s.push_back(key("loss.class_weights", TESSERA_CFG_FIELD(loss.class_weights),
                  "ce / ce_dice: one weight per class ([] = uniform).")
                  .in(ge(0))
                  .reads("trainer/losses.cpp"));
  s.push_back(key("loss.class_weighting", TESSERA_CFG_FIELD(loss.class_weighting),
                  "ce / ce_dice / focal: class weights from the train split's pixel counts "
                  "(manifest stats): none, inverse_frequency (N / (K n_c)) or median_frequency "
                  "(median f / f_c); instead of loss.class_weights.")
                  .one_of({"none", "inverse_frequency", "median_frequency"})
                  .reads("trainer/class_weights.cpp"));
  s.push_back(key("loss.ignore_index", TESSERA_CFG_FIELD(loss.ignore_index),
                  "ce / ce_dice / multiclass_dice: label value to ignore (-1 = none).")
                  .in(closed(-1, 255))
                  .reads("trainer/losses.cpp, trainer/metrics_segmentation.cpp"));
  s.push_back(
      key("loss.focal_gamma", TESSERA_CFG_FIELD(loss.focal_gamma), "focal: focusing exponent.")
          .in(ge(0))
          .reads("trainer/losses.cpp"));
  s.push_back(key("loss.focal_alpha", TESSERA_CFG_FIELD(loss.focal_alpha),
                  "focal: weight of the positive class.")
                  .in(closed(0, 1))
                  .reads("trainer/losses.cpp"));
  s.push_back(key("loss.ssim_weight", TESSERA_CFG_FIELD(loss.ssim_weight),
                  "ssim_l1: w * (1 - SSIM) + (1 - w) * L1.")
                  .in(closed(0, 1))
                  .reads("trainer/losses.cpp"));
  s.push_back(key("loss.smooth", TESSERA_CFG_FIELD(loss.smooth), "Dice smoothing term.")
                  .in(ge(0))
                  .reads("trainer/losses.cpp"));
  s.push_back(key("loss.reduction", TESSERA_CFG_FIELD(loss.reduction),
                  "Batch-level loss statistics (Dice, weighted means) over: global_batch (all "
                  "ranks' batches: N ranks x B = one batch of N*B), per_image (then averaged; "
                  "also equals gradient accumulation) or per_rank (each rank's own batch).")
                  .one_of({"global_batch", "per_image", "per_rank"})
                  .reads("trainer/losses.cpp, trainer/losses_reduce.cpp"));
  // data
  s.push_back(key("data.train", TESSERA_CFG_FIELD(data.train),
                  "Training dataset directory (shards + manifest; relative paths from the working "
                  "directory); needed by `train`.")
                  .reads("trainer/trainer.cpp -> datasets/loader.cpp"));
  s.push_back(
      key("data.val", TESSERA_CFG_FIELD(data.val),
          "Validation dataset directory (\"\" = no validation).")
          .reads(
              "trainer/trainer.cpp -> datasets/loader.cpp; trainer/jobs.cpp (eval --split val)"));
  s.push_back(key("data.test", TESSERA_CFG_FIELD(data.test),
                  "Test dataset directory, used by `eval --split test`.")
                  .reads("trainer/jobs.cpp (eval --split test)"));
  s.push_back(key("data.batch_size", TESSERA_CFG_FIELD(data.batch_size),
                  "Samples per rank per micro-batch (global batch = ranks x batch x grad_accum).")
                  .in(closed(1, 65536))
                  .reads("datasets/sampler.cpp, datasets/loader.cpp"));
  s.push_back(key("data.image_size", TESSERA_CFG_FIELD(data.image_size),
                  "Training crop side in pixels, at the network's input/output resolution.")
                  .in(closed(8, 16384))
                  .reads("datasets/loader.cpp (crop)"));
  s.push_back(key("data.shuffle", TESSERA_CFG_FIELD(data.shuffle),
                  "global = exact permutation of all samples; shards = shard order shuffled, "
                  "samples mixed in a bounded buffer.")
                  .one_of({"global", "shards"})
                  .reads("datasets/sampler.cpp"));
  s.push_back(key("data.shuffle_buffer", TESSERA_CFG_FIELD(data.shuffle_buffer),
                  "shards mode: samples held in the shuffle buffer per rank.")
                  .in(closed(1, 1 << 24))
                  .reads("datasets/sampler.cpp"));
  s.push_back(key("data.loader_threads", TESSERA_CFG_FIELD(data.loader_threads),
                  "Background threads reading/augmenting per rank (0 = in the training thread).")
                  .in(closed(0, 256))
                  .reads("datasets/loader.cpp"));
  s.push_back(key("data.prefetch_batches", TESSERA_CFG_FIELD(data.prefetch_batches),
                  "Ready batches queued per rank (bounds loader memory).")
                  .in(closed(1, 1024))
                  .reads("datasets/loader.cpp"));
  s.push_back(key("data.normalize", TESSERA_CFG_FIELD(data.normalize),
                  "none = the network sees the stored values (uint8 / 255, float32 as stored); "
                  "dataset = (x - mean) / std per input channel, with the train split's "
                  "statistics from its manifest, saved with the weights.")
                  .one_of({"none", "dataset"})
                  .reads("trainer/input_normalization.cpp -> models/model.cpp"));
  s.push_back(
      key("data.augment.hflip", TESSERA_CFG_FIELD(data.augment.hflip), "Random horizontal flips.")
          .reads("datasets/augment.cpp"));
  s.push_back(
      key("data.augment.vflip", TESSERA_CFG_FIELD(data.augment.vflip), "Random vertical flips.")
          .reads("datasets/augment.cpp"));
  s.push_back(key("data.augment.rot90", TESSERA_CFG_FIELD(data.augment.rot90),
                  "Random 90-degree rotations.")
                  .reads("datasets/augment.cpp"));
  s.push_back(key("data.augment.crop", TESSERA_CFG_FIELD(data.augment.crop),
                  "Random crops of image_size (false = centre crop).")
                  .reads("datasets/augment.cpp"));
  s.push_back(key("data.augment.scale_jitter", TESSERA_CFG_FIELD(data.augment.scale_jitter),
                  "Random rescaling by a factor in [1 - j, 1 + j] before cropping.")
                  .in(half_open(0, 1))
                  .reads("datasets/augment.cpp"));
  s.push_back(key("data.augment.color_jitter", TESSERA_CFG_FIELD(data.augment.color_jitter),
                  "Brightness/contrast/hue jitter strength (inputs only).")
                  .in(closed(0, 1))
                  .reads("datasets/augment.cpp"));
  add_run_keys(s);  // optim ... logging: config_schema_run.cpp
  return s;
}

}  // namespace

const std::vector<KeySpec>& config_schema() {
  static const std::vector<KeySpec> schema = build_schema();
  return schema;
}

const std::vector<std::string>& segmentation_metrics() {
  static const std::vector<std::string> m = {"dice",     "iou",  "precision", "recall",
                                             "accuracy", "miou", "mdice",     "image_dice"};
  return m;
}

const std::vector<std::string>& image_metrics() {
  static const std::vector<std::string> m = {"psnr", "ssim", "psnr_y", "ssim_y",
                                             "mae",  "mse",  "auc"};
  return m;
}

const std::vector<std::string>& binary_losses() {
  static const std::vector<std::string> l = {"bce", "dice", "bce_dice", "focal"};
  return l;
}

const std::vector<std::string>& multiclass_losses() {
  static const std::vector<std::string> l = {"ce", "multiclass_dice", "ce_dice", "focal"};
  return l;
}

const std::vector<std::string>& image_losses() {
  static const std::vector<std::string> l = {"mse", "l1", "ssim", "ssim_l1"};
  return l;
}

}  // namespace tessera
