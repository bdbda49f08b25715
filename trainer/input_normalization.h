// data.normalize: dataset -- the train split's per-channel statistics, from the manifest that
// `tessera synth` / `tessera pack` wrote (datasets/dataset_stats.h), set into the model's input
// normalisation buffers (models/model.h) when a run starts. Resumed runs, eval, predict and
// export take the values saved with the weights instead, so a model always sees the statistics
// it was trained with, whatever data it is later run on.
#pragma once

#include "common/config.h"
#include "models/model.h"

namespace tessera {

// No-op unless the model normalises its input (make_model(cfg) with data.normalize: dataset).
// Errors name data.train's manifest: no `stats` (a derived manifest, e.g. h5py-written data, or
// one older than the statistics), or a channel count other than task.in_channels. A channel
// whose standard deviation is 0 (constant in the train split) is centred only (std 1), with a
// warning.
void set_dataset_normalization(const Config& cfg, ImageModelImpl& model);

}  // namespace tessera
