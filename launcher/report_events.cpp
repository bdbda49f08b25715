#include "launcher/report_events.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/error.h"
#include "datasets/checksum.h"
#include "tensorboard.pb.h"  // generated from trainer/tensorboard.proto

namespace tessera {

namespace fs = std::filesystem;

namespace {

uint64_t le64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint32_t le32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// The image summary with `tag` of an event, or nullptr.
const tb::Summary::Image* find_image(const tb::Event& e, const std::string& tag) {
  if (!e.has_summary()) return nullptr;
  for (const auto& v : e.summary().value()) {
    if (v.tag() == tag && v.has_image()) return &v.image();
  }
  return nullptr;
}

}  // namespace

uint32_t masked_crc32c(const void* data, size_t n) {
  const uint32_t crc = crc32c(0, data, n);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::vector<std::string> event_files(const std::string& tb_dir) {
  std::vector<std::string> files;
  std::error_code ec;
  if (!fs::is_directory(tb_dir, ec)) return files;
  for (const auto& e : fs::directory_iterator(tb_dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.rfind("events.out.tfevents.", 0) == 0) {
      files.push_back(e.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

EventScan scan_event_images(const std::vector<std::string>& files, const std::string& tag) {
  EventScan scan;
  std::map<int64_t, EventImageRef> by_step;
  bool first_file = true;
  for (const std::string& path : files) {
    std::ifstream in(path, std::ios::binary);
    TESSERA_CHECK(in.good(), "event file {}: cannot open: {}", path, std::strerror(errno));
    std::error_code ec;
    const uint64_t size = fs::file_size(path, ec);
    TESSERA_CHECK(!ec, "event file {}: cannot stat: {}", path, ec.message());
    uint64_t pos = 0;
    bool start_seen = false;
    std::string data;
    while (pos < size) {
      unsigned char head[12];
      if (size - pos < sizeof head || !in.read(reinterpret_cast<char*>(head), sizeof head)) {
        scan.notes.push_back(fmt::format("{}: ends inside a record header at byte {}", path, pos));
        break;
      }
      const uint64_t len = le64(head);
      if (masked_crc32c(head, 8) != le32(head + 8)) {
        scan.notes.push_back(fmt::format("{}: bad length CRC at byte {}; rest skipped", path, pos));
        break;
      }
      if (len > kMaxEventRecordBytes || len + 4 > size - pos - 12) {
        scan.notes.push_back(fmt::format(
            "{}: record at byte {} claims {} bytes (at most {} and the {} left in the file); "
            "rest skipped",
            path, pos, len, kMaxEventRecordBytes, size - pos - 12));
        break;
      }
      data.resize(len);
      unsigned char tail[4];
      if (!in.read(data.data(), static_cast<std::streamsize>(len)) ||
          !in.read(reinterpret_cast<char*>(tail), 4)) {
        scan.notes.push_back(fmt::format("{}: cannot read the record at byte {}", path, pos));
        break;
      }
      const uint64_t data_offset = pos + 12;
      pos += 12 + len + 4;
      if (masked_crc32c(data.data(), data.size()) != le32(tail)) {
        scan.notes.push_back(fmt::format("{}: bad data CRC in the record at byte {}; skipped", path,
                                         data_offset - 12));
        continue;
      }
      tb::Event event;
      if (!event.ParseFromString(data)) {
        scan.notes.push_back(fmt::format("{}: the record at byte {} is not an Event; skipped", path,
                                         data_offset - 12));
        continue;
      }
      if (event.has_session_log() && event.session_log().status() == tb::SessionLog::START &&
          !start_seen) {
        start_seen = true;
        // TensorBoard's rule: a later START discards what earlier files logged at >= its step.
        if (!first_file) by_step.erase(by_step.lower_bound(event.step()), by_step.end());
      }
      if (find_image(event, tag) != nullptr) {
        by_step[event.step()] = EventImageRef{event.step(), path, data_offset, len};
      }
    }
    first_file = false;
  }
  for (auto& [step, ref] : by_step) scan.images.push_back(std::move(ref));
  return scan;
}

ValidationImage load_event_image(const EventImageRef& ref, const std::string& tag) {
  TESSERA_CHECK(ref.length <= kMaxEventRecordBytes,
                "event file {}: record of {} bytes at byte {} (at most {} expected)", ref.file,
                ref.length, ref.offset, kMaxEventRecordBytes);
  std::ifstream in(ref.file, std::ios::binary);
  TESSERA_CHECK(in.good(), "event file {}: cannot open: {}", ref.file, std::strerror(errno));
  std::string data(ref.length, '\0');
  in.seekg(static_cast<std::streamoff>(ref.offset));
  TESSERA_CHECK(in.read(data.data(), static_cast<std::streamsize>(data.size())),
                "event file {}: cannot read {} bytes at byte {} (the file changed?)", ref.file,
                ref.length, ref.offset);
  tb::Event event;
  TESSERA_CHECK(event.ParseFromString(data), "event file {}: the record at byte {} is not an Event",
                ref.file, ref.offset);
  const tb::Summary::Image* im = find_image(event, tag);
  TESSERA_CHECK(im != nullptr, "event file {}: no image '{}' in the record at byte {}", ref.file,
                tag, ref.offset);
  ValidationImage out;
  out.step = event.step();
  out.width = im->width();
  out.height = im->height();
  out.png = im->encoded_image_string();
  return out;
}

}  // namespace tessera
