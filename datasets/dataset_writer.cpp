#include "datasets/dataset_writer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>

#include "common/error.h"
#include "datasets/checksum.h"
#include "datasets/hdf5_handle.h"
#include "datasets/integrity.h"
#include "datasets/manifest.h"

namespace tessera {

namespace fs = std::filesystem;

namespace {

int cv_depth(const std::string& dtype) {
  return dtype == "uint8" ? CV_8U : dtype == "uint16" ? CV_16U : CV_32F;
}

std::string mat_desc(const cv::Mat& m) {
  const char* d = m.depth() == CV_8U    ? "uint8"
                  : m.depth() == CV_16U ? "uint16"
                  : m.depth() == CV_32F ? "float32"
                                        : "other-type";
  return fmt::format("{}x{}x{} {}", m.rows, m.cols, m.channels(), d);
}

// Copies a (possibly non-continuous) Mat into a dense row-major buffer.
void pack_rows(const cv::Mat& m, std::vector<uint8_t>& out) {
  size_t row = m.cols * m.elemSize();
  out.resize(row * m.rows);
  for (int r = 0; r < m.rows; ++r) std::memcpy(out.data() + r * row, m.ptr(r), row);
}

}  // namespace

struct DatasetWriter::Impl {
  std::string dir;
  DatasetInfo info;
  int64_t per_shard = 0;
  int gzip = 0;
  int64_t count = 0;
  bool finished = false;

  // Current shard.
  H5Id file, inputs, targets;
  std::string tmp_path, final_name;
  int64_t in_shard = 0;
  int target_max = -1;
  std::vector<int32_t> labels;
  std::vector<SampleCrc> crcs;  // per sample of the current shard (integrity.h)

  Manifest manifest;
  std::optional<StatsAccumulator> stats;  // every sample added (dataset_stats.h)
  std::vector<uint8_t> buf;

  std::string where() const { return fmt::format("{} ({})", final_name, dir); }

  H5Id make_dataset(const char* name, const std::vector<int64_t>& sample_shape,
                    const std::string& dtype) {
    int rank = static_cast<int>(sample_shape.size()) + 1;
    std::vector<hsize_t> dims(rank, 0), maxdims(rank), chunk(rank);
    maxdims[0] = H5S_UNLIMITED;
    chunk[0] = 1;
    for (int i = 1; i < rank; ++i) dims[i] = maxdims[i] = chunk[i] = sample_shape[i - 1];
    H5Id space(
        TESSERA_CHECK_HDF5(H5Screate_simple(rank, dims.data(), maxdims.data()), "{}", where()),
        H5Sclose);
    H5Id dcpl(TESSERA_CHECK_HDF5(H5Pcreate(H5P_DATASET_CREATE), "{}", where()), H5Pclose);
    TESSERA_CHECK_HDF5(H5Pset_chunk(dcpl.get(), rank, chunk.data()), "chunking `{}` in {}", name,
                       where());
    TESSERA_CHECK_HDF5(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "{}", where());
    if (gzip > 0) {
      TESSERA_CHECK_HDF5(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(gzip)),
                         "gzip for `{}` in {}", name, where());
    }
    hid_t ftype = dtype == "uint8"    ? H5T_STD_U8LE
                  : dtype == "uint16" ? H5T_STD_U16LE
                                      : H5T_IEEE_F32LE;
    return H5Id(TESSERA_CHECK_HDF5(H5Dcreate2(file.get(), name, ftype, space.get(), H5P_DEFAULT,
                                              dcpl.get(), H5P_DEFAULT),
                                   "creating `{}` in {}", name, where()),
                H5Dclose);
  }

  void open_shard() {
    int64_t index = static_cast<int64_t>(manifest.shards.size());
    final_name = shard_file_name(index);
    tmp_path = (fs::path(dir) / (final_name + ".tmp")).string();
    H5Quiet quiet;
    file = H5Id(
        TESSERA_CHECK_HDF5(H5Fcreate(tmp_path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                           "creating shard {}", tmp_path),
        H5Fclose);
    inputs = make_dataset(kInputsName, input_sample_shape(info), info.input_dtype);
    targets = make_dataset(kTargetsName, target_sample_shape(info), info.target_dtype);
    in_shard = 0;
    target_max = -1;
    labels.clear();
    crcs.clear();
  }

  void append(H5Id& ds, const char* name, const std::vector<int64_t>& sample_shape,
              const std::string& dtype, const void* data) {
    int rank = static_cast<int>(sample_shape.size()) + 1;
    std::vector<hsize_t> dims(rank), offset(rank, 0), cnt(rank);
    dims[0] = static_cast<hsize_t>(in_shard + 1);
    offset[0] = static_cast<hsize_t>(in_shard);
    cnt[0] = 1;
    for (int i = 1; i < rank; ++i) dims[i] = cnt[i] = sample_shape[i - 1];
    H5Quiet quiet;
    TESSERA_CHECK_HDF5(H5Dset_extent(ds.get(), dims.data()), "extending `{}` in {}", name, where());
    H5Id fspace(TESSERA_CHECK_HDF5(H5Dget_space(ds.get()), "{}", where()), H5Sclose);
    TESSERA_CHECK_HDF5(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, offset.data(), nullptr,
                                           cnt.data(), nullptr),
                       "{}", where());
    H5Id mspace(TESSERA_CHECK_HDF5(H5Screate_simple(rank, cnt.data(), nullptr), "{}", where()),
                H5Sclose);
    hid_t mtype = dtype == "uint8"    ? H5T_NATIVE_UINT8
                  : dtype == "uint16" ? H5T_NATIVE_UINT16
                                      : H5T_NATIVE_FLOAT;
    TESSERA_CHECK_HDF5(H5Dwrite(ds.get(), mtype, mspace.get(), fspace.get(), H5P_DEFAULT, data),
                       "writing sample {} to `{}` of {} (disk full?)", count, name, where());
  }

