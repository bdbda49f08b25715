#include "datasets/label_maps.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>

#include "common/error.h"
#include "datasets/pack_images.h"
#include "datasets/png_palette.h"

namespace tessera {

namespace {

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t k = 0; k <= line.size(); ++k) {
    if (k == line.size() || line[k] == ',') {
      out.push_back(trim(line.substr(start, k - start)));
      start = k + 1;
    }
  }
  return out;
}

int parse_int(const std::string& s, int lo, int hi, const std::string& where, const char* what) {
  size_t used = 0;
  int v = 0;
  try {
    v = std::stoi(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  TESSERA_CHECK(used == s.size() && !s.empty() && v >= lo && v <= hi,
                "{}: {} '{}' is not an integer in {}..{}", where, what, s, lo, hi);
  return v;
}

uint32_t colour_key(int r, int g, int b) {
  return static_cast<uint32_t>(r) << 16 | static_cast<uint32_t>(g) << 8 | static_cast<uint32_t>(b);
}

int label_values(int classes) {
  return classes <= 1 ? 2 : classes;
}

}  // namespace

ClassPalette read_class_palette(const std::string& path, int classes) {
  std::ifstream in(path);
  TESSERA_CHECK(in.good(), "cannot open the class table (--palette) {}", path);
  ClassPalette p;
  p.path = path;
  std::map<std::string, int> col;
  std::string line;
  int line_no = 0;
  bool row_order = true;
  std::map<uint32_t, int> seen;  // colour -> line
  while (std::getline(in, line)) {
    ++line_no;
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    TESSERA_CHECK(p.entries.size() < 4096, "{}: more than 4096 rows", path);
    const auto cells = split_csv(t);
    if (col.empty()) {
      for (size_t k = 0; k < cells.size(); ++k) col[lower(cells[k])] = static_cast<int>(k);
      for (const char* need : {"name", "r", "g", "b"}) {
        TESSERA_CHECK(col.count(need), "{}:{}: the header must name the columns name,r,g,b "
                      "(and optionally class); got '{}'", path, line_no, t);
      }
      row_order = col.count("class") == 0;
      continue;
    }
    const std::string where = fmt::format("{}:{}", path, line_no);
    TESSERA_CHECK(cells.size() >= col.size(), "{}: {} cells, the header has {}", where,
                  cells.size(), col.size());
    PaletteClass e;
    e.name = cells[static_cast<size_t>(col["name"])];
    e.r = static_cast<uint8_t>(parse_int(cells[static_cast<size_t>(col["r"])], 0, 255, where, "r"));
    e.g = static_cast<uint8_t>(parse_int(cells[static_cast<size_t>(col["g"])], 0, 255, where, "g"));
    e.b = static_cast<uint8_t>(parse_int(cells[static_cast<size_t>(col["b"])], 0, 255, where, "b"));
    if (row_order) {
      e.label = static_cast<int>(p.entries.size());
    } else {
      const std::string c = cells[static_cast<size_t>(col["class"])];
      e.label = lower(c) == "ignore"
                    ? kIgnoreLabel
                    : parse_int(c, 0, label_values(classes) - 1, where,
                                "class (a label 0..classes-1, or ignore)");
    }
    const uint32_t key = colour_key(e.r, e.g, e.b);
    const auto [it, fresh] = seen.emplace(key, line_no);
    TESSERA_CHECK(fresh, "{}: colour ({}, {}, {}) is also on line {}; each colour maps to one "
                  "class", where, e.r, e.g, e.b, it->second);
    p.has_ignore = p.has_ignore || e.label == kIgnoreLabel;
    p.entries.push_back(e);
  }
  TESSERA_CHECK(!col.empty() && !p.entries.empty(), "class table {} has no rows", path);
  if (row_order) {
    TESSERA_CHECK(static_cast<int>(p.entries.size()) == label_values(classes),
                  "class table {} has {} rows but classes {} needs {} (one per label value, in "
                  "order); add a `class` column to map several colours to a class or mark "
                  "colours `ignore`",
                  path, p.entries.size(), classes, label_values(classes));
  }
  std::vector<std::pair<uint32_t, uint8_t>> sorted;
  for (const auto& e : p.entries)
    sorted.emplace_back(colour_key(e.r, e.g, e.b), static_cast<uint8_t>(e.label));
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [k, l] : sorted) {
    p.keys.push_back(k);
    p.labels.push_back(l);
  }
  return p;
}

std::vector<std::string> class_names(const ClassPalette& palette, int classes) {
  std::vector<std::string> names(static_cast<size_t>(label_values(classes)));
  for (const auto& e : palette.entries) {
    if (e.label != kIgnoreLabel && names[static_cast<size_t>(e.label)].empty())
      names[static_cast<size_t>(e.label)] = e.name;
  }
  for (size_t k = 0; k < names.size(); ++k) {
    if (names[k].empty()) names[k] = fmt::format("class_{}", k);
  }
  return names;
}

