// The schema table: every config key, its field, range, accepted values and meaning.
// Defaults are not repeated here: they are the initial values of the structs in config.h.
#include "common/config_schema.h"

#include <algorithm>

namespace tessera {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

Range gt(double lo) { return Range{lo, kInf, true, false}; }
Range ge(double lo) { return Range{lo, kInf, false, false}; }
Range closed(double lo, double hi) { return Range{lo, hi, false, false}; }
Range half_open(double lo, double hi) { return Range{lo, hi, false, true}; }
Range open(double lo, double hi) { return Range{lo, hi, true, true}; }

KeySpec key(std::string path, ConfigField field, std::string doc) {
  KeySpec k;
  k.path = std::move(path);
  k.field = field;
  k.doc = std::move(doc);
  return k;
}

std::vector<std::string> all_metrics() {
  std::vector<std::string> m = segmentation_metrics();
  m.insert(m.end(), image_metrics().begin(), image_metrics().end());
  return m;
}

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
  s.push_back(key("experiment.name", TESSERA_CFG_FIELD(experiment.name),
                  "Run name; the run directory is output_dir/name. Letters, digits, `.`, `_`, "
                  "`-`.")
                  .must_be_set());
  s.push_back(key("experiment.seed", TESSERA_CFG_FIELD(experiment.seed),
                  "Seed of every random stream (init, dropout, shuffling, augmentation)."));
  s.push_back(key("experiment.output_dir", TESSERA_CFG_FIELD(experiment.output_dir),
                  "Parent of the run directory (relative to the working directory)."));
  // task
  s.push_back(key("task.kind", TESSERA_CFG_FIELD(task.kind), "What the network learns.")
                  .must_be_set()
                  .one_of({"segmentation", "translation", "super_resolution", "denoising",
                           "inpainting", "anomaly"}));
  s.push_back(key("task.classes", TESSERA_CFG_FIELD(task.classes),
                  "Segmentation classes: 1 = binary (sigmoid), >1 = multi-class (softmax). "
                  "Must be 1 for other tasks.")
                  .in(closed(1, 256)));
  s.push_back(key("task.in_channels", TESSERA_CFG_FIELD(task.in_channels),
                  "Channels of the network input.")
                  .in(closed(1, 64)));
  s.push_back(key("task.out_channels", TESSERA_CFG_FIELD(task.out_channels),
                  "Channels of the network output (segmentation: 1 or classes).")
                  .in(closed(1, 256)));
  s.push_back(key("task.scale", TESSERA_CFG_FIELD(task.scale),
                  "Up-scaling factor; read by super_resolution only (needs >= 2).")
                  .in(closed(1, 16)));
  s.push_back(key("task.noise_std", TESSERA_CFG_FIELD(task.noise_std),
                  "Denoising: std of Gaussian noise added on the fly to clean inputs "
                  "(0 = the data holds noisy inputs).")
                  .in(closed(0, 10)));
  s.push_back(key("task.mask_fraction", TESSERA_CFG_FIELD(task.mask_fraction),
                  "Inpainting: fraction of the image hidden.")
                  .in(open(0, 1)));
  // model
  s.push_back(key("model.arch", TESSERA_CFG_FIELD(model.arch),
                  "unet = the article's GiveMeUnet; autoencoder = the article's myTransformer "
                  "(fixed layers, 256x256); autoencoder_generic = configurable autoencoder.")
                  .one_of({"unet", "autoencoder", "autoencoder_generic"}));
  s.push_back(key("model.filters", TESSERA_CFG_FIELD(model.filters),
                  "Filters of the first level (doubled at each level down).")
                  .in(closed(1, 1024)));
  s.push_back(key("model.depth", TESSERA_CFG_FIELD(model.depth),
                  "Number of 2x down-samplings (unet: image sizes must be divisible by 2^depth).")
                  .in(closed(1, 8)));
  s.push_back(key("model.dropout", TESSERA_CFG_FIELD(model.dropout), "Dropout probability.")
                  .in(half_open(0, 1)));
  s.push_back(key("model.batch_norm", TESSERA_CFG_FIELD(model.batch_norm),
                  "BatchNorm after each convolution."));
  s.push_back(key("model.activation", TESSERA_CFG_FIELD(model.activation),
                  "Output activation (binary segmentation: sigmoid; multi-class: softmax).")
                  .one_of({"sigmoid", "softmax", "none", "relu"}));
  s.push_back(key("model.residual", TESSERA_CFG_FIELD(model.residual),
                  "Output = input (bicubic up-scaled for super-resolution) + network output."));
  // loss
  s.push_back(key("loss.name", TESSERA_CFG_FIELD(loss.name),
                  "Training loss; must suit the task (see the task table).")
                  .one_of(all_losses()));
  s.push_back(key("loss.bce_weight", TESSERA_CFG_FIELD(loss.bce_weight),
                  "bce_dice / ce_dice: weight of the cross-entropy term.")
                  .in(ge(0)));
  s.push_back(key("loss.dice_weight", TESSERA_CFG_FIELD(loss.dice_weight),
                  "bce_dice / ce_dice: weight of the Dice term.")
                  .in(ge(0)));
  s.push_back(key("loss.class_weights", TESSERA_CFG_FIELD(loss.class_weights),
                  "ce / ce_dice: one weight per class ([] = uniform).")
                  .in(ge(0)));
  s.push_back(key("loss.ignore_index", TESSERA_CFG_FIELD(loss.ignore_index),
                  "ce / ce_dice / multiclass_dice: label value to ignore (-1 = none).")
                  .in(closed(-1, 255)));
  s.push_back(key("loss.focal_gamma", TESSERA_CFG_FIELD(loss.focal_gamma),
                  "focal: focusing exponent.")
                  .in(ge(0)));
  s.push_back(key("loss.focal_alpha", TESSERA_CFG_FIELD(loss.focal_alpha),
                  "focal: weight of the positive class.")
                  .in(closed(0, 1)));
  s.push_back(key("loss.ssim_weight", TESSERA_CFG_FIELD(loss.ssim_weight),
                  "ssim_l1: w * (1 - SSIM) + (1 - w) * L1.")
                  .in(closed(0, 1)));
  s.push_back(key("loss.smooth", TESSERA_CFG_FIELD(loss.smooth), "Dice smoothing term.")
                  .in(ge(0)));
  // data
  s.push_back(key("data.train", TESSERA_CFG_FIELD(data.train),
                  "Training dataset directory (shards + manifest); needed by `train`."));
  s.push_back(key("data.val", TESSERA_CFG_FIELD(data.val),
                  "Validation dataset directory (\"\" = no validation)."));
  s.push_back(key("data.test", TESSERA_CFG_FIELD(data.test),
                  "Test dataset directory, used by `eval --split test`."));
  s.push_back(key("data.batch_size", TESSERA_CFG_FIELD(data.batch_size),
                  "Samples per rank per micro-batch (global batch = ranks x batch x grad_accum).")
                  .in(closed(1, 65536)));
  s.push_back(key("data.image_size", TESSERA_CFG_FIELD(data.image_size),
                  "Training crop side in pixels, at the network's input/output resolution.")
                  .in(closed(8, 16384)));
  s.push_back(key("data.shuffle", TESSERA_CFG_FIELD(data.shuffle),
                  "global = exact permutation of all samples; shards = shard order shuffled, "
                  "samples mixed in a bounded buffer.")
                  .one_of({"global", "shards"}));
  s.push_back(key("data.shuffle_buffer", TESSERA_CFG_FIELD(data.shuffle_buffer),
                  "shards mode: samples held in the shuffle buffer per rank.")
                  .in(closed(1, 1 << 24)));
  s.push_back(key("data.loader_threads", TESSERA_CFG_FIELD(data.loader_threads),
                  "Background threads reading/augmenting per rank (0 = in the training thread).")
                  .in(closed(0, 256)));
  s.push_back(key("data.prefetch_batches", TESSERA_CFG_FIELD(data.prefetch_batches),
                  "Ready batches queued per rank (bounds loader memory).")
                  .in(closed(1, 1024)));
  s.push_back(key("data.augment.hflip", TESSERA_CFG_FIELD(data.augment.hflip),
                  "Random horizontal flips."));
  s.push_back(key("data.augment.vflip", TESSERA_CFG_FIELD(data.augment.vflip),
                  "Random vertical flips."));
  s.push_back(key("data.augment.rot90", TESSERA_CFG_FIELD(data.augment.rot90),
                  "Random 90-degree rotations."));
  s.push_back(key("data.augment.crop", TESSERA_CFG_FIELD(data.augment.crop),
                  "Random crops of image_size (false = centre crop)."));
  s.push_back(key("data.augment.scale_jitter", TESSERA_CFG_FIELD(data.augment.scale_jitter),
                  "Random rescaling by a factor in [1 - j, 1 + j] before cropping.")
                  .in(half_open(0, 1)));
  s.push_back(key("data.augment.color_jitter", TESSERA_CFG_FIELD(data.augment.color_jitter),
                  "Brightness/contrast/hue jitter strength (inputs only).")
                  .in(closed(0, 1)));
  // optim
  s.push_back(key("optim.name", TESSERA_CFG_FIELD(optim.name), "Optimizer.")
                  .one_of({"adam", "adamw", "sgd"}));
  s.push_back(key("optim.lr", TESSERA_CFG_FIELD(optim.lr), "Peak learning rate.")
                  .in(gt(0)));
  s.push_back(key("optim.weight_decay", TESSERA_CFG_FIELD(optim.weight_decay),
                  "Weight decay (adamw: decoupled).")
                  .in(ge(0)));
  s.push_back(key("optim.momentum", TESSERA_CFG_FIELD(optim.momentum), "sgd: momentum.")
                  .in(half_open(0, 1)));
  s.push_back(key("optim.nesterov", TESSERA_CFG_FIELD(optim.nesterov),
                  "sgd: Nesterov momentum (needs momentum > 0)."));
  s.push_back(key("optim.betas", TESSERA_CFG_FIELD(optim.betas),
                  "adam / adamw: the two moment decay rates.")
                  .in(half_open(0, 1))
                  .size(2));
  s.push_back(key("optim.eps", TESSERA_CFG_FIELD(optim.eps), "adam / adamw: epsilon.")
                  .in(open(0, 1)));
  s.push_back(key("optim.grad_clip", TESSERA_CFG_FIELD(optim.grad_clip),
                  "Clip the global gradient L2 norm to this (0 = off).")
                  .in(ge(0)));
  // schedule
  s.push_back(key("schedule.name", TESSERA_CFG_FIELD(schedule.name),
                  "Learning-rate schedule after warmup.")
                  .one_of({"constant", "step", "cosine", "poly"}));
  s.push_back(key("schedule.warmup_steps", TESSERA_CFG_FIELD(schedule.warmup_steps),
                  "Linear warmup from 0 to optim.lr over this many steps.")
                  .in(ge(0)));
  s.push_back(key("schedule.min_lr", TESSERA_CFG_FIELD(schedule.min_lr),
                  "cosine / poly: final learning rate (<= optim.lr).")
                  .in(ge(0)));
  s.push_back(key("schedule.milestones", TESSERA_CFG_FIELD(schedule.milestones),
                  "step: steps at which lr is multiplied by gamma (increasing).")
                  .in(ge(1)));
  s.push_back(key("schedule.gamma", TESSERA_CFG_FIELD(schedule.gamma),
                  "step: multiplicative factor.")
                  .in(Range{0, 1, true, false}));
  s.push_back(key("schedule.power", TESSERA_CFG_FIELD(schedule.power), "poly: exponent.")
                  .in(gt(0)));
  // train
  s.push_back(key("train.max_steps", TESSERA_CFG_FIELD(train.max_steps),
                  "Optimizer steps to run (0 = bounded by max_epochs only).")
                  .in(ge(0)));
  s.push_back(key("train.max_epochs", TESSERA_CFG_FIELD(train.max_epochs),
                  "Epochs to run (0 = bounded by max_steps only).")
                  .in(ge(0)));
  s.push_back(key("train.grad_accum", TESSERA_CFG_FIELD(train.grad_accum),
                  "Micro-batches per optimizer step.")
                  .in(closed(1, 4096)));
  s.push_back(key("train.log_every", TESSERA_CFG_FIELD(train.log_every),
                  "Steps between metrics.jsonl / progress lines.")
                  .in(ge(1)));
  s.push_back(key("train.eval_every", TESSERA_CFG_FIELD(train.eval_every),
                  "Steps between validations (0 = only at the end).")
                  .in(ge(0)));
  s.push_back(key("train.checkpoint_every", TESSERA_CFG_FIELD(train.checkpoint_every),
                  "Steps between checkpoints (0 = only at the end and on stop requests).")
                  .in(ge(0)));
  s.push_back(key("train.early_stop_patience", TESSERA_CFG_FIELD(train.early_stop_patience),
                  "Validations without improvement before stopping (0 = off).")
                  .in(ge(0)));
  s.push_back(key("train.precision", TESSERA_CFG_FIELD(train.precision),
                  "Compute precision (fp16 needs device cuda).")
                  .one_of({"fp32", "bf16", "fp16"}));
  s.push_back(key("train.device", TESSERA_CFG_FIELD(train.device),
                  "cuda: one GPU per rank, chosen from the local rank.")
                  .one_of({"cpu", "cuda"}));
  s.push_back(key("train.threads_per_rank", TESSERA_CFG_FIELD(train.threads_per_rank),
                  "Intra-op threads per rank (OMP_NUM_THREADS).")
                  .in(closed(1, 1024)));
  s.push_back(key("train.channels_last", TESSERA_CFG_FIELD(train.channels_last),
                  "Use the channels-last memory format."));
  // checkpoint
  s.push_back(key("checkpoint.keep_last", TESSERA_CFG_FIELD(checkpoint.keep_last),
                  "Newest checkpoints kept.")
                  .in(closed(1, 100000)));
  s.push_back(key("checkpoint.keep_best", TESSERA_CFG_FIELD(checkpoint.keep_best),
                  "Best checkpoints (by metric) kept in addition (0 = none).")
                  .in(closed(0, 100000)));
  s.push_back(key("checkpoint.metric", TESSERA_CFG_FIELD(checkpoint.metric),
                  "Metric selecting the best checkpoint: val/loss or val/<one of eval.metrics>."));
  s.push_back(key("checkpoint.mode", TESSERA_CFG_FIELD(checkpoint.mode),
                  "max: higher is better; min: lower is better (must suit the metric).")
                  .one_of({"max", "min"}));
  s.push_back(key("checkpoint.ema", TESSERA_CFG_FIELD(checkpoint.ema),
                  "Exponential smoothing of the metric before comparing (0 = raw).")
                  .in(half_open(0, 1)));
  // eval
  s.push_back(key("eval.metrics", TESSERA_CFG_FIELD(eval.metrics),
                  "Metrics computed at validation and eval; must suit the task.")
                  .one_of(all_metrics()));
  s.push_back(key("eval.threshold", TESSERA_CFG_FIELD(eval.threshold),
                  "Binary segmentation: probability threshold.")
                  .in(open(0, 1)));
  s.push_back(key("eval.save_predictions", TESSERA_CFG_FIELD(eval.save_predictions),
                  "Prediction images written per evaluation.")
                  .in(ge(0)));
  s.push_back(key("eval.tile", TESSERA_CFG_FIELD(eval.tile),
                  "Sliding-window tile side for large images (0 = whole image).")
                  .in(closed(0, 16384)));
  s.push_back(key("eval.tile_overlap", TESSERA_CFG_FIELD(eval.tile_overlap),
                  "Fraction of a tile overlapping its neighbour.")
                  .in(half_open(0, 1)));
  s.push_back(key("eval.border_crop", TESSERA_CFG_FIELD(eval.border_crop),
                  "PSNR/SSIM: pixels cropped at each border (BasicSR's crop_border).")
                  .in(ge(0)));
  // dist
  s.push_back(key("dist.backend", TESSERA_CFG_FIELD(dist.backend),
                  "auto = nccl for CUDA tensors when built with NCCL, else mpi.")
                  .one_of({"auto", "mpi", "nccl"}));
  s.push_back(key("dist.bucket_mb", TESSERA_CFG_FIELD(dist.bucket_mb),
                  "Gradient bucket size in MiB.")
                  .in(Range{0, 4096, true, false}));
  s.push_back(key("dist.overlap", TESSERA_CFG_FIELD(dist.overlap),
                  "Start each bucket's allreduce during backward."));
  s.push_back(key("dist.sync_batchnorm", TESSERA_CFG_FIELD(dist.sync_batchnorm),
                  "Batch-norm statistics over all ranks (needs model.batch_norm)."));
  s.push_back(key("dist.timeout_s", TESSERA_CFG_FIELD(dist.timeout_s),
                  "Watchdog: seconds a collective may take before the job is aborted.")
                  .in(gt(0)));
  s.push_back(key("dist.nonfinite", TESSERA_CFG_FIELD(dist.nonfinite),
                  "Non-finite loss or gradient on any rank: skip the step everywhere, or abort.")
                  .one_of({"skip", "abort"}));
  // cluster
  s.push_back(key("cluster.launcher", TESSERA_CFG_FIELD(cluster.launcher),
                  "How `submit` starts the ranks inside the allocation.")
                  .one_of({"mpirun", "srun"}));
  s.push_back(key("cluster.nodes", TESSERA_CFG_FIELD(cluster.nodes), "Nodes.")
                  .in(closed(1, 100000)));
  s.push_back(key("cluster.ranks_per_node", TESSERA_CFG_FIELD(cluster.ranks_per_node),
                  "MPI ranks per node.")
                  .in(closed(1, 4096)));
  s.push_back(key("cluster.gpus_per_node", TESSERA_CFG_FIELD(cluster.gpus_per_node),
                  "GPUs requested per node.")
                  .in(closed(0, 64)));
  s.push_back(key("cluster.cpus_per_task", TESSERA_CFG_FIELD(cluster.cpus_per_task),
                  "CPUs per rank (0 = train.threads_per_rank).")
                  .in(closed(0, 4096)));
  s.push_back(key("cluster.partition", TESSERA_CFG_FIELD(cluster.partition),
                  "Slurm partition (\"\" = the cluster's default)."));
  s.push_back(key("cluster.account", TESSERA_CFG_FIELD(cluster.account),
                  "Slurm account (\"\" = none)."));
  s.push_back(key("cluster.time", TESSERA_CFG_FIELD(cluster.time),
                  "Slurm time limit: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS."));
  s.push_back(key("cluster.hostfile", TESSERA_CFG_FIELD(cluster.hostfile),
                  "mpirun hostfile (\"\" = none; exclusive with hosts)."));
  s.push_back(key("cluster.hosts", TESSERA_CFG_FIELD(cluster.hosts),
                  "Host names for mpirun (exclusive with hostfile)."));
  s.push_back(key("cluster.bind", TESSERA_CFG_FIELD(cluster.bind), "Rank binding.")
                  .one_of({"none", "core", "socket"}));
  s.push_back(key("cluster.tcp_interface", TESSERA_CFG_FIELD(cluster.tcp_interface),
                  "Network for MPI's TCP traffic: a CIDR or an interface name (\"\" = any)."));
  s.push_back(key("cluster.env", TESSERA_CFG_FIELD(cluster.env),
                  "Environment passed to every rank: NAME=value, or NAME to forward it."));
  s.push_back(key("cluster.preempt_grace_s", TESSERA_CFG_FIELD(cluster.preempt_grace_s),
                  "Seconds between Slurm's preemption signal and the kill.")
                  .in(closed(0, 86400)));
  // logging
  s.push_back(key("logging.level", TESSERA_CFG_FIELD(logging.level),
                  "Log level (TESSERA_LOG_LEVEL wins).")
                  .one_of({"trace", "debug", "info", "warn", "error", "off"}));
  s.push_back(key("logging.progress", TESSERA_CFG_FIELD(logging.progress),
                  "Progress display (auto = bar on a terminal, lines otherwise).")
                  .one_of({"auto", "bar", "lines", "off"}));
  s.push_back(key("logging.all_ranks", TESSERA_CFG_FIELD(logging.all_ranks),
                  "Every rank logs (TESSERA_LOG_ALL_RANKS=1 wins)."));
  return s;
}

}  // namespace

const std::vector<KeySpec>& config_schema() {
  static const std::vector<KeySpec> schema = build_schema();
  return schema;
}

const std::vector<std::string>& segmentation_metrics() {
  static const std::vector<std::string> m = {"dice",  "iou",  "precision", "recall",
                                             "accuracy", "miou", "mdice", "image_dice"};
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
