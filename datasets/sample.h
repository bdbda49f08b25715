// Sample: one in-memory training pair, the unit that synth generators and image packers produce
// and shard writers store.
#pragma once

#include <opencv2/core.hpp>

namespace tessera {

struct Sample {
  cv::Mat input;   // H x W x C, CV_8UC(C) or CV_32FC(C) (float in [0,1])
  cv::Mat target;  // H x W CV_8UC1 label map (segmentation), or H x W x C image (CV_8U/CV_32F)
  int label = 0;   // image-level label: anomaly sets use 1 = defect, 0 = normal
};

}  // namespace tessera
