// Helpers for the dataset format/loading tests: temporary directories, deterministic sample
// contents (so a read can be checked against the formula), dataset writing, raw HDF5 shards in
// the "foreign tool" style (no manifest, arbitrary layout), and error-message assertions.
#pragma once

#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "datasets/dataset_writer.h"
#include "datasets/hdf5_handle.h"

namespace tessera::testutil {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "tessera-data-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    char* p = mkdtemp(buf.data());
    if (!p) throw std::runtime_error("mkdtemp failed");
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string str() const { return path_.string(); }
  std::string sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

inline DatasetInfo seg_info(int h, int w, int c = 3, int classes = 1) {
  DatasetInfo i;
  i.task = "segmentation";
  i.height = i.input_height = h;
  i.width = i.input_width = w;
  i.in_channels = c;
  i.classes = classes;
  return i;
}

inline DatasetInfo image_info(const std::string& task, int h, int w, int c, int scale = 1,
                              const std::string& dtype = "uint8") {
  DatasetInfo i;
  i.task = task;
  i.height = h;
  i.width = w;
  i.input_height = h / scale;
  i.input_width = w / scale;
  i.in_channels = c;
  i.input_dtype = dtype;
  i.target_kind = "image";
  i.target_channels = c;
  i.target_dtype = dtype;
  return i;
}

// Deterministic contents: every value is a function of (sample, y, x, channel).
inline uint8_t in_value(int64_t s, int y, int x, int c) {
  return static_cast<uint8_t>((s * 37 + y * 3 + x * 5 + c * 71) % 251);
}
inline uint8_t label_value(int64_t s, int y, int x, int classes) {
  return static_cast<uint8_t>((s + y / 2 + x / 3) % (classes == 1 ? 2 : classes));
}
inline uint8_t tgt_value(int64_t s, int y, int x, int c) {
  return static_cast<uint8_t>((s * 11 + y * 7 + x * 2 + c * 13) % 253);
}

inline Sample make_sample(const DatasetInfo& i, int64_t s) {
  Sample out;
  bool fin = i.input_dtype == "float32";
  out.input =
      cv::Mat(i.input_height, i.input_width, CV_MAKETYPE(fin ? CV_32F : CV_8U, i.in_channels));
  for (int y = 0; y < i.input_height; ++y) {
    for (int x = 0; x < i.input_width; ++x) {
      for (int c = 0; c < i.in_channels; ++c) {
        uint8_t v = in_value(s, y, x, c);
        if (fin) {
          out.input.ptr<float>(y)[x * i.in_channels + c] = v / 255.0f;
        } else {
          out.input.ptr<uint8_t>(y)[x * i.in_channels + c] = v;
        }
      }
    }
  }
  if (i.target_kind == "labels") {
    out.target = cv::Mat(i.height, i.width, CV_8UC1);
    for (int y = 0; y < i.height; ++y) {
      for (int x = 0; x < i.width; ++x)
        out.target.at<uint8_t>(y, x) = label_value(s, y, x, i.classes);
    }
  } else {
    bool tf = i.target_dtype == "float32";
    int tc = i.target_channels;
    out.target = cv::Mat(i.height, i.width, CV_MAKETYPE(tf ? CV_32F : CV_8U, tc));
    for (int y = 0; y < i.height; ++y) {
      for (int x = 0; x < i.width; ++x) {
        for (int c = 0; c < tc; ++c) {
          uint8_t v = tgt_value(s, y, x, c);
          if (tf) {
            out.target.ptr<float>(y)[x * tc + c] = v / 255.0f;
          } else {
            out.target.ptr<uint8_t>(y)[x * tc + c] = v;
          }
        }
      }
    }
  }
  out.label = static_cast<int>(s % 3 == 0);
  return out;
}

inline void write_dataset(const std::string& dir, const DatasetInfo& info, int64_t n,
                          int64_t per_shard, int gzip = 0) {
  DatasetWriter w(dir, info, per_shard, gzip);
  for (int64_t s = 0; s < n; ++s) w.add(make_sample(info, s));
  w.finish();
}

// A raw HDF5 dataset for hand-made ("foreign") shards. chunk_one: chunk (1, sample dims).
struct RawDs {
  std::string name;
  std::vector<hsize_t> dims;
  hid_t file_type;  // e.g. H5T_STD_U8LE, H5T_IEEE_F32LE, H5T_STD_I64LE
  hid_t mem_type;   // matching native type of `data`
  const void* data = nullptr;
  bool chunk_one = false;
  int gzip = 0;
};

inline void write_raw_shard(const std::string& path, const std::vector<RawDs>& sets,
                            const std::vector<std::pair<std::string, std::string>>& str_attrs = {},
                            const std::vector<std::pair<std::string, int64_t>>& int_attrs = {}) {
  H5Id f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  ASSERT_TRUE(f);
  for (const auto& d : sets) {
    H5Id space(H5Screate_simple(static_cast<int>(d.dims.size()), d.dims.data(), nullptr), H5Sclose);
    H5Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    if (d.chunk_one) {
      std::vector<hsize_t> chunk = d.dims;
      chunk[0] = 1;
      H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
      if (d.gzip) H5Pset_deflate(dcpl.get(), static_cast<unsigned>(d.gzip));
    }
    H5Id ds(H5Dcreate2(f.get(), d.name.c_str(), d.file_type, space.get(), H5P_DEFAULT, dcpl.get(),
                       H5P_DEFAULT),
            H5Dclose);
    ASSERT_TRUE(ds);
    if (d.data) {
      ASSERT_GE(H5Dwrite(ds.get(), d.mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, d.data), 0);
    }
  }
  for (const auto& [k, v] : str_attrs) h5_write_attr(f.get(), k, v, path);
  for (const auto& [k, v] : int_attrs) h5_write_attr(f.get(), k, v, path);
}

// Runs fn, expects a tessera::Error whose message contains every one of `parts`.
// The message of the tessera::Error `f` throws, or "" when it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

inline void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const auto& p : parts) {
      EXPECT_NE(msg.find(p), std::string::npos) << "missing '" << p << "' in: " << msg;
    }
    return;
  }
  ADD_FAILURE() << "expected a tessera::Error";
}

// File offset and stored size of the chunk holding sample `index` of dataset `name`.
inline std::pair<int64_t, int64_t> chunk_location(const std::string& path, const std::string& name,
                                                  int64_t index) {
  H5Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  H5Id ds(H5Dopen2(f.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
  H5Id space(H5Dget_space(ds.get()), H5Sclose);
  std::vector<hsize_t> off(static_cast<size_t>(H5Sget_simple_extent_ndims(space.get())), 0);
  off[0] = static_cast<hsize_t>(index);
  unsigned mask = 0;
  haddr_t addr = 0;
  hsize_t size = 0;
  if (H5Dget_chunk_info_by_coord(ds.get(), off.data(), &mask, &addr, &size) < 0) {
    throw std::runtime_error("H5Dget_chunk_info_by_coord failed");
  }
  return {static_cast<int64_t>(addr), static_cast<int64_t>(size)};
}

inline void flip_byte(const std::string& path, int64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(offset);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5A);
  f.seekp(offset);
  f.write(&c, 1);
}

}  // namespace tessera::testutil
