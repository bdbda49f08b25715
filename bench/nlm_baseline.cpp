// Denoising baseline for docs/RESULTS.md: OpenCV's non-local means (Buades et al.; OpenCV's
// fastNlMeansDenoisingColored, which filters luminance and colour in CIELAB) on every PNG of a
// directory. tools/restoration_check.py runs it at several filter strengths h and scores the
// outputs beside tessera's model, with the same metric code.
//
//   bench_nlm_baseline IN_DIR OUT_DIR H [H_COLOR]   (template 7x7, search window 21x21: OpenCV's
//                                                    defaults; H_COLOR defaults to H)
// Writes OUT_DIR/STEM.png for each IN_DIR/STEM.png; exits 1 with a message on any failure.
#include <filesystem>
#include <iostream>
#include <string>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/photo.hpp>

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 4 || argc > 5) {
    std::cerr << "usage: bench_nlm_baseline IN_DIR OUT_DIR H [H_COLOR]\n";
    return 2;
  }
  const fs::path in = argv[1], out = argv[2];
  const float h = std::stof(argv[3]);
  const float h_color = argc == 5 ? std::stof(argv[4]) : h;
  try {
    fs::create_directories(out);
    int n = 0;
    for (const auto& e : fs::directory_iterator(in)) {
      if (e.path().extension() != ".png") continue;
      const cv::Mat noisy = cv::imread(e.path().string(), cv::IMREAD_COLOR);
      if (noisy.empty()) {
        std::cerr << "bench_nlm_baseline: cannot read " << e.path() << "\n";
        return 1;
      }
      cv::Mat clean;
      cv::fastNlMeansDenoisingColored(noisy, clean, h, h_color, 7, 21);
      const fs::path dst = out / e.path().filename();
      if (!cv::imwrite(dst.string(), clean)) {
        std::cerr << "bench_nlm_baseline: cannot write " << dst << "\n";
        return 1;
      }
      ++n;
    }
    std::cout << "bench_nlm_baseline: " << n << " image(s), h " << h << ", h_color " << h_color
              << "\n";
  } catch (const std::exception& e) {
    std::cerr << "bench_nlm_baseline: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
