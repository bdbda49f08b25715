// NIfTI volumes (datasets/nifti_volume.h, datasets/pack_volumes.h): volumes written here through
// nifticlib are read back with their scaling, affine and slice orientation; damaged, 4-D,
// truncated and non-finite volumes are refused naming the file (and voxel); the intensity
// windows and label conversion are exact; `pack` of image + label volumes stores every slice
// through the window, splits by volume and records each volume in the manifest's `sources`.
// The e2e test tests/e2e/nifti.sh does the same through `tessera pack` and `train` with volumes
// written by nibabel.
#include <nifti2_io.h>

#include <fstream>
#include <iostream>
#include <iterator>

#include "data_test_util.h"
#include "datasets/dataset_reader.h"
#include "datasets/manifest.h"
#include "datasets/pack.h"
#include "datasets/pack_volumes.h"

namespace tessera {
namespace {

using testutil::error_of;
using testutil::TempDir;
namespace fs = std::filesystem;

// Writes an nx x ny x nz volume of `datatype` whose stored value at (i, j, k) is f(i, j, k).
struct VolumeSpec {
  int64_t nx = 6, ny = 5, nz = 4, nt = 1;
  int datatype = NIFTI_TYPE_INT16;
  double slope = 0.0, inter = 0.0;
  bool sform = true;
  double spacing = 0.8;
};
template <typename F>
void write_volume(const std::string& path, const VolumeSpec& v, F f) {
  int64_t dims[8] = {v.nt > 1 ? 4 : 3, v.nx, v.ny, v.nz, v.nt, 1, 1, 1};
  nifti_image* nim = nifti_make_new_nim(dims, v.datatype, 1);
  ASSERT_NE(nim, nullptr);
  for (int64_t n = 0; n < nim->nvox; ++n) {
    const int64_t i = n % v.nx, j = (n / v.nx) % v.ny, k = (n / (v.nx * v.ny)) % v.nz;
    const double x = f(i, j, k);
    switch (v.datatype) {
      case NIFTI_TYPE_INT16:
        static_cast<int16_t*>(nim->data)[n] = static_cast<int16_t>(x);
        break;
      case NIFTI_TYPE_UINT8:
        static_cast<uint8_t*>(nim->data)[n] = static_cast<uint8_t>(x);
        break;
      case NIFTI_TYPE_FLOAT64:
        static_cast<double*>(nim->data)[n] = x;
        break;
      default:
        static_cast<float*>(nim->data)[n] = static_cast<float>(x);
        break;
    }
  }
  nim->scl_slope = v.slope;
  nim->scl_inter = v.inter;
  nim->pixdim[1] = nim->dx = v.spacing;
  nim->pixdim[2] = nim->dy = v.spacing;
  nim->pixdim[3] = nim->dz = 2.5;
  if (v.sform) {
    nim->sform_code = NIFTI_XFORM_SCANNER_ANAT;
    nim->sto_xyz = nifti_dmat44{
        {{-v.spacing, 0, 0, 90}, {0, v.spacing, 0, -120}, {0, 0, 2.5, 30}, {0, 0, 0, 1}}};
  }
  ASSERT_EQ(nifti_set_filenames(nim, path.c_str(), 0, 1), 0);
  nifti_image_write(nim);
  nifti_image_free(nim);
  ASSERT_TRUE(fs::exists(path)) << path;
}
double code(int64_t i, int64_t j, int64_t k) {
  return static_cast<double>(i + 10 * j + 100 * k);
}

TEST(NiftiVolume, ReadsScaledValuesAffineAndSlicesInStorageOrder) {
  TempDir dir;
  VolumeSpec spec;
  spec.slope = 2.0;
  spec.inter = -1024.0;
  write_volume(dir.sub("ct.nii.gz"), spec, code);
  const NiftiVolume v = NiftiVolume::open(dir.sub("ct.nii.gz"));
  EXPECT_EQ(v.shape(), (std::array<int64_t, 3>{6, 5, 4}));
  EXPECT_EQ(v.datatype(), "INT16");
  EXPECT_EQ(v.affine_from(), "sform");
  EXPECT_FLOAT_EQ(v.affine()[0][0], -0.8f);  // NIfTI-1 stores the sform as float32
  EXPECT_DOUBLE_EQ(v.affine()[1][3], -120.0);
  EXPECT_DOUBLE_EQ(v.spacing()[2], 2.5);
  // Axis k: rows j, columns i; axis j: rows k, columns i; axis i: rows k, columns j.
  const cv::Mat k2 = v.slice(2, 2), j3 = v.slice(1, 3), i4 = v.slice(0, 4);
  ASSERT_EQ(k2.size(), cv::Size(6, 5));
  ASSERT_EQ(j3.size(), cv::Size(6, 4));
  ASSERT_EQ(i4.size(), cv::Size(5, 4));
  EXPECT_DOUBLE_EQ(k2.at<double>(3, 1), 2.0 * code(1, 3, 2) - 1024.0);
  EXPECT_DOUBLE_EQ(j3.at<double>(2, 5), 2.0 * code(5, 3, 2) - 1024.0);
  EXPECT_DOUBLE_EQ(i4.at<double>(1, 3), 2.0 * code(4, 3, 1) - 1024.0);
  // Control: a volume without sform or qform gets the pixdim diagonal.
  spec.sform = false;
  write_volume(dir.sub("plain.nii"), spec, code);
  const NiftiVolume p = NiftiVolume::open(dir.sub("plain.nii"));
  EXPECT_EQ(p.affine_from(), "pixdim");
  EXPECT_FLOAT_EQ(p.affine()[0][0], 0.8f);
  EXPECT_DOUBLE_EQ(p.affine()[0][3], 0.0);
}

TEST(NiftiVolume, RefusesWhatItCannotReadNamingTheFile) {
  TempDir dir;
  VolumeSpec four;
  four.nt = 2;
  write_volume(dir.sub("series.nii"), four, code);
  EXPECT_NE(error_of([&] {
              NiftiVolume::open(dir.sub("series.nii"));
            }).find("series.nii: dimension 4 has extent 2: a time series"),
            std::string::npos);
  write_volume(dir.sub("whole.nii"), VolumeSpec{}, code);
  fs::copy_file(dir.sub("whole.nii"), dir.sub("cut.nii"));
  fs::resize_file(dir.sub("cut.nii"), fs::file_size(dir.sub("whole.nii")) - 10);
  EXPECT_NE(
      error_of([&] { NiftiVolume::open(dir.sub("cut.nii")); }).find("cut.nii: the file holds"),
      std::string::npos);
  std::ofstream(dir.sub("text.nii"))
      << "not a volume at all, but long enough to be read as one" << std::string(400, 'x');
  EXPECT_NE(error_of([&] {
              NiftiVolume::open(dir.sub("text.nii"));
            }).find("text.nii: not a NIfTI volume nifticlib can read"),
            std::string::npos);
  // A value the header's scaling takes beyond double: refused naming the voxel.
  VolumeSpec f;
  f.datatype = NIFTI_TYPE_FLOAT64;
  f.slope = 10.0;
  write_volume(dir.sub("inf.nii"), f, [](int64_t i, int64_t j, int64_t k) {
    return i == 2 && j == 1 && k == 3 ? 1e308 : 1.0;
  });
  const NiftiVolume inf = NiftiVolume::open(dir.sub("inf.nii"));
  EXPECT_NE(error_of([&] { inf.slice(2, 3); }).find("voxel (i=2, j=1, k=3) is not finite"),
            std::string::npos);
  EXPECT_NO_THROW(inf.slice(2, 2));  // control: a slice without that voxel
  // NaN stored in a float volume: nifticlib reads it as 0 (its documented behaviour).
  f.slope = 0.0;
  write_volume(dir.sub("nan.nii"), f, [](int64_t i, int64_t j, int64_t k) {
    return i == 2 && j == 1 && k == 3 ? std::nan("") : 1.0;
  });
  EXPECT_EQ(NiftiVolume::open(dir.sub("nan.nii")).slice(2, 3).at<double>(1, 2), 0.0);
}

// Every single-bit flip of the 352 header bytes (348 + the extension flag) and every truncation
// of a small .nii: each copy is either read (then every slice along every axis) or refused with
// a tessera::Error; nothing else escapes, nothing crashes. Counted, and the control: the intact
// file reads.
TEST(NiftiVolume, EveryHeaderBitFlipAndTruncationIsReadOrRefusedCleanly) {
  TempDir dir;
  VolumeSpec spec;
  spec.slope = 0.5;
  write_volume(dir.sub("v.nii"), spec, code);
  std::ifstream in(dir.sub("v.nii"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 352u);
  auto attempt = [&](const std::string& data) {
    std::ofstream(dir.sub("c.nii"), std::ios::binary | std::ios::trunc) << data;
    try {
      const NiftiVolume v = NiftiVolume::open(dir.sub("c.nii"));
      for (int axis = 0; axis < 3; ++axis) {
        for (int64_t s = 0; s < v.slices(axis); ++s) v.slice(axis, s);
      }
      return true;
    } catch (const Error&) {
      return false;
    }
  };
  ASSERT_TRUE(attempt(bytes));  // control
  int read = 0, refused = 0;
  for (size_t byte = 0; byte < 352; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string copy = bytes;
      copy[byte] = static_cast<char>(copy[byte] ^ (1 << bit));
      (attempt(copy) ? read : refused)++;
    }
  }
  for (size_t n = 0; n < bytes.size(); n += 7) (attempt(bytes.substr(0, n)) ? read : refused)++;
  EXPECT_EQ(read + refused, 352 * 8 + static_cast<int>((bytes.size() + 6) / 7));
  EXPECT_GT(refused, 100);  // the sizes, types and magic are checked
  std::cout << "header bit flips and truncations: " << read << " read, " << refused
            << " refused with an error\n";
}

TEST(NiftiVolume, IntensityWindowsAndLabelsAreExact) {
  EXPECT_NE(error_of([] { parse_intensity("window:5,1"); }).find("below the second"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_intensity("percentile:1,101"); }).find("0..100"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_intensity("ct"); }).find("expected window:LO,HI"),
            std::string::npos);
  TempDir dir;
  VolumeSpec spec;
  spec.nx = 10, spec.ny = 10, spec.nz = 1;
  write_volume(dir.sub("ramp.nii"), spec, [](int64_t i, int64_t j, int64_t) { return i + 10 * j; });
  const NiftiVolume v = NiftiVolume::open(dir.sub("ramp.nii"));  // values 0..99
  const Window p = volume_window(parse_intensity("percentile:0.5,99.5"), v);
  EXPECT_DOUBLE_EQ(p.lo, 0.495);  // numpy.percentile(range(100), 0.5)
  EXPECT_DOUBLE_EQ(p.hi, 98.505);
  const Window z = volume_window(parse_intensity("zscore:2"), v);
  EXPECT_NEAR(z.lo, 49.5 - 2 * std::sqrt(833.25), 1e-9);
  const cv::Mat u = window_to_u16(v.slice(2, 0), Window{10.0, 20.0});
  EXPECT_EQ(u.at<uint16_t>(0, 5), 0);      // 5 clipped to lo
  EXPECT_EQ(u.at<uint16_t>(1, 5), 32768);  // 15: round(0.5 * 65535)
  EXPECT_EQ(u.at<uint16_t>(2, 5), 65535);  // 25 clipped to hi
  LabelMapOptions lo;
  lo.classes = 3;
  cv::Mat labels(2, 2, CV_64FC1, cv::Scalar(1.0));
  EXPECT_EQ(labels_to_u8(labels, lo, "l.nii", 2, 0).at<uint8_t>(1, 1), 1);
  labels.at<double>(1, 0) = 7.0;
  EXPECT_NE(error_of([&] { labels_to_u8(labels, lo, "l.nii", 2, 4); })
                .find("l.nii: 1 voxel(s) of slice k=4 hold label values outside 0..2 (first: 7 at "
                      "voxel (i=0, j=1, k=4))"),
            std::string::npos);
  lo.ignore_value = 7;
  EXPECT_EQ(labels_to_u8(labels, lo, "l.nii", 2, 4).at<uint8_t>(1, 0), kIgnoreLabel);
  labels.at<double>(1, 0) = 1.5;  // not an integer label
  EXPECT_NE(error_of([&] { labels_to_u8(labels, lo, "l.nii", 2, 4); }).find("first: 1.5"),
            std::string::npos);
}

