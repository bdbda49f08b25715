// Text made safe for the HTML of `tessera report` (launcher/report_html.h): html_escape() for
// every string that comes from a file, a config or the command line (run names, config values,
// metric names), base64() for the PNG bytes embedded as data: URIs. Pure functions, thread-safe.
#pragma once

#include <string>

namespace tessera {

// & < > " ' become entities; control bytes other than tab and newline (which a browser cannot
// show and XML refuses) become U+FFFD; other bytes pass (UTF-8 stays readable). Safe in element
// text and in quoted attribute values.
std::string html_escape(const std::string& s);

// Standard base64 (RFC 4648, with '=' padding).
std::string base64(const std::string& bytes);

}  // namespace tessera
