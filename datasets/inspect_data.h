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
#pragma once

#include <string>

namespace tessera {

std::string inspect_dataset(const std::string& dir, bool verify);

}  // namespace tessera
