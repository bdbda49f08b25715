// Degradation: how the low-resolution input of a super-resolution pair is made from its
// high-resolution target, chosen by `tessera pack` / `tessera synth --degradation` and recorded
// in the dataset (manifest key `degradation`, shard attribute `degradation`):
//   bicubic_aa    antialiased bicubic as MATLAB's imresize / BasicSR / PIL (datasets/resize.h,
//                 symmetric edges): the literature's "bicubic"; the default
//   opencv_cubic  OpenCV's cv::resize INTER_CUBIC (a = -0.75, no antialiasing: fine detail
//                 aliases); what tessera made before the option existed
//   area          OpenCV's INTER_AREA: the mean of each scale x scale block
// A dataset may also record `unknown`: paired packing (`--targets`) of low-resolution images made
// elsewhere, unless --degradation declares how they were made.
//
// A super-resolution manifest without the key (written before it existed) was made with
// opencv_cubic: effective_degradation() says so, and comparisons use it, so an old dataset
// agrees with a new opencv_cubic one and disagrees with a bicubic_aa one.
// check_same_degradation() is what `tessera train` runs on its train / val / test datasets: a
// model trained on one degradation and scored on another measures the mismatch, not the model.
// The images themselves are made by synth::downscale (datasets/synth_generators.h); this file
// has no OpenCV, so the shard reader (tessera_shard_io) can validate recorded names.
// Thread safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "datasets/shard_format.h"

namespace tessera {

enum class Degradation { bicubic_aa, opencv_cubic, area };

inline constexpr const char* kDegradationKey = "degradation";      // manifest and shard attribute
inline constexpr const char* kUnknownDegradation = "unknown";      // paired LR from elsewhere
inline constexpr const char* kLegacyDegradation = "opencv_cubic";  // a manifest without the key

// "bicubic_aa", "opencv_cubic", "area" in the order of the enum.
const std::vector<std::string>& degradation_names();
std::string to_string(Degradation d);
// `option` names the source in the error ("pack: --degradation"), which lists the names.
Degradation degradation_from_string(const std::string& name, const std::string& option);
// One of degradation_names() or kUnknownDegradation (what a manifest may record).
bool recordable_degradation(const std::string& name);

// The degradation a dataset was made with: its recorded value; for super-resolution data that
// records none, kLegacyDegradation; "" for other tasks.
std::string effective_degradation(const DatasetInfo& info);

// Throws tessera::Error when two super-resolution datasets of one run were made with different
// degradations, naming both (e.g. "data.train (DIR)"), both values and the manifest key.
// Datasets of other tasks are not compared.
void check_same_degradation(const DatasetInfo& a, const std::string& a_name, const DatasetInfo& b,
                            const std::string& b_name);

}  // namespace tessera
