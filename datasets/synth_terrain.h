// Terrain helpers shared by the aerial generators (roads, multiclass) and the clean-image mix:
// natural ground texture and cultivated fields seen from above.
//
// Canvases are CV_32FC3 RGB in [0, 1] (see synth_draw.h); pure functions of the generator state.
#pragma once

#include <opencv2/core.hpp>

#include "datasets/synth_rng.h"

namespace tessera::synth {

// Grass / dry grass / bare soil mixed by noise at several scales, with fine grain. size x size.
cv::Mat terrain(int size, SynthRng& rng);

// 0..3 cultivated fields (rotated rectangles with crop rows) blended onto the canvas; `unit` is
// size / 64.
void add_fields(cv::Mat& canvas, SynthRng& rng, float unit);

}  // namespace tessera::synth
