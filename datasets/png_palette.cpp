#include "datasets/png_palette.h"

#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>

#include "common/error.h"

namespace tessera {

namespace {

constexpr uint64_t kMaxPixels = uint64_t{1} << 28;

struct PngMessage {
  char text[200] = "";
};

extern "C" void on_png_error(png_structp png, png_const_charp msg) {
  auto* m = static_cast<PngMessage*>(png_get_error_ptr(png));
  std::snprintf(m->text, sizeof m->text, "%s", msg != nullptr ? msg : "unknown error");
  png_longjmp(png, 1);
}

extern "C" void on_png_warning(png_structp, png_const_charp) {}

// Owns the FILE and libpng's read and info structs.
struct PngHandles {
  std::FILE* file = nullptr;
  png_structp png = nullptr;
  png_infop info = nullptr;
  PngMessage message;
  PngHandles() = default;
  PngHandles(const PngHandles&) = delete;
  PngHandles& operator=(const PngHandles&) = delete;
  ~PngHandles() {
    if (png != nullptr) png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr);
    if (file != nullptr) std::fclose(file);
  }
};

struct PngHeader {
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, colour_type = 0;
  int palette_size = 0;
  png_color palette[PNG_MAX_PALETTE_LENGTH];
  png_size_t row_bytes = 0;
};

// Plain data only from here to the end of the function (setjmp/longjmp).
bool read_header(png_structp png, png_infop info, PngHeader* h) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_sig_bytes(png, 8);
  png_set_user_limits(png, kMaxPngSide, kMaxPngSide);
  png_read_info(png, info);
  int interlace = 0;
  png_get_IHDR(png, info, &h->width, &h->height, &h->bit_depth, &h->colour_type, &interlace,
               nullptr, nullptr);
  if (h->colour_type != PNG_COLOR_TYPE_PALETTE) return true;
  png_colorp entries = nullptr;
  int n = 0;
  if ((png_get_PLTE(png, info, &entries, &n) & PNG_INFO_PLTE) != 0 && n > 0 &&
      n <= PNG_MAX_PALETTE_LENGTH) {
    h->palette_size = n;
    std::memcpy(h->palette, entries, sizeof(png_color) * static_cast<size_t>(n));
  }
  if (h->bit_depth < 8) png_set_packing(png);  // one byte per index
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  h->row_bytes = png_get_rowbytes(png, info);
  return true;
}

bool read_rows(png_structp png, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, nullptr);
  return true;
}

}  // namespace

std::optional<PaletteImage> read_palette_png(const std::string& path) {
  PngHandles h;
  h.file = std::fopen(path.c_str(), "rb");
  TESSERA_CHECK(h.file != nullptr, "cannot open {}: {}", path, std::strerror(errno));
  unsigned char sig[8] = {};
  if (std::fread(sig, 1, sizeof sig, h.file) != sizeof sig || png_sig_cmp(sig, 0, sizeof sig) != 0)
    return std::nullopt;  // not a PNG
  h.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &h.message, on_png_error, on_png_warning);
  TESSERA_CHECK(h.png != nullptr, "{}: libpng could not start (out of memory?)", path);
  h.info = png_create_info_struct(h.png);
  TESSERA_CHECK(h.info != nullptr, "{}: libpng could not start (out of memory?)", path);
  png_init_io(h.png, h.file);

  PngHeader header;
  TESSERA_CHECK(read_header(h.png, h.info, &header), "{} is a damaged PNG: {}", path,
                h.message.text);
  if (header.colour_type != PNG_COLOR_TYPE_PALETTE) return std::nullopt;
  TESSERA_CHECK(uint64_t{header.width} * header.height <= kMaxPixels,
                "{} is {}x{} pixels; at most {} pixels are read", path, header.width,
                header.height, kMaxPixels);
  TESSERA_CHECK(header.palette_size > 0, "{}: palette PNG without a palette (PLTE chunk)", path);
  TESSERA_CHECK(header.row_bytes == header.width,
                "{}: unexpected row size {} bytes for a {} pixel wide palette image", path,
                header.row_bytes, header.width);

  PaletteImage out;
  out.indices.create(static_cast<int>(header.height), static_cast<int>(header.width), CV_8UC1);
  std::vector<png_bytep> rows(header.height);
  for (png_uint_32 y = 0; y < header.height; ++y) rows[y] = out.indices.ptr<png_byte>(static_cast<int>(y));
  TESSERA_CHECK(read_rows(h.png, rows.data()), "{} is a damaged PNG: {}", path, h.message.text);
  for (int k = 0; k < header.palette_size; ++k) {
    const png_color& c = header.palette[k];
    out.colours.push_back({c.red, c.green, c.blue});
  }
  return out;
}

}  // namespace tessera
