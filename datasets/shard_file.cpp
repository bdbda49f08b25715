#include "datasets/shard_file.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/compat.h"
#include "common/text.h"
#include "datasets/shard_format.h"

#if !H5_VERSION_GE(1, 10, 5)
#error "tessera needs HDF5 >= 1.10.5 (H5Dget_chunk_info_by_coord)"
#endif

namespace tessera {

namespace {

std::string type_name(hid_t type) {
  if (H5Tget_class(type) == H5T_INTEGER && H5Tget_size(type) == 1 &&
      H5Tget_sign(type) == H5T_SGN_NONE) {
    return "uint8";
  }
  if (H5Tget_class(type) == H5T_INTEGER && H5Tget_size(type) == 2 &&
      H5Tget_sign(type) == H5T_SGN_NONE) {
    return "uint16";
  }
  if (H5Tget_class(type) == H5T_FLOAT && H5Tget_size(type) == 4) return "float32";
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return fmt::format("{}int{}", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "",
                         8 * H5Tget_size(type));
    case H5T_FLOAT:
      return fmt::format("float{}", 8 * H5Tget_size(type));
    default:
      return "a non-numeric type";
  }
}

// Bounds on what a shard file may claim (a hostile or damaged file must get an error naming it,
// not bad_alloc or gigabytes of memory). Every size read from the file is checked against these
// and against the file's own size before it sizes an allocation.
constexpr size_t kMaxSampleBytes = size_t{1} << 32;  // one sample of one dataset
constexpr uint64_t kMaxDeflateRatio = 1032;          // zlib's largest possible ratio
// Direct layout: both datasets store one chunk per sample, each >= 1 byte plus >= 8 bytes of
// chunk index in the file, so a file of B bytes holds at most B / 16 samples.
constexpr uint64_t kMinDirectBytesPerSample = 16;

uint64_t file_size_of(const std::string& path) {
  struct stat st {};
  TESSERA_CHECK(::stat(path.c_str(), &st) == 0, "cannot stat {}: {}", path, std::strerror(errno));
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace

struct ShardFile::Access {
  H5Id ds;
  std::string name;   // "inputs" | "targets"
  std::string dtype;  // uint8 | float32
  size_t sample_bytes = 0;
  int rank = 0;
  std::vector<hsize_t> dims;  // full dims incl. N
  bool direct = false;        // pread of the raw chunk (index below)
  bool deflate = false;       // chunk is zlib-compressed
  bool filtered = false;      // any filter (stored bytes may be smaller than the data)
  hid_t mem_type = H5I_INVALID_HID;
  struct Chunk {
    uint64_t addr = 0;  // absolute file offset
    uint32_t size = 0;  // stored bytes
    uint32_t mask = 0;  // filters skipped for this chunk
  };
  std::vector<Chunk> chunks;  // one per sample (direct only)

  // Records every sample's chunk location; `base` is added to HDF5's chunk addresses to make them
  // file offsets (the user-block size where HDF5 reports addresses relative to it).
  void build_index(const std::string& path, uint64_t base, uint64_t file_bytes) {
    chunks.resize(dims[0]);  // bounded by the file size (see check_counts)
    // The largest stored chunk a sample can have: zlib's compressBound of the sample size
    // (HDF5 stores a chunk that does not compress unfiltered, with mask bit 0 set).
    const uint64_t max_deflated = compressBound(static_cast<uLong>(sample_bytes));
    std::vector<hsize_t> offset(rank, 0);
    H5Quiet quiet;
    for (hsize_t k = 0; k < dims[0]; ++k) {
      offset[0] = k;
      unsigned mask = 0;
      haddr_t addr = HADDR_UNDEF;
      hsize_t size = 0;
      TESSERA_CHECK_HDF5(H5Dget_chunk_info_by_coord(ds.get(), offset.data(), &mask, &addr, &size),
                         "locating `{}` of sample {} in {}", name, k, path);
      TESSERA_CHECK(addr != HADDR_UNDEF && size > 0,
                    "{}: `{}` of sample {} was never written (no chunk stored)", path, name, k);
      const bool compressed = deflate && !(mask & 1u);
      TESSERA_CHECK(compressed ? size <= max_deflated : size == sample_bytes,
                    "{}: `{}` of sample {} is stored as {} bytes, but a {}-byte sample takes {} "
                    "(corrupt or hostile file)",
                    path, name, k, static_cast<uint64_t>(size), sample_bytes,
                    compressed ? fmt::format("at most {} compressed (compressBound)", max_deflated)
                               : fmt::format("exactly {}", sample_bytes));
      TESSERA_CHECK(base + addr <= file_bytes && size <= file_bytes - (base + addr),
                    "{}: `{}` of sample {} lies at bytes {}..{}, beyond the end of the {}-byte "
                    "file (truncated file?)",
                    path, name, k, base + addr, base + addr + size, file_bytes);
      chunks[k] = {base + addr, static_cast<uint32_t>(size), mask};
    }
  }

  void read(const std::string& path, int64_t local, std::vector<uint8_t>& dst,
            const std::string& what, const FileDescriptor* fd) const {
    dst.resize(sample_bytes);
    if (!direct) {
      std::vector<hsize_t> offset(rank, 0), count(dims);
      offset[0] = static_cast<hsize_t>(local);
      count[0] = 1;
      H5Quiet quiet;
      H5Id fspace(TESSERA_CHECK_HDF5(H5Dget_space(ds.get()), "{} of {}", name, path), H5Sclose);
      TESSERA_CHECK_HDF5(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, offset.data(), nullptr,
                                             count.data(), nullptr),
                         "selecting {} of {}", what, path);
      H5Id mspace(TESSERA_CHECK_HDF5(H5Screate_simple(rank, count.data(), nullptr), "{}", path),
                  H5Sclose);
      TESSERA_CHECK_HDF5(
          H5Dread(ds.get(), mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, dst.data()),
          "reading `{}` of {} from {} (truncated or corrupt file?)", name, what, path);
      return;
    }
    std::optional<FileDescriptor> own;
    if (!fd) fd = &own.emplace(path);
    const Chunk& c = chunks[static_cast<size_t>(local)];
    const bool compressed = deflate && !(c.mask & 1u);
    TESSERA_CHECK(compressed || c.size == sample_bytes,
                  "{}: `{}` of {} is stored as {} bytes, expected {} (corrupt file?)", path, name,
                  what, c.size, sample_bytes);
    // One compressed-chunk buffer per thread, at most compressBound(sample) bytes (checked when
    // the index was built); it gives memory back when it is much larger than this read needs.
    thread_local std::vector<uint8_t> raw;
    std::vector<uint8_t>& buf = compressed ? raw : dst;
    buf.resize(c.size);
    if (compressed && raw.capacity() > 2 * size_t{c.size} + (size_t{1} << 20)) {
      raw.shrink_to_fit();
    }
    size_t done = 0;
    while (done < c.size) {
      ssize_t got =
          ::pread(fd->get(), buf.data() + done, c.size - done, static_cast<off_t>(c.addr + done));
      if (got < 0 && errno == EINTR) continue;
      TESSERA_CHECK(got > 0, "{}: reading `{}` of {} at byte {} failed: {} (truncated file?)", path,
                    name, what, c.addr + done,
                    got == 0 ? std::string("unexpected end of file") : std::strerror(errno));
      done += static_cast<size_t>(got);
    }
    if (!compressed) return;
    uLongf out_len = static_cast<uLongf>(sample_bytes);
    int rc = uncompress(dst.data(), &out_len, raw.data(), static_cast<uLong>(raw.size()));
    TESSERA_CHECK(rc == Z_OK && out_len == sample_bytes,
                  "{}: `{}` of {} is corrupt: gzip chunk does not inflate to {} bytes (zlib "
                  "status {}, got {} bytes)",
                  path, name, what, sample_bytes, rc, static_cast<uint64_t>(out_len));
  }
};

FileDescriptor::FileDescriptor(const std::string& path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  TESSERA_CHECK(fd_ >= 0, "cannot open {}: {}", path, std::strerror(errno));
}

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

std::unique_ptr<ShardFile::Access> open_access(hid_t file, const std::string& path,
                                               const std::string& name, ShardLayout& layout,
                                               std::vector<int64_t>& sample_shape,
                                               std::string& dtype) {
  auto a = std::make_unique<ShardFile::Access>();
  a->name = name;
  H5Quiet quiet;
  TESSERA_CHECK(H5Lexists(file, name.c_str(), H5P_DEFAULT) > 0,
                "{}: dataset `{}` is missing (a shard needs `inputs` (N,H,W,C) and `targets`; "
                "see docs/data-format.md)",
                path, name);
  a->ds = H5Id(TESSERA_CHECK_HDF5(H5Dopen2(file, name.c_str(), H5P_DEFAULT),
                                  "opening dataset `{}` in {}", name, path),
               H5Dclose);
  H5Id space(TESSERA_CHECK_HDF5(H5Dget_space(a->ds.get()), "`{}` of {}", name, path), H5Sclose);
  a->rank = H5Sget_simple_extent_ndims(space.get());
  if (name == "inputs") {
    TESSERA_CHECK(a->rank == 4,
                  "{}: `inputs` must be 4-D (N,H,W,C), it is {}-D (grayscale: add a channel "
                  "axis, h5py: x[..., None])",
                  path, a->rank);
  } else {
    TESSERA_CHECK(a->rank == 3 || a->rank == 4,
                  "{}: `targets` must be (N,H,W) label maps or (N,H,W,C) images, it is {}-D", path,
                  a->rank);
  }
  a->dims.resize(a->rank);
  H5Sget_simple_extent_dims(space.get(), a->dims.data(), nullptr);
  sample_shape.assign(a->dims.begin() + 1, a->dims.end());
  for (auto d : sample_shape) {
    TESSERA_CHECK(d > 0, "{}: `{}` has an empty sample dimension", path, name);
  }
  H5Id ftype(TESSERA_CHECK_HDF5(H5Dget_type(a->ds.get()), "`{}` of {}", name, path), H5Tclose);
  dtype = type_name(ftype.get());
  TESSERA_CHECK(dtype == "uint8" || dtype == "float32" ||
                    (dtype == "uint16" && std::string(name) == kInputsName),
                "{}: `{}` is {}, expected uint8{} or float32 (h5py: arr.astype('uint8'){} or "
                "arr.astype('float32'))",
                path, name, dtype, std::string(name) == kInputsName ? ", uint16" : "",
                std::string(name) == kInputsName ? ", arr.astype('uint16')" : "");
  a->dtype = dtype;
  a->mem_type = dtype == "uint8"    ? H5T_NATIVE_UINT8
                : dtype == "uint16" ? H5T_NATIVE_UINT16
                                    : H5T_NATIVE_FLOAT;
  a->sample_bytes = static_cast<size_t>(dtype_size(dtype));
  for (auto d : sample_shape) {
    TESSERA_CHECK(
        !__builtin_mul_overflow(a->sample_bytes, static_cast<size_t>(d), &a->sample_bytes) &&
            a->sample_bytes <= kMaxSampleBytes,
        "{}: `{}` claims samples of more than {} bytes (corrupt or hostile file)", path, name,
        kMaxSampleBytes);
  }

  // Direct chunk reads need: chunks of exactly one sample, native byte order, and no filter
  // other than deflate.
  H5Id dcpl(TESSERA_CHECK_HDF5(H5Dget_create_plist(a->ds.get()), "`{}` of {}", name, path),
            H5Pclose);
  bool one_chunk = false;
  if (H5Pget_layout(dcpl.get()) == H5D_CHUNKED) {
    std::vector<hsize_t> chunk(a->rank);
    H5Pget_chunk(dcpl.get(), a->rank, chunk.data());
    one_chunk = chunk[0] == 1;
    for (int i = 1; i < a->rank; ++i) one_chunk = one_chunk && chunk[i] == a->dims[i];
  }
  layout.one_sample_chunks = layout.one_sample_chunks && one_chunk;
  bool filters_ok = true;
  int nfilters = H5Pget_nfilters(dcpl.get());
  for (int i = 0; i < nfilters; ++i) {
    unsigned flags = 0;
    size_t nelem = 0;
    unsigned config = 0;
    H5Z_filter_t f = H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &nelem, nullptr,
                                    0, nullptr, &config);
    if (f == H5Z_FILTER_DEFLATE && nfilters == 1) {
      a->deflate = true;
    } else {
      filters_ok = false;
    }
  }
  a->filtered = nfilters > 0;
  a->direct = one_chunk && filters_ok && H5Tequal(ftype.get(), a->mem_type) > 0;
  if (!a->direct) a->deflate = false;
  return a;
}

}  // namespace

