// Stage 4 of loading: required keys and relations between keys. Each message names the key at
// fault with its origin and the related keys with theirs.
#include <algorithm>
#include <regex>

#include "common/config_internal.h"

namespace tessera {
namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

class Validator {
 public:
  Validator(const RawConfig& raw, const Config& c) : raw_(raw), c_(c) {}

  void required() const {
    for (const auto& spec_ref : config_schema()) {
      const KeySpec* spec = &spec_ref;
      const std::string& key = spec->path;
      if (!spec->required || raw_.leaves.count(key)) continue;
      std::string where = raw_.top_file;
      if (raw_.files.size() > 1) {
        where += " nor in its bases " +
                 join(std::vector<std::string>(raw_.files.begin() + 1, raw_.files.end()));
      }
      TESSERA_CONFIG_FAIL(top(),
                          "missing required key `{}`: expected {}, not set in {}. "
                          "({}) A file meant as a base is checked on its own with "
                          "`tessera config check --partial`.",
                          key, expected_text(*spec), where, spec->doc);
    }
  }

  // Keys whose feature does not exist yet accept their default only (KeySpec::only_default).
  void unimplemented() const {
    const Config defaults;
    for (const auto& spec : config_schema()) {
      if (spec.not_implemented.empty()) continue;
      const std::string value = format_value(spec, c_, false);
      const std::string accepted = format_value(spec, defaults, false);
      if (value != accepted) {
        fail(spec.path, "`{}` is refused: {} (accepted: {})", value, spec.not_implemented,
             accepted);
      }
    }
  }

  void relations() const {
    experiment();
    task();
    model_and_training();
    checkpoint_metric();
    cluster();
  }

 private:
  Origin top() const {
    Origin o;
    o.file = raw_.top_file;
    return o;
  }

  Origin at(const std::string& key) const {
    const auto it = raw_.leaves.find(key);
    return it != raw_.leaves.end() ? it->second.origin : top();
  }

  // "task.classes is 3 (set at file:4:12)" / "(default)"
  std::string is(const std::string& key) const {
    const KeySpec* spec = find_config_key(key);
    const auto it = raw_.leaves.find(key);
    const std::string where =
        it == raw_.leaves.end() ? "default" : "set at " + it->second.origin.where();
    return fmt::format("{} is {} ({})", key, format_value(*spec, c_, false), where);
  }

  template <typename... Args>
  [[noreturn]] void fail(const std::string& key, const char* format, Args&&... args) const {
    const auto it = raw_.leaves.find(key);
    const std::string note =
        it == raw_.leaves.end()
            ? fmt::format(" (not set: default {})", format_value(*find_config_key(key), c_, true))
            : "";
    TESSERA_CONFIG_FAIL(at(key), "{}{}: {}", key, note,
                        fmt::format(fmt::runtime(format), std::forward<Args>(args)...));
  }

  void experiment() const {
    static const std::regex name_re("[A-Za-z0-9._-]+");
    const std::string& n = c_.experiment.name;
    if (!std::regex_match(n, name_re) || n == "." || n == "..") {
      fail("experiment.name",
           "expected a name made of letters, digits, `.`, `_` and `-` (it "
           "names the run directory), found \"{}\"",
           n);
    }
    if (c_.experiment.output_dir.empty()) {
      fail("experiment.output_dir", "expected a directory, found an empty string");
    }
  }

