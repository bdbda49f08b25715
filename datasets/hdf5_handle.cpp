#include "datasets/hdf5_handle.h"

#include <vector>

namespace tessera {

void H5Id::close(const std::string& where) {
  if (id_ < 0) return;
  hid_t id = std::exchange(id_, H5I_INVALID_HID);
  TESSERA_CHECK_HDF5(closer_(id), "closing {}", where);
}

bool h5_has_attr(hid_t obj, const std::string& name) {
  H5Quiet quiet;
  return H5Aexists(obj, name.c_str()) > 0;
}

namespace {

H5Id open_attr(hid_t obj, const std::string& name, const std::string& where) {
  H5Id attr(TESSERA_CHECK_HDF5(H5Aopen(obj, name.c_str(), H5P_DEFAULT),
                               "opening attribute '{}' of {}", name, where),
            H5Aclose);
  H5Id space(TESSERA_CHECK_HDF5(H5Aget_space(attr.get()), "attribute '{}' of {}", name, where),
             H5Sclose);
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  TESSERA_CHECK(n == 1, "{}: attribute '{}' must hold one value, it holds {}", where, name, n);
  return attr;
}

}  // namespace

void h5_write_attr(hid_t obj, const std::string& name, int64_t value, const std::string& where) {
  H5Quiet quiet;
  H5Id space(TESSERA_CHECK_HDF5(H5Screate(H5S_SCALAR), "{}", where), H5Sclose);
  H5Id attr(TESSERA_CHECK_HDF5(
                H5Acreate2(obj, name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                "creating attribute '{}' in {}", name, where),
            H5Aclose);
  TESSERA_CHECK_HDF5(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value), "writing attribute '{}' in {}",
                     name, where);
}

void h5_write_attr(hid_t obj, const std::string& name, const std::string& value,
                   const std::string& where) {
  H5Quiet quiet;
  H5Id type(TESSERA_CHECK_HDF5(H5Tcopy(H5T_C_S1), "{}", where), H5Tclose);
  TESSERA_CHECK_HDF5(H5Tset_size(type.get(), H5T_VARIABLE), "{}", where);
  TESSERA_CHECK_HDF5(H5Tset_cset(type.get(), H5T_CSET_UTF8), "{}", where);
  H5Id space(TESSERA_CHECK_HDF5(H5Screate(H5S_SCALAR), "{}", where), H5Sclose);
  H5Id attr(TESSERA_CHECK_HDF5(
                H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                "creating attribute '{}' in {}", name, where),
            H5Aclose);
  const char* p = value.c_str();
  TESSERA_CHECK_HDF5(H5Awrite(attr.get(), type.get(), &p), "writing attribute '{}' in {}", name,
                     where);
}

std::optional<int64_t> h5_read_int_attr(hid_t obj, const std::string& name,
                                        const std::string& where) {
  if (!h5_has_attr(obj, name)) return std::nullopt;
  H5Quiet quiet;
  H5Id attr = open_attr(obj, name, where);
  H5Id type(TESSERA_CHECK_HDF5(H5Aget_type(attr.get()), "{}", where), H5Tclose);
  TESSERA_CHECK(H5Tget_class(type.get()) == H5T_INTEGER,
                "{}: attribute '{}' must be an integer (h5py: f.attrs['{}'] = 3)", where, name,
                name);
  int64_t v = 0;
  TESSERA_CHECK_HDF5(H5Aread(attr.get(), H5T_NATIVE_INT64, &v), "reading attribute '{}' of {}",
                     name, where);
  return v;
}

std::optional<std::string> h5_read_string_attr(hid_t obj, const std::string& name,
                                               const std::string& where) {
  if (!h5_has_attr(obj, name)) return std::nullopt;
  H5Quiet quiet;
  H5Id attr = open_attr(obj, name, where);
  H5Id type(TESSERA_CHECK_HDF5(H5Aget_type(attr.get()), "{}", where), H5Tclose);
  TESSERA_CHECK(H5Tget_class(type.get()) == H5T_STRING,
                "{}: attribute '{}' must be a string (h5py: f.attrs['{}'] = 'text')", where, name,
                name);
  if (H5Tis_variable_str(type.get()) > 0) {
    H5Id mem(TESSERA_CHECK_HDF5(H5Tcopy(H5T_C_S1), "{}", where), H5Tclose);
    TESSERA_CHECK_HDF5(H5Tset_size(mem.get(), H5T_VARIABLE), "{}", where);
    TESSERA_CHECK_HDF5(H5Tset_cset(mem.get(), H5Tget_cset(type.get())), "{}", where);
    char* p = nullptr;
    TESSERA_CHECK_HDF5(H5Aread(attr.get(), mem.get(), &p), "reading attribute '{}' of {}", name,
                       where);
    std::string out = p ? p : "";
    if (p) H5free_memory(p);
    TESSERA_CHECK(out.size() <= kMaxStringAttrBytes,
                  "{}: attribute '{}' is a {}-byte string (at most {} allowed)", where, name,
                  out.size(), kMaxStringAttrBytes);
    return out;
  }
  // A fixed-length string: its length comes from the file. Bounded by what the attribute
  // stores and by kMaxStringAttrBytes before it sizes the buffer.
  const size_t n = H5Tget_size(type.get());
  const hsize_t stored = H5Aget_storage_size(attr.get());
  TESSERA_CHECK(n > 0 && n <= kMaxStringAttrBytes && n <= stored,
                "{}: attribute '{}' claims a {}-byte string ({} bytes stored; at most {} "
                "allowed): corrupt or hostile file",
                where, name, n, static_cast<uint64_t>(stored), kMaxStringAttrBytes);
  std::vector<char> buf(n + 1, '\0');
  TESSERA_CHECK_HDF5(H5Aread(attr.get(), type.get(), buf.data()), "reading attribute '{}' of {}",
                     name, where);
  std::string out(buf.data());  // stops at the first NUL (null- or space-padded fixed strings)
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace tessera