TEST(NiftiVolume, NnUNetChannelNamesMatchTheirLabels) {
  const auto pairs =
      match_by_stem({"in/a_0000.nii.gz", "in/b_0000.nii.gz"}, {"lab/a.nii.gz", "lab/b.nii.gz"}, "");
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[1].target, "lab/b.nii.gz");
  EXPECT_EQ(file_stem("x/case.NII.GZ"), "case");
  EXPECT_EQ(file_stem("x/case.nii"), "case");
  EXPECT_NE(error_of([] {
              match_by_stem({"in/a_0000.nii.gz", "in/a_0001.nii.gz"}, {"lab/a.nii.gz"}, "");
            }).find("in/a_0001.nii.gz is channel 0001 of case 'a'"),
            std::string::npos);
}

// Three image volumes (values code(i, j, k) in HU-like units) with label volumes, packed along k.
class NiftiPack : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_.sub("img"));
    fs::create_directories(dir_.sub("lab"));
    for (int c = 0; c < 3; ++c) {
      const std::string name = "case" + std::to_string(c);
      write_volume(dir_.sub("img/" + name + "_0000.nii.gz"), spec_,
                   [c](int64_t i, int64_t j, int64_t k) { return code(i, j, k) - 200 + c; });
      VolumeSpec l = spec_;
      l.datatype = NIFTI_TYPE_UINT8;
      write_volume(dir_.sub("lab/" + name + ".nii.gz"), l,
                   [](int64_t i, int64_t j, int64_t k) { return (i + j + k) % 3; });
    }
  }
  PackOptions options() const {
    PackOptions o;
    o.task = "segmentation";
    o.inputs = dir_.sub("img");
    o.targets = dir_.sub("lab");
    o.out = dir_.sub("out");
    o.size = 8;
    o.fit = "resize";
    o.classes = 3;
    o.intensity = "window:-200,400";
    o.val_fraction = 0.34;
    o.test_fraction = 0.0;
    return o;
  }
  VolumeSpec spec_{8, 8, 4, 1, NIFTI_TYPE_INT16, 0.0, 0.0, true, 0.8};
  TempDir dir_;
};

