// The validation image grids of a run for `tessera report`, read back from its TensorBoard event
// files (<run>/tb/events.out.tfevents.*, written by trainer/tensorboard.h: the trainer keeps
// those pictures nowhere else).
//
// scan_event_images() walks every record of the files (TFRecord framing: uint64 length, masked
// CRC-32C of the length, data, masked CRC-32C of the data) and notes where each image summary
// with `tag` lies, without keeping the pictures; load_event_image() then reads only the ones a
// report shows. The files are taken in name order (their names start with the start time) and
// TensorBoard's rule for resumed runs is applied: a SessionLog START at step S in a later file
// discards the images of earlier files at steps >= S (those a crashed run logged after the
// checkpoint it resumed from). A record's length is checked against kMaxEventRecordBytes and the
// bytes left in the file before anything is allocated for it. A damaged record (bad CRC, an
// Event that does not parse) is skipped, a bad length or a truncated file ends that file's scan
// (a run being written ends mid-record); each such case adds one line to `notes`.
// Thread-safe: no state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "launcher/report_data.h"

namespace tessera {

inline constexpr uint64_t kMaxEventRecordBytes = 64u << 20;

struct EventImageRef {
  int64_t step = 0;
  std::string file;
  uint64_t offset = 0;  // of the record's data
  uint64_t length = 0;
};

struct EventScan {
  std::vector<EventImageRef> images;  // ascending step, one per step (the latest file wins)
  std::vector<std::string> notes;
};

// The event files of `tb_dir` (events.out.tfevents.*), sorted by name; none when the directory
// does not exist.
std::vector<std::string> event_files(const std::string& tb_dir);

EventScan scan_event_images(const std::vector<std::string>& files, const std::string& tag);

// The PNG of one scanned image; throws naming the file when it cannot be read back.
ValidationImage load_event_image(const EventImageRef& ref, const std::string& tag);

// TFRecord's masked CRC-32C ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t masked_crc32c(const void* data, size_t n);

}  // namespace tessera