namespace {

// The sample count against the manifest and the file size, before anything is sized by it.
void check_counts(const std::string& path, const ShardFile::Access& a, uint64_t samples,
                  int64_t expected, uint64_t file_bytes, bool direct) {
  TESSERA_CHECK(expected < 0 || samples == static_cast<uint64_t>(expected),
                "{}: `{}` holds {} samples but the manifest says {}", path, a.name, samples,
                expected);
  // Stored bytes per sample are at least sample_bytes (unfiltered) or sample_bytes / 1032
  // (deflate's best ratio); the direct layout needs >= 16 bytes per sample in any case.
  uint64_t per_sample = a.filtered ? a.sample_bytes / kMaxDeflateRatio : a.sample_bytes;
  if (direct) per_sample = std::max(per_sample, kMinDirectBytesPerSample);
  per_sample = std::max<uint64_t>(per_sample, 1);
  uint64_t needed = 0;
  TESSERA_CHECK(!__builtin_mul_overflow(samples, per_sample, &needed) && needed <= file_bytes,
                "{}: `{}` claims {} samples of {} bytes, which cannot be stored in a file of {} "
                "bytes (truncated or corrupt file, or a hostile one)",
                path, a.name, samples, a.sample_bytes, file_bytes);
}

}  // namespace

ShardFile::ShardFile(const std::string& path, int64_t expected_samples, bool verify_samples)
    : path_(path) {
  H5Quiet quiet;
  H5Id fapl(TESSERA_CHECK_HDF5(H5Pcreate(H5P_FILE_ACCESS), "{}", path), H5Pclose);
  // A small metadata cache per open file: a reader keeps up to ReaderOptions::max_open_shards
  // files open and a shard's metadata is a few KiB.
  H5AC_cache_config_t mdc;
  mdc.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  TESSERA_CHECK_HDF5(H5Pget_mdc_config(fapl.get(), &mdc), "{}", path);
  mdc.set_initial_size = true;
  mdc.initial_size = 64 * 1024;
  mdc.min_size = 32 * 1024;
  mdc.max_size = 1024 * 1024;
  TESSERA_CHECK_HDF5(H5Pset_mdc_config(fapl.get(), &mdc), "{}", path);
#if H5_VERSION_GE(1, 10, 7)
  // Read-only access needs no lock; locks fail on some parallel file systems.
  H5Pset_file_locking(fapl.get(), false, true);
#endif
  htri_t is_h5 = H5Fis_hdf5(path.c_str());
  TESSERA_CHECK(is_h5 > 0, "{}: not a readable HDF5 file (missing, truncated or corrupt: {})", path,
                hdf5_error_string());
  file_ = H5Id(TESSERA_CHECK_HDF5(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()),
                                  "opening shard {} (truncated or corrupt file?)", path),
               H5Fclose);
  inputs_ =
      open_access(file_.get(), path, "inputs", layout_, layout_.input_shape, layout_.input_dtype);
  targets_ = open_access(file_.get(), path, "targets", layout_, layout_.target_shape,
                         layout_.target_dtype);
  layout_.samples = static_cast<int64_t>(inputs_->dims[0]);
  TESSERA_CHECK(inputs_->dims[0] == targets_->dims[0],
                "{}: `inputs` holds {} samples but `targets` holds {}", path, inputs_->dims[0],
                targets_->dims[0]);
  const uint64_t file_bytes = file_size_of(path);
  const bool direct = inputs_->direct && targets_->direct;
  check_counts(path, *inputs_, inputs_->dims[0], expected_samples, file_bytes, direct);
  check_counts(path, *targets_, targets_->dims[0], expected_samples, file_bytes, direct);
  TESSERA_CHECK(layout_.samples > 0, "{}: empty shard (0 samples)", path);
  if (H5Lexists(file_.get(), "labels", H5P_DEFAULT) > 0) {
    layout_.has_labels = true;
    H5Id ds(TESSERA_CHECK_HDF5(H5Dopen2(file_.get(), "labels", H5P_DEFAULT),
                               "opening dataset `labels` in {}", path),
            H5Dclose);
    H5Id space(TESSERA_CHECK_HDF5(H5Dget_space(ds.get()), "`labels` of {}", path), H5Sclose);
    H5Id type(TESSERA_CHECK_HDF5(H5Dget_type(ds.get()), "`labels` of {}", path), H5Tclose);
    TESSERA_CHECK(H5Sget_simple_extent_ndims(space.get()) == 1 &&
                      H5Sget_simple_extent_npoints(space.get()) == layout_.samples,
                  "{}: `labels` must be 1-D with one entry per sample ({})", path, layout_.samples);
    TESSERA_CHECK(H5Tget_class(type.get()) == H5T_INTEGER, "{}: `labels` must be integers", path);
    labels_.resize(static_cast<size_t>(layout_.samples));
    TESSERA_CHECK_HDF5(
        H5Dread(ds.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels_.data()),
        "reading `labels` of {} (truncated or corrupt file?)", path);
  }
  if (auto crcs = read_sample_crcs(file_.get(), layout_.samples, path)) {
    layout_.has_sample_crc = true;
    if (verify_samples) crcs_ = std::move(*crcs);
  }
  std::string where = "shard " + path;
  hid_t root = file_.get();
  layout_.format_version = h5_read_int_attr(root, "format_version", where);
  layout_.classes = h5_read_int_attr(root, "classes", where);
  layout_.ignore_index = h5_read_int_attr(root, "ignore_index", where);
  layout_.task = h5_read_string_attr(root, "task", where);
  layout_.target_kind = h5_read_string_attr(root, "target_kind", where);
  layout_.degradation = h5_read_string_attr(root, "degradation", where);
  // The attributes' values are checked here, not only where a manifest is derived from them, so
  // that tessera-shard-probe's separate process refuses a shard whose metadata reads as garbage
  // before this process parses it (HDF5 1.10 reads some damaged variable-length strings
  // differently by heap layout: '' in one process, an endless loop in another).
  const bool label_maps = layout_.target_shape.size() == 2;
  TESSERA_CHECK(!layout_.target_kind || *layout_.target_kind == (label_maps ? "labels" : "image"),
                "{}: attribute target_kind is '{}' but `targets` has the shape of {}", path,
                escape_text(*layout_.target_kind, {true, 64}),
                label_maps ? "label maps (N,H,W)" : "images (N,H,W,C)");
  TESSERA_CHECK(!layout_.task || is_known_task(*layout_.task),
                "{}: attribute task is '{}', not a task tessera knows", path,
                escape_text(*layout_.task, {true, 64}));

  if (inputs_->direct && targets_->direct) {
    H5Id fcpl(TESSERA_CHECK_HDF5(H5Fget_create_plist(root), "{}", path), H5Pclose);
    hsize_t userblock = 0;
    TESSERA_CHECK_HDF5(H5Pget_userblock(fcpl.get(), &userblock), "{}", path);
    const uint64_t base = compat::hdf5_chunk_address_includes_userblock() ? 0 : userblock;
    inputs_->build_index(path, base, file_bytes);
    targets_->build_index(path, base, file_bytes);
    // Everything needed is in memory now: release HDF5's per-file state.
    inputs_->ds.close(path);
    targets_->ds.close(path);
    file_.close(path);
  } else {
    inputs_->direct = targets_->direct = false;
    inputs_->deflate = targets_->deflate = false;
  }
}

