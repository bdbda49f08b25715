// Class weights from a dataset's class frequencies (loss.class_weighting): the train split's
// manifest holds the pixel count n_c of every class (stats.class_pixels, written by synth and
// pack; datasets/dataset_stats.h). With N = sum n_c over the K classes and f_c = n_c / N:
//   inverse_frequency   w_c = N / (K n_c)        (mean weight over pixels 1; sklearn "balanced")
//   median_frequency    w_c = median(f) / f_c    (Eigen & Fergus 2015; SegNet, CamVid)
// A class with no pixel in train gets weight 1 (it is in no target, so its weight changes no
// loss) and a warning. The weights go into loss.class_weights, where ce / ce_dice / focal use
// them; they are logged with the counts. Every rank reads the same file, so all agree.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"

namespace tessera {

// The weights for counts `pixels` (one per class) by `mode`; throws on an unknown mode or when
// every count is 0.
std::vector<float> class_weights_from_counts(const std::vector<int64_t>& pixels,
                                             const std::string& mode);

// cfg.loss, with class_weights filled from cfg.data.train's manifest when loss.class_weighting is
// not none. Throws naming the dataset and the key when the manifest has no class counts.
LossConfig resolve_class_weights(const Config& cfg);

}  // namespace tessera
