// Escaping of untrusted text (bytes read from a file, a config path, a CLI argument) before it
// goes into an error message or a line of a generated file. Pure function, thread-safe.
//
// escape_text(): a backslash becomes "\\", newline/CR/tab "\n" "\r" "\t", every other control
// byte and DEL "\xNN"; with non_ascii, bytes >= 0x80 as well (a damaged HDF5 attribute is
// arbitrary bytes; a path in a comment may be UTF-8 and stays readable). The result is one
// line that reads back unambiguously. With max_bytes, at most that many input bytes are
// shown, then "...".
#pragma once

#include <cstddef>
#include <string>

namespace tessera {

struct EscapeOptions {
  bool non_ascii = false;
  size_t max_bytes = std::string::npos;
};

std::string escape_text(const std::string& s, EscapeOptions options = {});

}  // namespace tessera