bool ShardFile::direct_io() const {
  return inputs_->direct && targets_->direct;
}

ShardFile::~ShardFile() = default;

void ShardFile::read_input(int64_t local, std::vector<uint8_t>& dst, const std::string& what,
                           const FileDescriptor* fd) const {
  TESSERA_CHECK(local >= 0 && local < layout_.samples, "{}: {} out of range (shard holds {})",
                path_, what, layout_.samples);
  inputs_->read(path_, local, dst, what, fd);
  if (!crcs_.empty()) {
    check_sample_crc(crcs_[static_cast<size_t>(local)].input, input_crc(dst.data(), dst.size()),
                     path_, "inputs", what);
  }
}

void ShardFile::read_target(int64_t local, std::vector<uint8_t>& dst, const std::string& what,
                            const FileDescriptor* fd) const {
  TESSERA_CHECK(local >= 0 && local < layout_.samples, "{}: {} out of range (shard holds {})",
                path_, what, layout_.samples);
  targets_->read(path_, local, dst, what, fd);
  if (!crcs_.empty()) {
    const int32_t* label = layout_.has_labels ? &labels_[static_cast<size_t>(local)] : nullptr;
    check_sample_crc(crcs_[static_cast<size_t>(local)].target,
                     target_crc(dst.data(), dst.size(), label), path_, "targets", what);
  }
}

}  // namespace tessera
