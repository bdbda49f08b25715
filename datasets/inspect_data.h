// inspect_dataset: a human-readable report on a dataset directory, for `tessera inspect DIR`
// (the launcher owns the command line; this is the library function behind it).
//
// Reports the manifest (or that it was derived from h5py-written shards), task, sample count,
// shards (samples, bytes, checksum), shapes and dtypes, the class balance of label-map targets
// (pixel fraction per class), image-level label counts, and per-channel mean/std of inputs and
// image targets. Reads every sample once (sequentially).
// With verify = true, first checks the CRC32C of every shard against the manifest and throws
// tessera::Error listing every mismatching shard (a derived manifest has no checksums: noted in
// the report, not an error). Any unreadable shard or sample throws, naming the file and sample.
//
// A dataset root (what `synth` and `pack` write: OUT holding train/ val/ test/) is not itself a
// dataset: dataset_root_splits() lists its split directories (train, val, test first, then any
// other subdirectory that holds a dataset, by name), empty when `dir` is a dataset (it holds
// manifest.json or a .h5 file) or holds none. inspect_dataset_root() reports every split with
// inspect_dataset(), after a summary line per split and a check that the splits agree on the
// task, channel counts, sizes, classes and dtypes (a disagreement is reported, not thrown: it
// names the split and the field, since training would refuse such a pair later).
#pragma once

#include <string>
#include <vector>

namespace tessera {

std::string inspect_dataset(const std::string& dir, bool verify);

std::vector<std::string> dataset_root_splits(const std::string& dir);
std::string inspect_dataset_root(const std::string& root, bool verify);

}  // namespace tessera
