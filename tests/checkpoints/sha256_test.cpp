// SHA-256 against the FIPS 180-4 example vectors and values from coreutils' sha256sum at the
// padding boundaries (55/56/57/63/64/65/119/120/128 bytes), plus streaming consistency.
#include "checkpoints/sha256.h"
#include "common/error.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <random>

namespace tessera::checkpoints {
namespace {

TEST(CheckpointSha256, FipsVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopj"
                       "klmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(CheckpointSha256, PaddingBoundaries) {
  const std::pair<std::size_t, const char*> cases[] = {
      {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
      {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
      {57, "f13b2d724659eb3bf47f2dd6af1accc87b81f09f59f2b75e5c0bed6589dfe8c6"},
      {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
      {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
      {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
      {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
      {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
      {128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e"},
      {1000, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"},
  };
  for (const auto& [n, hex] : cases) EXPECT_EQ(sha256_hex(std::string(n, 'a')), hex) << n;
}

TEST(CheckpointSha256, StreamingMatchesOneShotForEverySplit) {
  std::mt19937 rng(7);
  std::string data(300, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  const std::string expected = sha256_hex(data);
  for (std::size_t a = 0; a <= data.size(); a += 7) {
    for (std::size_t b = a; b <= data.size(); b += 13) {
      Sha256 h;
      h.update(data.data(), a);
      h.update(data.data() + a, b - a);
      h.update(data.data() + b, data.size() - b);
      ASSERT_EQ(h.hex_digest(), expected) << a << " " << b;
    }
  }
  // Byte-at-a-time, and reuse after reset().
  Sha256 h;
  h.update("junk", 4);
  (void)h.digest();
  h.reset();
  for (char c : data) h.update(&c, 1);
  EXPECT_EQ(h.hex_digest(), expected);
}

TEST(CheckpointSha256, MisuseIsAnError) {
  Sha256 h;
  (void)h.digest();
  EXPECT_THROW(h.update("x", 1), Error);
  EXPECT_THROW((void)h.digest(), Error);
}

TEST(CheckpointSha256, FileMatchesBuffer) {
  testing::TempDir dir;
  std::string data(3 * (1 << 20) + 17, '\0');  // crosses the 1 MiB read chunks
  std::mt19937 rng(3);
  for (char& c : data) c = static_cast<char>(rng());
  testing::spit(dir / "blob", data);
  EXPECT_EQ(sha256_file_hex(dir / "blob"), sha256_hex(data));
  try {
    (void)sha256_file_hex(dir / "absent");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "absent"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tessera::checkpoints
