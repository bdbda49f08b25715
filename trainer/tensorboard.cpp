#include "trainer/tensorboard.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "checkpoints/file_io.h"
#include "common/error.h"
#include "datasets/checksum.h"
#include "tensorboard.pb.h"  // generated from trainer/tensorboard.proto

namespace tessera {
namespace fs = std::filesystem;

namespace {

double wall_time() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  std::string h(buf);
  for (char& c : h) {
    if (c == '/') c = '_';
  }
  return h;
}

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// A number (or a null, NaN) under `tag`; an object's members under "tag/<key>".
void add_scalar(const std::string& tag, const nlohmann::json& value,
                std::vector<std::pair<std::string, float>>& out) {
  if (value.is_object()) {
    for (const auto& [key, member] : value.items()) add_scalar(tag + "/" + key, member, out);
  } else if (value.is_number()) {
    out.emplace_back(tag, static_cast<float>(value.get<double>()));
  } else if (value.is_null()) {
    out.emplace_back(tag, std::numeric_limits<float>::quiet_NaN());
  }
}

}  // namespace

std::vector<std::pair<std::string, float>> tensorboard_scalars(const nlohmann::json& record) {
  std::vector<std::pair<std::string, float>> out;
  const auto split = record.find("split");
  const std::string prefix =
      split != record.end() && split->is_string() ? split->get<std::string>() + "/" : "";
  for (const auto& [key, value] : record.items()) {
    if (key == "step" || key == "split") continue;
    add_scalar(key.find('/') == std::string::npos ? prefix + key : key, value, out);
  }
  return out;
}

uint32_t tfrecord_masked_crc(const void* data, size_t n) {
  const uint32_t crc = crc32c(0, data, n);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string tfrecord_frame(const std::string& data) {
  std::string out;
  out.reserve(data.size() + 16);
  put_le(out, data.size(), 8);
  put_le(out, tfrecord_masked_crc(out.data(), 8), 4);
  out += data;
  put_le(out, tfrecord_masked_crc(data.data(), data.size()), 4);
  return out;
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir, int64_t resume_step) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  TESSERA_CHECK(!ec, "cannot create the TensorBoard directory {}: {}", dir, ec.message());
  if (resume_step < 0) {
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.is_regular_file() && e.path().filename().string().find("tfevents") != std::string::npos) {
        fs::remove(e.path(), ec);
        TESSERA_CHECK(!ec, "cannot remove the earlier event file {}: {}", e.path().string(),
                      ec.message());
      }
    }
  }
  const std::string base = fmt::format("{}/events.out.tfevents.{}.{}", dir,
                                       static_cast<int64_t>(wall_time()), host_name());
  for (int n = 0; fd_ < 0; ++n) {
    path_ = n == 0 ? base : fmt::format("{}.{}", base, n);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    TESSERA_CHECK(fd_ >= 0 || (errno == EEXIST && n < 1000), "cannot create {}: {}", path_,
                  std::strerror(errno));
  }
  tb::Event version;
  version.set_wall_time(wall_time());
  version.set_file_version("brain.Event:2");
  std::string bytes;
  version.SerializeToString(&bytes);
  write_record(bytes);
  tb::Event start;
  start.set_wall_time(wall_time());
  start.set_step(resume_step < 0 ? 0 : resume_step + 1);
  start.mutable_session_log()->set_status(tb::SessionLog::START);
  start.SerializeToString(&bytes);
  write_record(bytes);
  spdlog::debug("TensorBoard events: {} (SessionLog START at step {})", path_, start.step());
}

TensorBoardWriter::~TensorBoardWriter() {
  if (fd_ >= 0 && ::close(fd_) != 0) {
    spdlog::warn("closing {} failed: {}", path_, std::strerror(errno));
  }
}

void TensorBoardWriter::scalars(int64_t step,
                                const std::vector<std::pair<std::string, float>>& values) {
  if (values.empty()) return;
  tb::Event e;
  e.set_wall_time(wall_time());
  e.set_step(step);
  for (const auto& [tag, v] : values) {
    tb::Summary::Value* value = e.mutable_summary()->add_value();
    value->set_tag(tag);
    value->set_simple_value(v);
  }
  std::string bytes;
  e.SerializeToString(&bytes);
  write_record(bytes);
}

void TensorBoardWriter::image(int64_t step, const std::string& tag, const EncodedImage& image) {
  tb::Event e;
  e.set_wall_time(wall_time());
  e.set_step(step);
  tb::Summary::Value* value = e.mutable_summary()->add_value();
  value->set_tag(tag);
  tb::Summary::Image* im = value->mutable_image();
  im->set_height(image.height);
  im->set_width(image.width);
  im->set_colorspace(image.colorspace);
  im->set_encoded_image_string(image.png);
  std::string bytes;
  e.SerializeToString(&bytes);
  write_record(bytes);
}

void TensorBoardWriter::write_record(const std::string& event) {
  checkpoints::write_all(fd_, tfrecord_frame(event), path_);
}

}  // namespace tessera