  void task() const {
    const TaskConfig& t = c_.task;
    const std::string kind = to_string(t.kind);
    if (t.noise_std > 0 && t.kind != TaskKind::denoising) {
      fail("task.noise_std",
           "noise drawn on the fly is for task.kind denoising (its targets are the clean "
           "images); {}",
           is("task.kind"));
    }
    if (t.kind == TaskKind::segmentation) {
      const bool binary = t.classes == 1;
      if (binary && t.out_channels != 1) {
        fail("task.out_channels", "binary segmentation needs out_channels 1, found {}; {}",
             t.out_channels, is("task.classes"));
      }
      if (!binary && t.out_channels != t.classes) {
        fail("task.out_channels",
             "multi-class segmentation needs out_channels == classes, "
             "found {}; {}",
             t.out_channels, is("task.classes"));
      }
      const std::string act = binary ? "sigmoid" : "softmax";
      if (c_.model.activation != act) {
        fail("model.activation", "{} segmentation needs activation {}, found {}; {}",
             binary ? "binary" : "multi-class", act, c_.model.activation, is("task.classes"));
      }
      const auto& losses = binary ? binary_losses() : multiclass_losses();
      if (!contains(losses, c_.loss.name)) {
        fail("loss.name", "{} segmentation accepts {}, found {}; {}",
             binary ? "binary" : "multi-class", join(losses), c_.loss.name, is("task.classes"));
      }
      for (const auto& m : c_.eval.metrics) {
        if (!contains(segmentation_metrics(), m)) {
          fail("eval.metrics", "`{}` is not a segmentation metric; accepted: {}; {}", m,
               join(segmentation_metrics()), is("task.kind"));
        }
      }
      const auto& w = c_.loss.class_weights;
      if (c_.loss.class_weighting != "none" && (!w.empty() || binary)) {
        fail("loss.class_weighting",
             "{} computes the weights of multi-class segmentation; {}", c_.loss.class_weighting,
             binary ? is("task.classes") : std::string("loss.class_weights is set too: keep one"));
      }
      if (!w.empty() && (static_cast<int>(w.size()) != t.classes || binary)) {
        fail("loss.class_weights",
             "expected one weight per class ({} for multi-class "
             "segmentation; none for binary), found {}; {}",
             t.classes, w.size(), is("task.classes"));
      }
      return;
    }
    if (t.classes != 1) {
      fail("task.classes", "applies to segmentation only and must stay 1; {}", is("task.kind"));
    }
    if (!c_.loss.class_weights.empty()) {
      fail("loss.class_weights", "applies to segmentation only; {}", is("task.kind"));
    }
    if (c_.loss.class_weighting != "none") {
      fail("loss.class_weighting", "applies to segmentation only; {}", is("task.kind"));
    }
    if (!contains(image_losses(), c_.loss.name)) {
      fail("loss.name", "task {} accepts {}, found {}; {}", kind, join(image_losses()),
           c_.loss.name, is("task.kind"));
    }
    if (c_.model.activation == "softmax") {
      fail("model.activation",
           "softmax is for multi-class segmentation; task {} accepts "
           "sigmoid, none or relu; {}",
           kind, is("task.kind"));
    }
    for (const auto& m : c_.eval.metrics) {
      const bool ok = contains(image_metrics(), m) && (m != "auc" || t.kind == TaskKind::anomaly);
      if (!ok) {
        fail("eval.metrics", "`{}` is not a metric of task {}; accepted: {}{}; {}", m, kind,
             join(image_metrics()), t.kind == TaskKind::anomaly ? "" : " (auc: anomaly only)",
             is("task.kind"));
      }
    }
    if (t.kind == TaskKind::super_resolution) {
      if (t.scale < 2) fail("task.scale", "super_resolution needs scale >= 2, found {}", t.scale);
      if (c_.data.image_size % t.scale != 0) {
        fail("data.image_size",
             "must be divisible by task.scale ({}) for super_resolution, "
             "found {}",
             t.scale, c_.data.image_size);
      }
    }
    if (t.kind != TaskKind::translation && t.out_channels != t.in_channels) {
      fail("task.out_channels",
           "task {} reconstructs the input image: out_channels must equal "
           "in_channels, found {}; {}",
           kind, t.out_channels, is("task.in_channels"));
    }
  }

  void model_and_training() const {
    const int in = c_.task.in_channels;
    if (c_.data.augment.color_jitter > 0 && in != 1 && in != 3) {
      fail("data.augment.color_jitter",
           "is defined for grey and RGB inputs only, and task.in_channels is {} (multispectral "
           "bands: brightness, contrast and hue would change what the bands measure); set it "
           "to 0; {}",
           in, is("task.in_channels"));
    }
    if (c_.model.residual && c_.task.out_channels != c_.task.in_channels) {
      fail("model.residual",
           "adds the input to the output, so task.out_channels must equal "
           "task.in_channels; {}, {}",
           is("task.in_channels"), is("task.out_channels"));
    }
    if (c_.model.head_init == "zero" && !c_.model.residual) {
      fail("model.head_init",
           "zero starts the network at a constant output unless model.residual adds the input "
           "(then it starts as the input, or its bicubic up-scaling); set model.residual: true "
           "or model.head_init: keras; {}",
           is("model.residual"));
    }
    if (c_.model.arch == "autoencoder" && c_.model.depth != 4) {
      fail("model.depth",
           "model.arch autoencoder is the article's fixed network (4 down-samplings), so "
           "model.depth must be 4, found {}; {} (model.arch autoencoder_generic takes any depth)",
           c_.model.depth, is("model.arch"));
    }
    if (c_.model.arch == "unet") {
      const int div = 1 << c_.model.depth;
      if (c_.data.image_size % div != 0) {
        fail("data.image_size", "a U-Net of depth {} needs a size divisible by {}, found {}; {}",
             c_.model.depth, div, c_.data.image_size, is("model.depth"));
      }
      if (c_.eval.tile % div != 0) {
        fail("eval.tile", "a U-Net of depth {} needs a tile divisible by {}, found {}",
             c_.model.depth, div, c_.eval.tile);
      }
    }
    if (c_.loss.name == "bce_dice" || c_.loss.name == "ce_dice") {
      if (c_.loss.bce_weight + c_.loss.dice_weight <= 0) {
        fail("loss.dice_weight", "{} needs bce_weight + dice_weight > 0; {}", c_.loss.name,
             is("loss.bce_weight"));
      }
    }
    const OptimConfig& o = c_.optim;
    if (o.nesterov && (o.name != "sgd" || o.momentum <= 0)) {
      fail("optim.nesterov", "needs optim.name sgd and momentum > 0; {}, {}", is("optim.name"),
           is("optim.momentum"));
    }
    const ScheduleConfig& s = c_.schedule;
    if ((s.name == "cosine" || s.name == "poly") && s.min_lr > o.lr) {
      fail("schedule.min_lr", "must be <= optim.lr, found {}; {}", s.min_lr, is("optim.lr"));
    }
    if (s.name == "step") {
      if (s.milestones.empty()) fail("schedule.milestones", "schedule step needs milestones");
      for (size_t i = 1; i < s.milestones.size(); ++i) {
        if (s.milestones[i] <= s.milestones[i - 1]) {
          fail("schedule.milestones", "expected strictly increasing steps, found {} after {}",
               s.milestones[i], s.milestones[i - 1]);
        }
      }
    } else if (!s.milestones.empty()) {
      fail("schedule.milestones", "only schedule step uses milestones; {}", is("schedule.name"));
    }
    const TrainConfig& tr = c_.train;
    if (tr.max_steps == 0 && tr.max_epochs == 0) {
      fail("train.max_steps",
           "train.max_steps and train.max_epochs are both 0: set at least "
           "one to bound the run");
    }
    if (tr.max_steps > 0 && s.warmup_steps >= tr.max_steps) {
      fail("schedule.warmup_steps", "must be < train.max_steps, found {}; {}", s.warmup_steps,
           is("train.max_steps"));
    }
    if (c_.dist.backend == "nccl" && tr.device != "cuda") {
      fail("dist.backend", "nccl needs device cuda; {}", is("train.device"));
    }
    if (tr.precision == "fp16") {
      fail("train.precision",
           "fp16 is not implemented (it needs dynamic loss scaling, and a CUDA build; on CPU "
           "LibTorch has no fast fp16 convolutions): use bf16, which keeps float32's range and "
           "needs no loss scaling");
    }
    if (c_.dist.sync_batchnorm && !c_.model.batch_norm) {
      fail("dist.sync_batchnorm", "has no effect without batch norm; {}", is("model.batch_norm"));
    }
  }

