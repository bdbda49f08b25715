// The raw NIfTI header bounds checked before nifticlib parses a file (datasets/nifti_raw_header.h),
// with the input tests/fuzz/fuzz_nifti found: a NIfTI-2 header with dim[0] = 768 and a bad
// datatype, on which nifticlib itself overflows a stack buffer. Control: that file, handed to
// nifticlib in new processes without our check, kills some; with dim[0] = 3 none dies.
#include <gtest/gtest.h>
#include <nifti2_io.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "common/error.h"
#include "datasets/nifti_raw_header.h"
#include "datasets/nifti_volume.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

std::string error_of(const std::string& path) {
  try {
    check_raw_nifti_header(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

template <typename T>
void put(std::vector<unsigned char>& b, size_t offset, T v, bool swap = false) {
  std::array<unsigned char, sizeof(T)> bytes{};
  std::memcpy(bytes.data(), &v, sizeof(T));
  if (swap) std::reverse(bytes.begin(), bytes.end());
  std::memcpy(b.data() + offset, bytes.data(), sizeof(T));
}

// A NIfTI-1 single-file header (348 bytes + the 4-byte extension flag) of an nx x ny x nz uint8
// volume (default 4x3x2), then `data` voxel bytes (default all of them), zero.
std::vector<unsigned char> nifti1(bool swap = false, int16_t nx = 4, int16_t ny = 3, int16_t nz = 2,
                                  int64_t data = -1) {
  const int64_t voxels = int64_t{nx} * ny * nz;
  std::vector<unsigned char> b(static_cast<size_t>(352 + (data < 0 ? voxels : data)), 0);
  put<int32_t>(b, 0, 348, swap);
  const int16_t dim[8] = {3, nx, ny, nz, 1, 1, 1, 1};
  for (size_t d = 0; d < 8; ++d) put<int16_t>(b, 40 + 2 * d, dim[d], swap);
  put<int16_t>(b, 70, NIFTI_TYPE_UINT8, swap);
  put<int16_t>(b, 72, 8, swap);
  for (size_t d = 0; d < 4; ++d) put<float>(b, 76 + 4 * d, 1.0f, swap);
  put<float>(b, 108, 352.0f, swap);
  std::memcpy(b.data() + 344, "n+1\0", 4);
  return b;
}

// The input fuzz_nifti found, minimised (every other byte zero): a NIfTI-2 header with datatype
// 11024 and dim = {dim0, 768, 0, ...}, 546 bytes.
std::vector<unsigned char> hostile_nifti2(int64_t dim0) {
  std::vector<unsigned char> b(546, 0);
  put<int32_t>(b, 0, 540);
  std::memcpy(b.data() + 4, "n+2\0\r\n\032\n", 8);
  put<int16_t>(b, 12, 11024);
  put<int64_t>(b, 16, dim0);
  put<int64_t>(b, 24, 768);
  return b;
}

struct TempDir {
  fs::path p = fs::temp_directory_path() / ("tessera-nifti-header-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(p); }
  ~TempDir() { fs::remove_all(p); }
  std::string write(const std::string& name, const std::vector<unsigned char>& b) const {
    const std::string path = (p / name).string();
    if (name.size() > 3 && name.substr(name.size() - 3) == ".gz") {
      gzFile f = gzopen(path.c_str(), "wb");
      gzwrite(f, b.data(), static_cast<unsigned>(b.size()));
      gzclose(f);
    } else {
      std::ofstream(path, std::ios::binary)
          .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    }
    return path;
  }
};

// The control's child: when this executable starts with TESSERA_NIFTI_CONTROL_FILE set, it only
// hands that file to nifticlib and exits 0, before GoogleTest runs.
const bool kControlChild = [] {
  const char* file = std::getenv("TESSERA_NIFTI_CONTROL_FILE");
  if (file == nullptr) return false;
  nifti_set_debug_level(0);
  nifti_image* nim = nifti_image_read(file, 0);
  if (nim != nullptr) nifti_image_free(nim);
  std::_Exit(0);
}();

// nifticlib alone on `path`, each time in a new process (fork + exec of this executable, so that
// the address layout is drawn anew: nifticlib's overflow on the fuzz input kills a process in
// about 6 layouts of 10, and a forked child keeps its parent's). How many of `tries` did not
// exit 0 (a signal, or the sanitizer runtime's exit on a SEGV).
int nifticlib_deaths(const std::string& path, int tries) {
  int deaths = 0;
  for (int i = 0; i < tries; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::setenv("TESSERA_NIFTI_CONTROL_FILE", path.c_str(), 1);
      char* const argv[] = {const_cast<char*>("nifti-control"), nullptr};
      ::execv("/proc/self/exe", argv);
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 127) << "exec failed";
    deaths += WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
  }
  return deaths;
}

TEST(NiftiRawHeader, TheFuzzFoundNifti2HeaderIsRefusedBeforeNifticlibParsesIt) {
  TempDir dir;
  for (const std::string name : {"hostile.nii", "hostile.nii.gz"}) {
    const std::string path = dir.write(name, hostile_nifti2(768));
    EXPECT_NE(error_of(path).find(name + ": NIfTI-2 header: dim[0] (the number of dimensions) "
                                         "is 768; expected 1..7"),
              std::string::npos)
        << error_of(path);
    // Through the reader every user path takes (tessera pack, predict).
    try {
      NiftiVolume::open(path);
      ADD_FAILURE() << "opened " << path;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("dim[0]"), std::string::npos) << e.what();
    }
  }
}

TEST(NiftiRawHeader, ControlNifticlibAloneDiesOnThatHeaderAndNotOnABoundedOne) {
  TempDir dir;
  const int deaths = nifticlib_deaths(dir.write("hostile.nii", hostile_nifti2(768)), 16);
  std::cout << "nifticlib alone on the fuzz input: " << deaths << " of 16 processes died\n";
  EXPECT_GE(deaths, 1)
      << "nifticlib no longer dies on the fuzz input in 16 processes: the bound stays right, but "
         "this control shows nothing";
  const std::string bounded = dir.write("bounded.nii", hostile_nifti2(3));
  EXPECT_EQ(nifticlib_deaths(bounded, 8), 0);
  EXPECT_NE(error_of(bounded).find("bounded.nii: NIfTI-2 header: dim[2] (an extent) is 0; "
                                   "expected 1..16384"),
            std::string::npos)
      << error_of(bounded);
}

TEST(NiftiRawHeader, ValidHeadersPassInEitherByteOrderPlainOrGzip) {
  TempDir dir;
  EXPECT_EQ(error_of(dir.write("le.nii", nifti1())), "");
  EXPECT_EQ(error_of(dir.write("be.nii", nifti1(true))), "");
  EXPECT_EQ(error_of(dir.write("le.nii.gz", nifti1())), "");
  const NiftiVolume v = NiftiVolume::open(dir.write("be2.nii", nifti1(true)));
  EXPECT_EQ(v.shape(), (std::array<int64_t, 3>{4, 3, 2}));
  // Not NIfTI at all (and too short for a sizeof_hdr): left to nifticlib, which refuses it.
  EXPECT_EQ(error_of(dir.write("text.nii", {'h', 'e', 'l', 'l', 'o', ' ', 'x', 'y'})), "");
  EXPECT_EQ(error_of(dir.write("tiny.nii", {1, 2})), "");
}

TEST(NiftiRawHeader, EachBoundIsRefusedNamingTheField) {
  TempDir dir;
  struct Case {
    const char* what;
    size_t offset;
    int kind;  // 0 int16, 1 float
    double value;
    const char* expect;
  };
  const Case cases[] = {
      {"dim0", 40, 0, 0, "dim[0] (the number of dimensions) is 0; expected 1..7"},
      {"dim0big", 40, 0, 8, "dim[0] (the number of dimensions) is 8"},
      {"dim2", 44, 0, 0, "dim[2] (an extent) is 0; expected 1..16384"},
      {"dim1neg", 42, 0, -5, "dim[1] (an extent) is -5"},
      {"dim1big", 42, 0, 20000, "dim[1] (an extent) is 20000"},
      {"offneg", 108, 1, -1, "vox_offset (where the voxels start) is -1"},
      {"offnan", 108, 1, NAN, "vox_offset (where the voxels start) is nan"},
      {"offbig", 108, 1, 1e13, "vox_offset (where the voxels start) is 9999999827968"},
  };
  for (const Case& c : cases) {
    for (bool swap : {false, true}) {
      std::vector<unsigned char> b = nifti1(swap);
      if (c.kind == 0) put<int16_t>(b, c.offset, static_cast<int16_t>(c.value), swap);
      if (c.kind == 1) put<float>(b, c.offset, static_cast<float>(c.value), swap);
      const std::string name = std::string(c.what) + (swap ? "-be.nii" : ".nii");
      const std::string err = error_of(dir.write(name, b));
      EXPECT_NE(err.find(name + ": NIfTI-1 header: " + c.expect), std::string::npos)
          << c.what << " swap=" << swap << ": " << err;
    }
  }
  std::vector<unsigned char> cut = nifti1();
  cut.resize(200);
  EXPECT_NE(error_of(dir.write("cut.nii.gz", cut))
                .find("cut.nii.gz: the file ends inside its NIfTI-1 header (200 of 348 bytes)"),
            std::string::npos);
}

TEST(NiftiRawHeader, AGzipVolumeShorterThanItsHeaderIsRefusedBeforeTheVoxelsAreAllocated) {
  TempDir dir;
  // 8192 x 8192 x 2 uint8 = 128 MiB described, 24 voxel bytes present: nifticlib would allocate
  // the 128 MiB first (a 600-byte file could ask for 4 GiB the same way).
  const std::string path = dir.write("short.nii.gz", nifti1(false, 8192, 8192, 2, 24));
  EXPECT_EQ(decompressed_bytes_up_to(path, 1 << 30), 352 + 24);
  try {
    NiftiVolume::open(path);
    ADD_FAILURE() << "opened " << path;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("short.nii.gz: its gzip stream holds 376 bytes but its "
                                         "header describes 134218080 bytes"),
              std::string::npos)
        << e.what();
  }
  // Control: the same size, complete (80 MiB of zero voxels, above the 64 MiB threshold), opens.
  const std::string whole = dir.write("whole.nii.gz", nifti1(false, 8192, 5120, 2));
  EXPECT_EQ(decompressed_bytes_up_to(whole, int64_t{1} << 40), 352 + 8192 * 5120 * 2);
  const NiftiVolume v = NiftiVolume::open(whole);
  EXPECT_EQ(v.shape(), (std::array<int64_t, 3>{8192, 5120, 2}));
}

}  // namespace
}  // namespace tessera
