// Target checks shared by the segmentation losses: shapes, dtypes, label ranges, ignore masks.
#include <fmt/format.h>

#include "common/error.h"
#include "trainer/losses_internal.h"

namespace tessera::detail {

std::string shape_str(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? "," : "") + std::to_string(t.size(d));
  return s + "]";
}

namespace {

// N,H,W view of a target given as N,H,W or N,1,H,W, checked against logits N,K,H,W.
torch::Tensor label_map(const torch::Tensor& logits, const torch::Tensor& target) {
  torch::Tensor t = target;
  if (t.dim() == 4 && t.size(1) == 1) t = t.squeeze(1);
  TESSERA_CHECK(t.dim() == 3 && t.size(0) == logits.size(0) && t.size(1) == logits.size(2) &&
                    t.size(2) == logits.size(3),
                "segmentation target has shape {}; expected N,H,W = [{},{},{}] to match the "
                "model output {}",
                shape_str(target), logits.size(0), logits.size(2), logits.size(3),
                shape_str(logits));
  return t.to(logits.device());
}

}  // namespace

torch::Tensor upcast(const torch::Tensor& logits) {
  if (logits.defined() &&
      (logits.scalar_type() == torch::kHalf || logits.scalar_type() == torch::kBFloat16)) {
    return logits.to(torch::kFloat);
  }
  return logits;
}

void check_logits(const torch::Tensor& logits, const char* what) {
  TESSERA_CHECK(logits.defined() && logits.dim() == 4 && logits.is_floating_point(),
                "{}: model output must be a floating N,C,H,W tensor (got {} {})", what,
                logits.defined() ? shape_str(logits) : "undefined",
                logits.defined() ? std::string(c10::toString(logits.scalar_type())) : "");
}

torch::Tensor checked_labels(const torch::Tensor& logits, const torch::Tensor& target,
                             int64_t num_values, int ignore_index, int classes_for_message) {
  torch::Tensor t = label_map(logits, target);
  TESSERA_CHECK(!t.is_floating_point() && !t.is_complex() && t.scalar_type() != torch::kBool,
                "segmentation target must hold integer labels (got dtype {})",
                c10::toString(t.scalar_type()));
  t = t.to(torch::kLong);
  torch::Tensor bad = (t < 0) | (t >= num_values);
  if (ignore_index >= 0) bad &= (t != ignore_index);
  if (bad.any().item<bool>()) {
    const auto flat = bad.reshape({-1}).nonzero().index({0, 0}).item<int64_t>();
    const int64_t hw = t.size(1) * t.size(2);
    const int64_t n = flat / hw, y = (flat % hw) / t.size(2), x = flat % t.size(2);
    TESSERA_THROW(
        "segmentation target label {} at (sample {}, y {}, x {}) is outside 0..{} "
        "(task.classes = {}{})",
        t.reshape({-1})[flat].item<int64_t>(), n, y, x, num_values - 1, classes_for_message,
        ignore_index >= 0 ? fmt::format(", loss.ignore_index = {}", ignore_index)
                          : std::string(", no loss.ignore_index set"));
  }
  return t;
}

BinaryTarget prepare_binary_target(const torch::Tensor& logits, const torch::Tensor& target,
                                   int ignore_index) {
  check_logits(logits, "binary segmentation loss");
  TESSERA_CHECK(logits.size(1) == 1,
                "binary segmentation (task.classes = 1) needs a model output with 1 channel; got "
                "{} channels (output shape {})",
                logits.size(1), shape_str(logits));
  BinaryTarget out;
  if (target.is_floating_point()) {
    torch::Tensor t = label_map(logits, target);
    const bool ok = ((t >= 0) & (t <= 1)).all().item<bool>();
    TESSERA_CHECK(ok,
                  "binary segmentation target (float) must be in [0, 1] (found values in "
                  "[{}, {}])",
                  t.min().item<double>(), t.max().item<double>());
    out.y = t.to(logits.scalar_type()).unsqueeze(1);
    return out;
  }
  torch::Tensor labels = checked_labels(logits, target, 2, ignore_index, 1);
  if (ignore_index >= 0) {
    torch::Tensor valid = labels != ignore_index;
    out.mask = valid.to(logits.scalar_type()).unsqueeze(1);
    labels = labels * valid;  // ignored pixels -> 0, masked out anyway
  }
  out.y = labels.to(logits.scalar_type()).unsqueeze(1);
  return out;
}

MulticlassTarget prepare_multiclass_target(const torch::Tensor& logits, const torch::Tensor& target,
                                           int classes, int ignore_index) {
  check_logits(logits, "multi-class segmentation loss");
  TESSERA_CHECK(logits.size(1) == classes,
                "multi-class segmentation needs one model output channel per class "
                "(task.classes = {}); got {} channels (output shape {})",
                classes, logits.size(1), shape_str(logits));
  MulticlassTarget out;
  out.labels = checked_labels(logits, target, classes, ignore_index, classes);
  if (ignore_index >= 0) {
    out.valid = out.labels != ignore_index;
    out.labels = out.labels * out.valid;
  }
  return out;
}

}  // namespace tessera::detail
