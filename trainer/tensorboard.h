// TensorBoardWriter: a training run's TensorBoard event file, <run_dir>/tb/
// events.out.tfevents.<unix seconds>.<hostname> (".1", ".2", ... appended if that name exists),
// owned by rank 0's RunLog (run_log.h), which mirrors every metrics.jsonl record into it.
//
// Format (what TensorBoard reads): TFRecord framing, per record uint64 length (little-endian),
// uint32 masked CRC-32C of those 8 bytes, the data, uint32 masked CRC-32C of the data; each
// record one serialized Event (trainer/tensorboard.proto, TensorBoard's field numbers). The first
// record is {file_version: "brain.Event:2"}, the second a SessionLog START: at step 0 in a fresh
// run, at the resumed step + 1 in a resumed one. TensorBoard discards, at a START after the first
// it has read, every event of an earlier file with a step >= the START's step: the steps that a
// crashed run logged after the checkpoint the run resumed from. (START at the resumed step itself
// would also discard that step's own records, which the resumed run never writes again.)
// A resumed run starts a new file and never rewrites old ones; a fresh run removes the event
// files of an earlier run of the same directory first (as it starts metrics.jsonl anew: a fresh
// run there has no checkpoint, so its history cannot be continued).
//
// Each event is written with one write(2) as it happens (no user-space buffer; like
// metrics.jsonl), so nothing waits for a flush at a validation, a stop or a crash; the
// destructor closes the file. A failed write is a tessera::Error naming the file.
// Threads: one writer per run, used by the training thread only.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tessera {

// A PNG-encoded picture (cv::imencode) and its size.
struct EncodedImage {
  std::string png;
  int height = 0, width = 0;
  int colorspace = 3;  // TensorBoard's numbering: 1 grey, 3 RGB, 4 RGBA
};

// The one mapping from a metrics.jsonl record to TensorBoard scalar tags (docs/run-dir.md):
// every number of the record except `step` (the event's step); nested objects join their keys
// with '/' ("time": {"data": ..} -> "time/data"); in a record with "split": S (validation), a
// top-level key without '/' gets the prefix "S/" ("seconds" -> "val/seconds", "epoch" ->
// "val/epoch"; "val/dice", "selected/dice", "train/loss" stay as they are). A null (NaN) value
// is written as NaN; strings and booleans are left out.
std::vector<std::pair<std::string, float>> tensorboard_scalars(const nlohmann::json& record);

// TFRecord helpers (exposed for tests): the masked CRC-32C, ((crc >> 15) | (crc << 17)) +
// 0xa282ead8, and one framed record.
uint32_t tfrecord_masked_crc(const void* data, size_t n);
std::string tfrecord_frame(const std::string& data);

class TensorBoardWriter {
 public:
  // Creates `dir` and a new event file in it; resume_step < 0: a fresh run (earlier event files
  // in `dir` are removed), else the step the run resumed from.
  TensorBoardWriter(const std::string& dir, int64_t resume_step);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // One event with a simple_value per tag.
  void scalars(int64_t step, const std::vector<std::pair<std::string, float>>& values);
  // One event with an image summary.
  void image(int64_t step, const std::string& tag, const EncodedImage& image);

  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& event);

  std::string path_;
  int fd_ = -1;
};

}  // namespace tessera
