#include "datasets/integrity.h"

#include <filesystem>

#include "common/error.h"
#include "datasets/checksum.h"
#include "datasets/hdf5_handle.h"

namespace tessera {

namespace fs = std::filesystem;

uint32_t input_crc(const uint8_t* data, size_t n) {
  return crc32c(0, data, n);
}

uint32_t target_crc(const uint8_t* data, size_t n, const int32_t* label) {
  uint32_t c = crc32c(0, data, n);
  if (label) {
    const uint32_t v = static_cast<uint32_t>(*label);
    const uint8_t le[4] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8),
                           static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 24)};
    c = crc32c(c, le, sizeof le);
  }
  return c;
}

void write_sample_crcs(hid_t file, const std::vector<SampleCrc>& crcs, const std::string& where) {
  static_assert(sizeof(SampleCrc) == 2 * sizeof(uint32_t), "SampleCrc is two packed uint32");
  H5Quiet quiet;
  hsize_t dims[2] = {static_cast<hsize_t>(crcs.size()), 2};
  H5Id space(TESSERA_CHECK_HDF5(H5Screate_simple(2, dims, nullptr), "{}", where), H5Sclose);
  H5Id ds(TESSERA_CHECK_HDF5(H5Dcreate2(file, kSampleCrcName, H5T_STD_U32LE, space.get(),
                                        H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                             "creating `{}` in {}", kSampleCrcName, where),
          H5Dclose);
  TESSERA_CHECK_HDF5(
      H5Dwrite(ds.get(), H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, crcs.data()),
      "writing `{}` in {} (disk full?)", kSampleCrcName, where);
}

std::optional<std::vector<SampleCrc>> read_sample_crcs(hid_t file, int64_t samples,
                                                       const std::string& path) {
  H5Quiet quiet;
  if (H5Lexists(file, kSampleCrcName, H5P_DEFAULT) <= 0) return std::nullopt;
  H5Id ds(TESSERA_CHECK_HDF5(H5Dopen2(file, kSampleCrcName, H5P_DEFAULT),
                             "opening dataset `{}` in {}", kSampleCrcName, path),
          H5Dclose);
  H5Id space(TESSERA_CHECK_HDF5(H5Dget_space(ds.get()), "`{}` of {}", kSampleCrcName, path),
             H5Sclose);
  H5Id type(TESSERA_CHECK_HDF5(H5Dget_type(ds.get()), "`{}` of {}", kSampleCrcName, path),
            H5Tclose);
  hsize_t dims[2] = {0, 0};
  const bool shape_ok = H5Sget_simple_extent_ndims(space.get()) == 2 &&
                        H5Sget_simple_extent_dims(space.get(), dims, nullptr) == 2 &&
                        dims[0] == static_cast<hsize_t>(samples) && dims[1] == 2;
  TESSERA_CHECK(shape_ok && H5Tget_class(type.get()) == H5T_INTEGER && H5Tget_size(type.get()) == 4,
                "{}: `{}` must be ({},2) uint32 (one input and one target CRC32C per sample; "
                "docs/data-format.md)",
                path, kSampleCrcName, samples);
  // `samples` is bounded by the file size (ShardFile's check_counts) before this allocation.
  std::vector<SampleCrc> out(static_cast<size_t>(samples));
  TESSERA_CHECK_HDF5(
      H5Dread(ds.get(), H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()),
      "reading `{}` of {} (truncated or corrupt file?)", kSampleCrcName, path);
  return out;
}

void check_sample_crc(uint32_t want, uint32_t got, const std::string& path, const char* dataset,
                      const std::string& what) {
  TESSERA_CHECK(got == want,
                "{}: `{}` of {} is corrupt: its bytes have CRC32C {} but the shard's `{}` says {} "
                "(a flipped or overwritten byte on disk; restore the file or repack the dataset)",
                path, dataset, what, crc32c_hex(got), kSampleCrcName, crc32c_hex(want));
}

std::vector<std::string> verify_shard_checksums(const std::string& dir, const Manifest& m) {
  std::vector<std::string> problems;
  if (m.derived) {
    problems.push_back(fmt::format(
        "dataset {} has no manifest.json, so there are no checksums to verify (write one with "
        "`tessera inspect --write-manifest {}`)",
        dir, dir));
    return problems;
  }
  for (const auto& e : m.shards) {
    const std::string path = (fs::path(dir) / e.file).string();
    if (e.crc32c.empty()) {
      problems.push_back(fmt::format("{}: no checksum in the manifest", path));
      continue;
    }
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      problems.push_back(fmt::format("{}: listed in the manifest but missing", path));
      continue;
    }
    FileChecksum sum = crc32c_file(path);
    if (crc32c_hex(sum.crc) != e.crc32c || (e.bytes > 0 && sum.bytes != e.bytes)) {
      problems.push_back(fmt::format(
          "{}: checksum mismatch: CRC32C {} ({} bytes) but the manifest says {} ({} bytes)", path,
          crc32c_hex(sum.crc), sum.bytes, e.crc32c, e.bytes));
    }
  }
  return problems;
}

Manifest write_derived_manifest(const std::string& dir) {
  std::error_code ec;
  TESSERA_CHECK(!fs::exists(fs::path(dir) / kManifestName, ec),
                "{} already has a {}: refusing to replace it (delete it first to derive a new one "
                "from the shards)",
                dir, kManifestName);
  Manifest m = derive_manifest(dir);
  for (auto& e : m.shards) {
    FileChecksum sum = crc32c_file((fs::path(dir) / e.file).string());
    e.bytes = sum.bytes;
    e.crc32c = crc32c_hex(sum.crc);
  }
  m.derived = false;
  write_manifest(dir, m);
  return m;
}

}  // namespace tessera
