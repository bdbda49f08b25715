#include "common/text.h"

namespace tessera {

std::string escape_text(const std::string& s, EscapeOptions o) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  const size_t n = s.size() < o.max_bytes ? s.size() : o.max_bytes;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f || (o.non_ascii && c >= 0x80)) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return n < s.size() ? out + "..." : out;
}

}  // namespace tessera
