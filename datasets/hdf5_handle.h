// RAII ownership of HDF5 identifiers (files, datasets, dataspaces, types, property lists,
// attributes) and small attribute helpers shared by the shard writer and reader.
//
// H5Id owns one hid_t and closes it with the matching H5?close on destruction; move-only.
// H5Quiet silences HDF5's automatic error-stack printing for the current thread while alive
// (our TESSERA_CHECK_HDF5 errors carry the relevant HDF5 message instead) and restores the
// previous handler afterwards. Every function here throws tessera::Error on failure, naming
// `where` (the file, and the dataset or attribute).
// Thread safety: the HDF5 library here is built thread-safe (one global lock); H5Id itself is
// not shared between threads.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "common/check_hdf5.h"

namespace tessera {

class H5Id {
 public:
  using Closer = herr_t (*)(hid_t);
  H5Id() = default;
  H5Id(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~H5Id() { reset(); }
  H5Id(H5Id&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), closer_(o.closer_) {}
  H5Id& operator=(H5Id&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      closer_ = o.closer_;
    }
    return *this;
  }
  H5Id(const H5Id&) = delete;
  H5Id& operator=(const H5Id&) = delete;

  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  // Closes now; the close status is checked (a failed H5Fclose means data was not written).
  void close(const std::string& where);
  void reset() noexcept {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = H5I_INVALID_HID;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

class H5Quiet {
 public:
  H5Quiet() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~H5Quiet() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  H5Quiet(const H5Quiet&) = delete;
  H5Quiet& operator=(const H5Quiet&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// Attribute helpers on an object (file root or dataset).
bool h5_has_attr(hid_t obj, const std::string& name);
void h5_write_attr(hid_t obj, const std::string& name, int64_t value, const std::string& where);
void h5_write_attr(hid_t obj, const std::string& name, const std::string& value,
                   const std::string& where);
// Reads an integer attribute (any integer type, scalar or one element); nullopt if absent.
std::optional<int64_t> h5_read_int_attr(hid_t obj, const std::string& name,
                                        const std::string& where);
// Reads a string attribute (fixed or variable length, scalar or one element); nullopt if absent.
// A string longer than kMaxStringAttrBytes, or a fixed length beyond what the attribute stores,
// is refused (tessera::Error naming `where` and the attribute) before anything is allocated.
inline constexpr size_t kMaxStringAttrBytes = 4096;
std::optional<std::string> h5_read_string_attr(hid_t obj, const std::string& name,
                                               const std::string& where);

}  // namespace tessera
