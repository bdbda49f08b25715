// Experiment configuration: one YAML file -> typed, validated structs.
//
// load_config() reads a YAML file, follows its `base:` chain (paths relative to the including
// file, deep-merged, cycles refused), applies `--set key.path=value` overrides, checks every key
// against the schema (unknown keys are errors with a "did you mean" hint), converts each value to
// its type, range-checks it, and fills defaults. Any problem throws tessera::ConfigError naming
// the file, key path, line:column, what was expected and what was found. The result is a plain
// value type: cheap to copy, no references to YAML.
//
// The schema, every key's default and meaning: docs/config.md. Keep both in sync.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"

namespace tessera {

struct ExperimentConfig {
  std::string name = "experiment";
  uint64_t seed = 42;
  std::string output_dir = "runs";  // run dir = output_dir/name (relative to the CWD)
};

enum class TaskKind { segmentation, translation, super_resolution, denoising, inpainting, anomaly };

struct TaskConfig {
  TaskKind kind = TaskKind::segmentation;
  int classes = 1;  // 1 = binary (sigmoid); >1 = multi-class (softmax). Segmentation only.
  int in_channels = 3;
  int out_channels = 1;
  int scale = 2;  // super_resolution only
  float noise_std = 0.1f;     // denoising: Gaussian noise added on the fly when targets are clean
  float mask_fraction = 0.25f;  // inpainting: fraction of the image hidden
};

struct ModelConfig {
  std::string arch = "unet";  // unet | autoencoder (the article's myTransformer) | autoencoder_generic
  int filters = 16;
  int depth = 4;
  float dropout = 0.1f;
  bool batch_norm = true;
  std::string activation = "sigmoid";  // sigmoid | softmax | none | relu
  bool residual = false;  // output = input (+ bicubic up-scaling) + model; super-resolution
};

struct LossConfig {
  std::string name = "bce_dice";  // bce | dice | bce_dice | ce | multiclass_dice | ce_dice |
                                  // focal | mse | l1 | ssim | ssim_l1
  float bce_weight = 1.0f;
  float dice_weight = 1.0f;
  std::vector<float> class_weights;  // ce: per-class weights (empty = uniform)
  int ignore_index = -1;             // ce: label to ignore (-1 = none)
  float focal_gamma = 2.0f;
  float focal_alpha = 0.25f;
  float ssim_weight = 0.84f;  // ssim_l1: w * (1-SSIM) + (1-w) * L1
  float smooth = 1.0f;        // dice smoothing
};

struct AugmentConfig {
  bool hflip = true;
  bool vflip = true;
  bool rot90 = true;
  bool crop = true;
  float scale_jitter = 0.0f;
  float color_jitter = 0.1f;
};

struct DataConfig {
  std::string train;  // shard directories (relative paths are relative to the CWD)
  std::string val;
  std::string test;
  int batch_size = 8;  // per rank
  int image_size = 128;
  std::string shuffle = "global";  // global | shards
  int shuffle_buffer = 1024;
  int loader_threads = 2;
  int prefetch_batches = 4;
  AugmentConfig augment;
};

struct OptimConfig {
  std::string name = "adam";  // adam | adamw | sgd
  double lr = 1.0e-3;
  double weight_decay = 0.0;
  double momentum = 0.9;
  bool nesterov = false;
  std::vector<double> betas = {0.9, 0.999};
  double eps = 1.0e-8;
  double grad_clip = 0.0;  // max global L2 norm; 0 = off
};

struct ScheduleConfig {
  std::string name = "cosine";  // constant | step | cosine | poly
  int64_t warmup_steps = 100;
  double min_lr = 1.0e-5;
  std::vector<int64_t> milestones;
  double gamma = 0.1;
  double power = 0.9;
};

struct TrainConfig {
  int64_t max_steps = 2000;
  int64_t max_epochs = 0;  // 0 = bounded by max_steps only
  int grad_accum = 1;
  int64_t log_every = 10;
  int64_t eval_every = 200;
  int64_t checkpoint_every = 200;
  int early_stop_patience = 0;  // evaluations without improvement; 0 = off
  std::string precision = "fp32";  // fp32 | bf16 | fp16 (GPU)
  std::string device = "cpu";      // cpu | cuda
  int threads_per_rank = 1;
  bool channels_last = false;
};

struct CheckpointConfig {
  int keep_last = 3;
  int keep_best = 1;
  std::string metric = "val/dice";
  std::string mode = "max";  // max | min
  double ema = 0.0;          // smoothing of the metric used for "best" (0 = raw)
};

struct EvalConfig {
  std::vector<std::string> metrics = {"dice", "iou", "precision", "recall"};
  double threshold = 0.5;
  int save_predictions = 8;
  int tile = 0;  // sliding-window tile size for large images (0 = whole image)
  double tile_overlap = 0.25;
  int border_crop = 0;  // PSNR/SSIM border crop (BasicSR's crop_border)
};

struct DistConfig {
  std::string backend = "auto";  // auto | mpi | nccl
  double bucket_mb = 25.0;
  bool overlap = true;
  bool sync_batchnorm = false;
  double timeout_s = 300.0;
  std::string nonfinite = "skip";  // skip | abort
};

struct ClusterConfig {
  std::string launcher = "mpirun";  // mpirun | srun
  int nodes = 1;
  int ranks_per_node = 2;
  int gpus_per_node = 0;
  int cpus_per_task = 0;  // 0 = train.threads_per_rank
  std::string partition;
  std::string account;
  std::string time = "01:00:00";
  std::string hostfile;
  std::vector<std::string> hosts;
  std::string bind = "none";     // none | core | socket
  std::string tcp_interface;     // e.g. 10.200.0.0/24 or eth0; empty = OpenMPI's choice
  std::vector<std::string> env;  // environment variables passed to every rank
  int preempt_grace_s = 120;
};

struct LoggingConfig {
  std::string level = "info";
  std::string progress = "auto";  // auto | bar | lines | off
  bool all_ranks = false;
};

struct Config {
  ExperimentConfig experiment;
  TaskConfig task;
  ModelConfig model;
  LossConfig loss;
  DataConfig data;
  OptimConfig optim;
  ScheduleConfig schedule;
  TrainConfig train;
  CheckpointConfig checkpoint;
  EvalConfig eval;
  DistConfig dist;
  ClusterConfig cluster;
  LoggingConfig logging;

  std::string source_path;  // the top-level YAML file this came from ("" if built in code)

  // <output_dir>/<name>
  std::string run_dir() const;
};

// A config problem: file, key path, position, what was expected.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// Loads, merges (base chain), overrides (`key.path=value` strings) and validates.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// Same, from YAML text (for tests); `name` stands in for the file name in messages and base
// paths are resolved relative to `base_dir`.
Config load_config_from_string(const std::string& yaml, const std::string& name = "<string>",
                               const std::vector<std::string>& overrides = {},
                               const std::string& base_dir = ".");

// The resolved config as YAML (every key, defaults filled). load_config_from_string() of this
// text gives back an equal Config.
std::string to_yaml(const Config& config);

// Flattened "key.path" -> value text, for diffs (resume checks) and fingerprints.
std::map<std::string, std::string> flatten(const Config& config);

std::string to_string(TaskKind kind);
TaskKind task_kind_from_string(const std::string& s);  // throws on unknown

}  // namespace tessera
