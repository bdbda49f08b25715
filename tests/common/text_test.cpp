// escape_text (common/text.h): shared by the launcher's script comments (comment_text) and the
// dataset reader's messages about damaged attributes (shard_format.cpp).
#include <gtest/gtest.h>

#include "common/text.h"

namespace tessera {
namespace {

TEST(EscapeText, ControlBytesBecomeEscapesAndTheResultIsOneLine) {
  EXPECT_EQ(escape_text("plain text/é"), "plain text/\xc3\xa9");  // UTF-8 stays readable
  EXPECT_EQ(escape_text("a\nb\rc\td\\e"), "a\\nb\\rc\\td\\\\e");
  EXPECT_EQ(escape_text(std::string("x\0y\x1b\x7f", 5)), "x\\x00y\\x1b\\x7f");
  EXPECT_EQ(escape_text("").size(), 0u);
  const std::string all = [] {
    std::string s;
    for (int c = 0; c < 256; ++c) s += static_cast<char>(c);
    return s;
  }();
  for (bool non_ascii : {false, true}) {
    const std::string e = escape_text(all, {non_ascii});
    EXPECT_EQ(e.find('\n'), std::string::npos);
    EXPECT_EQ(e.find('\r'), std::string::npos);
  }
}

TEST(EscapeText, NonAsciiAndTheLengthCapForBytesFromAFile) {
  EXPECT_EQ(escape_text("seg\xff\x80", {/*non_ascii=*/true}), "seg\\xff\\x80");
  EXPECT_EQ(escape_text("abcdef", {false, 4}), "abcd...");
  EXPECT_EQ(escape_text("abcd", {false, 4}), "abcd");  // exactly the cap: no "..."
  // Control: without non_ascii the same bytes pass through unchanged.
  EXPECT_EQ(escape_text("seg\xff\x80"), "seg\xff\x80");
}

}  // namespace
}  // namespace tessera