TEST_F(NiftiPack, StoresEverySliceThroughTheWindowSplitByVolume) {
  const PackSummary s = run_pack(options());
  EXPECT_EQ(s.info.input_dtype, "uint16");
  EXPECT_EQ(s.info.in_channels, 1);
  EXPECT_EQ(s.images.train + s.images.val, 3);
  EXPECT_EQ(s.samples.total(), 3 * 4);  // 4 slices along k per volume
  int64_t checked = 0;
  for (const char* split : {"train", "val"}) {
    const Manifest m = read_manifest_file(dir_.sub(std::string("out/") + split + "/manifest.json"));
    ASSERT_TRUE(m.sources.is_array());
    DatasetReader reader(dir_.sub(std::string("out/") + split));
    RawSample raw;
    for (const auto& src : m.sources) {  // every volume's slices are all in this split
      EXPECT_EQ(src["samples"], 4);
      EXPECT_EQ(src["slice_axis"], "k");
      EXPECT_EQ(src["intensity"]["lo"], -200.0);
      EXPECT_FLOAT_EQ(src["affine"][0][0].get<float>(), -0.8f);
      const int c = src["file"].get<std::string>().find("case1") != std::string::npos   ? 1
                    : src["file"].get<std::string>().find("case2") != std::string::npos ? 2
                                                                                        : 0;
      for (int64_t k = 0; k < 4; ++k) {
        reader.read(src["first_sample"].get<int64_t>() + k, raw);
        const auto* in = reinterpret_cast<const uint16_t*>(raw.input.data());
        for (int j = 0; j < 8; ++j) {
          for (int i = 0; i < 8; ++i) {
            const double v = std::clamp(code(i, j, k) - 200 + c, -200.0, 400.0);
            ASSERT_EQ(in[j * 8 + i], std::lround((v + 200) / 600 * 65535)) << i << j << k;
            ASSERT_EQ(raw.target[static_cast<size_t>(j * 8 + i)], (i + j + k) % 3);
          }
        }
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 12);
}

TEST_F(NiftiPack, RefusesVolumesWithoutIntensityOrOnAnotherGrid) {
  PackOptions o = options();
  o.intensity.clear();
  EXPECT_NE(error_of([&] { run_pack(o); }).find("say how its intensities become inputs"),
            std::string::npos);
  o = options();
  o.task = "denoising";
  o.targets.clear();
  EXPECT_NE(error_of([&] { run_pack(o); }).find("volumes are packed for --task segmentation"),
            std::string::npos);
  VolumeSpec other = spec_;
  other.nz = 5;
  write_volume(dir_.sub("lab/case1.nii.gz"), other, [](int64_t, int64_t, int64_t) { return 0; });
  EXPECT_NE(error_of([&] {
              run_pack(options());
            }).find("case1_0000.nii.gz is 8x8x4 but its label volume"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(dir_.sub("out")));  // nothing written by a refused pack
  other.nz = 4;
  other.spacing = 1.0;
  write_volume(dir_.sub("lab/case1.nii.gz"), other, [](int64_t, int64_t, int64_t) { return 0; });
  EXPECT_NE(error_of([&] { run_pack(options()); }).find("are on different grids: affine[0][0]"),
            std::string::npos);
  // Control: the same grid packs.
  write_volume(dir_.sub("lab/case1.nii.gz"), spec_, [](int64_t, int64_t, int64_t) { return 0; });
  EXPECT_NO_THROW(run_pack(options()));
  // Images among volumes: refused.
  std::ofstream(dir_.sub("img/zz.png")) << "x";
  std::ofstream(dir_.sub("lab/zz.png")) << "x";
  o = options();
  o.overwrite = true;
  EXPECT_NE(error_of([&] { run_pack(o); }).find("every input and target must be one"),
            std::string::npos);
}

}  // namespace
}  // namespace tessera