  void checkpoint_metric() const {
    const std::string& m = c_.checkpoint.metric;
    const auto slash = m.find('/');
    const std::string split = m.substr(0, slash);
    const std::string name = slash == std::string::npos ? "" : m.substr(slash + 1);
    const bool ok = (split == "val" && (name == "loss" || contains(c_.eval.metrics, name))) ||
                    (split == "train" && name == "loss");
    if (!ok) {
      fail("checkpoint.metric",
           "expected val/loss, train/loss or val/<metric> with <metric> "
           "one of eval.metrics ({}), found \"{}\"",
           join(c_.eval.metrics), m);
    }
    const bool lower_better = name == "loss" || name == "mse" || name == "mae";
    const std::string mode = lower_better ? "min" : "max";
    if (c_.checkpoint.mode != mode) {
      fail("checkpoint.mode", "{} is {} better, so mode must be {}, found {}; {}", m,
           lower_better ? "lower" : "higher", mode, c_.checkpoint.mode, is("checkpoint.metric"));
    }
  }

  void cluster() const {
    const ClusterConfig& cl = c_.cluster;
    static const std::regex time_re(
        "([0-9]+)|([0-9]+:[0-9]{1,2})|([0-9]+:[0-9]{1,2}:[0-9]{1,2})|([0-9]+-[0-9]+)|"
        "([0-9]+-[0-9]+:[0-9]{1,2})|([0-9]+-[0-9]+:[0-9]{1,2}:[0-9]{1,2})|UNLIMITED");
    if (!std::regex_match(cl.time, time_re)) {
      fail("cluster.time",
           "expected a Slurm time limit (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, "
           "D-HH:MM:SS or UNLIMITED), found \"{}\"",
           cl.time);
    }
    if (!cl.hostfile.empty() && !cl.hosts.empty()) {
      fail("cluster.hosts", "give either cluster.hosts or cluster.hostfile, not both; {}",
           is("cluster.hostfile"));
    }
    for (const auto& h : cl.hosts) {
      if (h.empty() || h.find_first_of(" \t,") != std::string::npos) {
        fail("cluster.hosts", "expected host names (no spaces or commas), found \"{}\"", h);
      }
    }
    static const std::regex env_re("[A-Za-z_][A-Za-z0-9_]*(=.*)?");
    for (const auto& e : cl.env) {
      if (!std::regex_match(e, env_re)) {
        fail("cluster.env", "expected NAME=value or NAME, found \"{}\"", e);
      }
    }
  }

  const RawConfig& raw_;
  const Config& c_;
};

}  // namespace

void validate_config(const RawConfig& raw, const Config& config, bool partial) {
  Validator v(raw, config);
  if (!partial) v.required();
  v.unimplemented();
  v.relations();
}

}  // namespace tessera