namespace {

// Grey values or palette indices -> labels (see the header). `binary_threshold`: grey binary
// masks with other values than 0/1 are thresholded at half the range; indices never are.
cv::Mat values_to_labels(const cv::Mat& img, const std::string& what, const LabelMapOptions& o,
                         bool binary_threshold) {
  cv::Mat ignored = cv::Mat::zeros(img.size(), CV_8U);
  if (o.ignore_value >= 0) cv::compare(img, cv::Scalar(o.ignore_value), ignored, cv::CMP_EQ);
  const cv::Mat labelled = ignored == 0;
  double hi = 0;
  cv::Point hi_at;
  if (cv::countNonZero(labelled) > 0) cv::minMaxLoc(img, nullptr, &hi, nullptr, &hi_at, labelled);
  const std::string ignore_note =
      o.ignore_value >= 0 ? fmt::format(", ignore value {}", o.ignore_value) : std::string();
  cv::Mat out;
  if (o.classes <= 1 && hi > 1 && binary_threshold) {
    const double half = img.depth() == CV_16U ? 32768.0 : 128.0;
    cv::Mat bin = img >= half;  // 0 / 255
    bin.convertTo(out, CV_8U, 1.0 / 255.0);
  } else {
    const int top = label_values(o.classes) - 1;
    if (hi > top) {
      const int bad = cv::countNonZero((img > top) & labelled);
      TESSERA_THROW("label map {} has value {} at (x={}, y={}) ({} pixels above {}), but classes "
                    "= {} allows 0..{}{}{}",
                    what, hi, hi_at.x, hi_at.y, bad, top, o.classes, top, ignore_note,
                    hi == 255 && o.ignore_value < 0
                        ? " (for 0/255 binary masks use classes 1; for 255 = void, as in VOC, "
                          "--ignore-value 255)"
                        : "");
    }
    img.convertTo(out, CV_8U);
  }
  out.setTo(cv::Scalar(kIgnoreLabel), ignored);
  return out;
}

// A single channel of a grey label map (3 identical channels accepted; alpha dropped).
cv::Mat single_channel(const cv::Mat& img, const std::string& path) {
  if (img.channels() == 1) return img;
  std::vector<cv::Mat> ch;
  cv::split(img, ch);
  for (size_t c = 1; c < ch.size() && c < 3; ++c) {
    TESSERA_CHECK(cv::countNonZero(ch[c] != ch[0]) == 0,
                  "label map {} is a colour image with differing channels; expected grey values "
                  "or palette indices that are class labels, or give the class table of a "
                  "colour-coded mask with --palette FILE (name,r,g,b[,class])",
                  path);
  }
  return ch[0];
}

cv::Mat colour_labels(const cv::Mat& img, const std::string& path, const ClassPalette& p) {
  TESSERA_CHECK(img.depth() == CV_8U,
                "colour mask {} must be an 8-bit image for --palette, got OpenCV depth {}", path,
                img.depth());
  const int ch = img.channels();
  TESSERA_CHECK(ch >= 1 && ch <= 4, "colour mask {} has {} channels", path, ch);
  cv::Mat out(img.size(), CV_8U);
  int64_t unknown = 0;
  cv::Point first;
  uint32_t first_key = 0, last_key = 0xffffffffu;
  uint8_t last_label = 0;
  for (int y = 0; y < img.rows; ++y) {
    const uint8_t* px = img.ptr<uint8_t>(y);
    uint8_t* dst = out.ptr<uint8_t>(y);
    for (int x = 0; x < img.cols; ++x, px += ch) {
      // OpenCV order: grey, grey+alpha, BGR, BGRA.
      const uint32_t key = ch <= 2 ? colour_key(px[0], px[0], px[0]) : colour_key(px[2], px[1], px[0]);
      if (key != last_key) {
        const auto it = std::lower_bound(p.keys.begin(), p.keys.end(), key);
        if (it == p.keys.end() || *it != key) {
          if (unknown++ == 0) {
            first = {x, y};
            first_key = key;
          }
          dst[x] = 0;
          continue;
        }
        last_key = key;
        last_label = p.labels[static_cast<size_t>(it - p.keys.begin())];
      }
      dst[x] = last_label;
    }
  }
  TESSERA_CHECK(unknown == 0,
                "colour mask {} has colour ({}, {}, {}) at (x={}, y={}), which is not in the class "
                "table {} ({} pixels of this image have colours not in the table)",
                path, first_key >> 16, (first_key >> 8) & 255, first_key & 255, first.x, first.y,
                p.path, unknown);
  return out;
}

}  // namespace

cv::Mat read_label_map(const std::string& path, const LabelMapOptions& o, int page) {
  TESSERA_CHECK(o.ignore_value < 0 || o.palette == nullptr,
                "--ignore-value applies to grey values and palette indices; with a class table "
                "mark the ignored colours `ignore` in its class column");
  const std::string name = page_label(path, page);
  if (o.palette != nullptr) return colour_labels(decode_image(path, page), name, *o.palette);
  if (page < 0) {
    if (auto indexed = read_palette_png(path))
      return values_to_labels(indexed->indices, path + " (palette indices)", o, false);
  }
  const cv::Mat img = decode_image(path, page);
  TESSERA_CHECK(img.depth() == CV_8U || img.depth() == CV_16U,
                "label map {} must be an 8- or 16-bit integer image, got OpenCV depth {}", name,
                img.depth());
  return values_to_labels(single_channel(img, name), name, o, true);
}

}  // namespace tessera
