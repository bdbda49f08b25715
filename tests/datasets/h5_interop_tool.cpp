// Helper for the h5py interoperability script test (h5py_interop.py):
//   h5_interop_tool write DIR KIND     writes a dataset with tessera's DatasetWriter whose values
//                                      follow a formula the script re-computes (KIND: seg |
//                                      float | sr | anomaly)
//   h5_interop_tool dump DIR OUT.json  reads every sample of DIR (h5py-written, no manifest)
//                                      with DatasetReader and the eval Loader and writes the
//                                      manifest, the sums and a few values per sample as JSON.
#include <fstream>
#include <iostream>

#include "common/error.h"
#include "datasets/dataset_reader.h"
#include "datasets/dataset_writer.h"
#include "datasets/loader.h"

using namespace tessera;

namespace {

DatasetInfo info_for(const std::string& kind) {
  DatasetInfo i;
  i.height = i.width = i.input_height = i.input_width = 6;
  if (kind == "seg") {
    i.task = "segmentation";
    i.classes = 4;
  } else if (kind == "float") {
    i.task = "denoising";
    i.input_dtype = i.target_dtype = "float32";
    i.target_kind = "image";
    i.target_channels = 3;
  } else if (kind == "sr") {
    i.task = "super_resolution";
    i.input_height = i.input_width = 3;
    i.target_kind = "image";
    i.target_channels = 3;
  } else if (kind == "anomaly") {
    i.task = "anomaly";
    i.in_channels = 1;
    i.target_kind = "image";
    i.target_channels = 1;
    i.has_labels = true;
  } else {
    TESSERA_THROW("unknown kind {}", kind);
  }
  return i;
}

// value(s, y, x, c) = (s*31 + y*7 + x*3 + c) % 256, floats: that / 255
void write(const std::string& dir, const std::string& kind) {
  DatasetInfo info = info_for(kind);
  DatasetWriter w(dir, info, 4, kind == "seg" ? 5 : 0);
  for (int s = 0; s < 10; ++s) {
    Sample smp;
    bool f = info.input_dtype == "float32";
    smp.input = cv::Mat(info.input_height, info.input_width,
                        CV_MAKETYPE(f ? CV_32F : CV_8U, info.in_channels));
    for (int y = 0; y < info.input_height; ++y) {
      for (int x = 0; x < info.input_width; ++x) {
        for (int c = 0; c < info.in_channels; ++c) {
          int v = (s * 31 + y * 7 + x * 3 + c) % 256;
          if (f) {
            smp.input.ptr<float>(y)[x * info.in_channels + c] = v / 255.0f;
          } else {
            smp.input.ptr<uint8_t>(y)[x * info.in_channels + c] = static_cast<uint8_t>(v);
          }
        }
      }
    }
    if (info.target_kind == "labels") {
      smp.target = cv::Mat(info.height, info.width, CV_8UC1);
      for (int y = 0; y < info.height; ++y) {
        for (int x = 0; x < info.width; ++x) {
          smp.target.at<uint8_t>(y, x) = static_cast<uint8_t>((s + y + 2 * x) % 4);
        }
      }
    } else {
      int tc = info.target_channels;
      smp.target = cv::Mat(info.height, info.width, CV_MAKETYPE(f ? CV_32F : CV_8U, tc));
      for (int y = 0; y < info.height; ++y) {
        for (int x = 0; x < info.width; ++x) {
          for (int c = 0; c < tc; ++c) {
            int v = (s * 5 + y * 11 + x + 2 * c) % 256;
            if (f) {
              smp.target.ptr<float>(y)[x * tc + c] = v / 255.0f;
            } else {
              smp.target.ptr<uint8_t>(y)[x * tc + c] = static_cast<uint8_t>(v);
            }
          }
        }
      }
    }
    smp.label = s % 2;
    w.add(smp);
  }
  w.finish();
}

void dump(const std::string& dir, const std::string& out_path) {
  DatasetReader r(dir);
  nlohmann::json j;
  j["manifest"] = manifest_to_json(r.manifest());
  j["derived"] = r.manifest().derived;
  nlohmann::json samples = nlohmann::json::array();
  const DatasetInfo& i = r.info();
  RawSample raw;
  for (int64_t k = 0; k < r.size(); ++k) {
    r.read(k, raw);
    auto as_doubles = [](const std::vector<uint8_t>& b, const std::string& dtype) {
      std::vector<double> v;
      if (dtype == "uint8") {
        for (uint8_t x : b) v.push_back(x);
      } else {
        for (size_t q = 0; q + 4 <= b.size(); q += 4) {
          float f;
          std::memcpy(&f, b.data() + q, 4);
          v.push_back(f);
        }
      }
      return v;
    };
    samples.push_back({{"input", as_doubles(raw.input, i.input_dtype)},
                       {"target", as_doubles(raw.target, i.target_dtype)},
                       {"label", raw.label}});
  }
  j["samples"] = samples;
  // Through the eval loader too: tensors as the trainer sees them.
  DataConfig cfg;
  cfg.batch_size = 4;
  cfg.loader_threads = 2;
  LoaderOptions lo;
  lo.train = false;
  lo.scale = i.height / i.input_height;
  Loader l(cfg, dir, lo);
  l.start_epoch(0);
  nlohmann::json loader_sums = nlohmann::json::array();
  while (auto b = l.next()) {
    for (int64_t k = 0; k < b->inputs.size(0); ++k) {
      loader_sums.push_back({{"index", b->indices[static_cast<size_t>(k)]},
                             {"input_sum", b->inputs[k].sum().item<double>()},
                             {"target_sum", b->targets[k].sum().item<double>()}});
    }
  }
  j["loader"] = loader_sums;
  std::ofstream(out_path) << j.dump();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 4 && std::string(argv[1]) == "write") {
      write(argv[2], argv[3]);
    } else if (argc == 4 && std::string(argv[1]) == "dump") {
      dump(argv[2], argv[3]);
    } else {
      std::cerr << "usage: h5_interop_tool write DIR seg|float|sr|anomaly | dump DIR OUT.json\n";
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