  void close_shard() {
    if (!file) return;
    H5Quiet quiet;
    hid_t root = file.get();
    std::string w = where();
    if (info.has_labels) {
      hsize_t n = static_cast<hsize_t>(labels.size());
      H5Id space(TESSERA_CHECK_HDF5(H5Screate_simple(1, &n, nullptr), "{}", w), H5Sclose);
      H5Id ds(TESSERA_CHECK_HDF5(H5Dcreate2(root, kLabelsName, H5T_STD_I32LE, space.get(),
                                            H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                 "creating `labels` in {}", w),
              H5Dclose);
      TESSERA_CHECK_HDF5(
          H5Dwrite(ds.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels.data()),
          "writing `labels` in {}", w);
    }
    write_sample_crcs(root, crcs, w);
    h5_write_attr(root, "format_version", int64_t{kShardFormatVersion}, w);
    h5_write_attr(root, "task", info.task, w);
    h5_write_attr(root, "target_kind", info.target_kind, w);
    h5_write_attr(root, "classes", int64_t{info.classes}, w);
    if (info.ignore_index >= 0) h5_write_attr(root, "ignore_index", int64_t{info.ignore_index}, w);
    if (!info.degradation.empty()) h5_write_attr(root, "degradation", info.degradation, w);
    h5_write_attr(root, "in_channels", int64_t{info.in_channels}, w);
    h5_write_attr(root, "target_channels", int64_t{info.target_channels}, w);
    h5_write_attr(root, "first_index", count - in_shard, w);
    inputs.close(w);
    targets.close(w);
    file.close(w);
    fs::path final_path = fs::path(dir) / final_name;
    std::error_code ec;
    fs::rename(tmp_path, final_path, ec);
    TESSERA_CHECK(!ec, "cannot rename {} to {}: {}", tmp_path, final_path.string(), ec.message());
    tmp_path.clear();
    FileChecksum sum = crc32c_file(final_path.string());
    ShardEntry e;
    e.file = final_name;
    e.samples = in_shard;
    e.bytes = sum.bytes;
    e.crc32c = crc32c_hex(sum.crc);
    e.target_max = info.target_kind == "labels" ? target_max : -1;
    e.sample_crc32c = true;
    manifest.shards.push_back(e);
  }

  void validate(const Sample& s) {
    std::string what =
        fmt::format("DatasetWriter({}): sample {} (shard {} #{})", dir, count,
                    shard_file_name(static_cast<int64_t>(manifest.shards.size())), in_shard);
    cv::Mat want_in(1, 1, CV_MAKETYPE(cv_depth(info.input_dtype), info.in_channels));
    TESSERA_CHECK(s.input.rows == info.input_height && s.input.cols == info.input_width &&
                      s.input.type() == want_in.type() && s.input.dims == 2,
                  "{}: input is {}, expected {}x{}x{} {}", what, mat_desc(s.input),
                  info.input_height, info.input_width, info.in_channels, info.input_dtype);
    bool labels_kind = info.target_kind == "labels";
    int tc = labels_kind ? 1 : info.target_channels;
    cv::Mat want_t(1, 1, CV_MAKETYPE(cv_depth(info.target_dtype), tc));
    TESSERA_CHECK(s.target.rows == info.height && s.target.cols == info.width &&
                      s.target.type() == want_t.type() && s.target.dims == 2,
                  "{}: target is {}, expected {}x{}x{} {}", what, mat_desc(s.target), info.height,
                  info.width, tc, info.target_dtype);
    if (info.input_dtype == "float32") {
      TESSERA_CHECK(cv::checkRange(s.input), "{}: input holds NaN or infinite values", what);
    }
    if (!labels_kind && info.target_dtype == "float32") {
      TESSERA_CHECK(cv::checkRange(s.target), "{}: target holds NaN or infinite values", what);
    }
    if (labels_kind) {
      // The largest class label; pixels marked ignore_index are not labels.
      double mx = 0;
      if (info.ignore_index >= 0) {
        const cv::Mat labelled = s.target != info.ignore_index;
        if (cv::countNonZero(labelled) > 0) cv::minMaxLoc(s.target, nullptr, &mx, nullptr, nullptr, labelled);
      } else {
        cv::minMaxLoc(s.target, nullptr, &mx);
      }
      const int limit = max_label(info);
      TESSERA_CHECK(static_cast<int>(mx) <= limit,
                    "{}: target label value {} is out of range 0..{} ({}; masks must be 0/1, "
                    "not 0/255{})",
                    what, static_cast<int>(mx), limit,
                    info.classes == 1 ? "binary dataset" : fmt::format("{} classes", info.classes),
                    info.ignore_index >= 0
                        ? fmt::format("; ignored pixels are {}", info.ignore_index)
                        : std::string());
      target_max = std::max(target_max, static_cast<int>(mx));
    }
  }

  void remove_partial() noexcept {
    std::error_code ec;
    file.reset();
    inputs.reset();
    targets.reset();
    if (!tmp_path.empty()) fs::remove(tmp_path, ec);
    for (const auto& s : manifest.shards) fs::remove(fs::path(dir) / s.file, ec);
  }
};

DatasetWriter::DatasetWriter(const std::string& dir, const DatasetInfo& info,
                             int64_t samples_per_shard, int gzip_level)
    : impl_(std::make_unique<Impl>()) {
  validate_info(info, fmt::format("DatasetWriter({})", dir));
  TESSERA_CHECK(samples_per_shard > 0, "DatasetWriter({}): samples_per_shard must be > 0, not {}",
                dir, samples_per_shard);
  TESSERA_CHECK(gzip_level >= 0 && gzip_level <= 9,
                "DatasetWriter({}): gzip level must be 0 (off) .. 9, not {}", dir, gzip_level);
  std::error_code ec;
  fs::create_directories(dir, ec);
  TESSERA_CHECK(!ec && fs::is_directory(dir), "DatasetWriter: cannot create directory {}: {}", dir,
                ec.message());
  for (const auto& e : fs::directory_iterator(dir)) {
    auto name = e.path().filename().string();
    auto ext = e.path().extension().string();
    TESSERA_CHECK(name != kManifestName && ext != ".h5" && ext != ".hdf5",
                  "DatasetWriter: {} already holds a dataset ({}); refusing to overwrite it "
                  "(write to an empty directory)",
                  dir, name);
  }
  impl_->dir = dir;
  impl_->info = info;
  impl_->per_shard = samples_per_shard;
  impl_->gzip = gzip_level;
  impl_->manifest.info = info;
  impl_->stats.emplace(info);
}

DatasetWriter::~DatasetWriter() {
  if (impl_ && !impl_->finished) impl_->remove_partial();
}

void DatasetWriter::add(const Sample& s) {
  Impl& m = *impl_;
  TESSERA_CHECK(!m.finished, "DatasetWriter({}): add() after finish()", m.dir);
  if (!m.file) m.open_shard();
  m.validate(s);
  const DatasetInfo& info = m.info;
  const void* in_ptr = s.input.data;
  std::vector<uint8_t> in_copy;
  if (!s.input.isContinuous()) {
    pack_rows(s.input, in_copy);
    in_ptr = in_copy.data();
  }
  m.append(m.inputs, kInputsName, input_sample_shape(info), info.input_dtype, in_ptr);
  const void* t_ptr = s.target.data;
  if (!s.target.isContinuous()) {
    pack_rows(s.target, m.buf);
    t_ptr = m.buf.data();
  }
  m.append(m.targets, kTargetsName, target_sample_shape(info), info.target_dtype, t_ptr);
  m.stats->add(in_ptr, info.target_kind == "labels" ? t_ptr : nullptr);
  m.labels.push_back(s.label);
  m.crcs.push_back(
      {input_crc(static_cast<const uint8_t*>(in_ptr), static_cast<size_t>(input_bytes(info))),
       target_crc(static_cast<const uint8_t*>(t_ptr), static_cast<size_t>(target_bytes(info)),
                  info.has_labels ? &s.label : nullptr)});
  ++m.in_shard;
  ++m.count;
  if (m.in_shard == m.per_shard) m.close_shard();
}

void DatasetWriter::finish() {
  Impl& m = *impl_;
  TESSERA_CHECK(!m.finished, "DatasetWriter({}): finish() called twice", m.dir);
  TESSERA_CHECK(m.count > 0,
                "DatasetWriter({}): no samples were added (an empty dataset is not "
                "valid; skip writing this split instead)",
                m.dir);
  m.close_shard();
  m.manifest.stats = m.stats->result();
  write_manifest(m.dir, m.manifest);
  m.finished = true;
}

int64_t DatasetWriter::count() const {
  return impl_->count;
}

}  // namespace tessera
