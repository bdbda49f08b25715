// Refusal of damaged checkpoints (flipped byte, truncation, missing file, missing or broken
// meta.json, corrupt pointer) and the --resume auto fallback past invalid newer checkpoints.
#include "checkpoints/checkpoint_store.h"
#include "checkpoints/sha256.h"
#include "common/error.h"
#include "store_fixtures.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <filesystem>

namespace fs = std::filesystem;

namespace tessera::checkpoints {
namespace {

using testing::error_of;
using testing::LogCapture;
using testing::make_data;
using testing::TempDir;

class CheckpointCorruption : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<CheckpointStore>(tmp_.path(), 5, 1, "max");
    for (int s = 1; s <= 3; ++s) store_->save(make_data(s), 0.1 * s);
    dir_ = tmp_ / "checkpoints/step-0000003";
  }
  std::string load_error() {
    return error_of([&] { (void)store_->load("latest"); });
  }
  TempDir tmp_;
  std::unique_ptr<CheckpointStore> store_;
  std::string dir_;
};

TEST_F(CheckpointCorruption, FlippedByteIsRefusedNamingTheFile) {
  testing::flip_byte(dir_ + "/optim.pt", 12345);
  const std::string e = load_error();
  EXPECT_NE(e.find(dir_), std::string::npos) << e;
  EXPECT_NE(e.find("optim.pt"), std::string::npos) << e;
  EXPECT_NE(e.find("SHA-256"), std::string::npos) << e;
  EXPECT_NE(e.find(sha256_file_hex(dir_ + "/optim.pt")), std::string::npos) << e;
}

TEST_F(CheckpointCorruption, TruncatedFileIsRefused) {
  fs::resize_file(dir_ + "/model.pt", 5000);
  const std::string e = load_error();
  EXPECT_NE(e.find("model.pt"), std::string::npos) << e;
  EXPECT_NE(e.find("has 5000 bytes"), std::string::npos) << e;
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
}

TEST_F(CheckpointCorruption, MissingFileIsRefused) {
  fs::remove(dir_ + "/state.json");
  const std::string e = load_error();
  EXPECT_NE(e.find("state.json"), std::string::npos) << e;
  EXPECT_NE(e.find("missing"), std::string::npos) << e;
}

TEST_F(CheckpointCorruption, MissingMetaIsRefused) {
  fs::remove(dir_ + "/meta.json");
  const std::string e = load_error();
  EXPECT_NE(e.find(dir_), std::string::npos) << e;
  EXPECT_NE(e.find("meta.json is missing"), std::string::npos) << e;
}

TEST_F(CheckpointCorruption, UnparseableMetaIsRefused) {
  std::string meta = testing::slurp(dir_ + "/meta.json");
  testing::spit(dir_ + "/meta.json", meta.substr(0, meta.size() / 2));
  EXPECT_NE(load_error().find("meta.json is not valid JSON"), std::string::npos) << load_error();
}

TEST_F(CheckpointCorruption, MetaWithWrongSchemaIsRefused) {
  auto meta = nlohmann::json::parse(testing::slurp(dir_ + "/meta.json"));
  meta["step"] = 4;
  testing::spit(dir_ + "/meta.json", meta.dump());
  EXPECT_NE(load_error().find("meta_sha256 records"), std::string::npos) << load_error();
  // Resealed with a matching checksum, the step still contradicts the directory name.
  meta["meta_sha256"] = meta_checksum(meta);
  testing::spit(dir_ + "/meta.json", meta.dump());
  EXPECT_NE(load_error().find("the directory name says step 3"), std::string::npos)
      << load_error();
  meta["step"] = 3;
  meta["files"]["model.pt"]["size"] = "big";
  testing::spit(dir_ + "/meta.json", meta.dump());
  EXPECT_NE(load_error().find("files.model.pt"), std::string::npos) << load_error();
  meta.erase("files");
  testing::spit(dir_ + "/meta.json", meta.dump());
  EXPECT_NE(load_error().find("'files' is missing"), std::string::npos) << load_error();
}

// Issue 13 finding 4: meta.json is trusted for step, epoch, world_size, metric ... -- a changed
// value must be refused like a changed file, not loaded.
TEST_F(CheckpointCorruption, ChangedValueInMetaIsRefused) {
  const std::string path = dir_ + "/meta.json";
  const std::string original = testing::slurp(path);
  for (const std::string key : {"\"metric\": ", "\"epoch\": ", "\"world_size\": ",
                                "\"created_unix\": ", "\"tessera_version\": \"", "\"cursor\": ",
                                "\"created\": \"2"}) {
    std::string meta = original;
    const size_t at = meta.find(key);
    ASSERT_NE(at, std::string::npos) << key << " in " << meta;
    char& c = meta[at + key.size()];
    c = std::isdigit(static_cast<unsigned char>(c)) ? static_cast<char>('0' + (c - '0' + 1) % 10)
                                                    : static_cast<char>(c ^ 0x20);
    testing::spit(path, meta);
    const std::string e = load_error();
    EXPECT_NE(e.find(path), std::string::npos) << key << ": " << e;
  }
  testing::spit(path, original);
  EXPECT_EQ(load_error(), "<no error>");  // control
}

// Every single-bit flip (bits 0 and 5) of every byte of meta.json: refused, or (whitespace) the
// loaded checkpoint is exactly the original.
TEST_F(CheckpointCorruption, BitFlipSweepOfMeta) {
  const std::string path = dir_ + "/meta.json";
  const std::string original = testing::slurp(path);
  const CheckpointData good = load_checkpoint_dir(dir_);
  int tried = 0, refused = 0, harmless = 0;
  for (size_t i = 0; i < original.size(); ++i) {
    for (const int bit : {0, 5}) {
      std::string meta = original;
      meta[i] = static_cast<char>(meta[i] ^ (1 << bit));
      testing::spit(path, meta);
      ++tried;
      try {
        const CheckpointData d = load_checkpoint_dir(dir_);
        const bool same = d.step == good.step && d.epoch == good.epoch &&
                          d.world_size == good.world_size && d.metric == good.metric &&
                          d.tessera_version == good.tessera_version && d.created == good.created &&
                          d.files == good.files && d.meta_extra == good.meta_extra;
        EXPECT_TRUE(same) << "byte " << i << " bit " << bit << " changed a value unnoticed: "
                          << meta.substr(i > 20 ? i - 20 : 0, 40);
        ++harmless;
      } catch (const Error&) {
        ++refused;
      }
    }
  }
  testing::spit(path, original);
  std::printf("meta.json bit-flip sweep: %d flips, %d refused, %d harmless (same values)\n",
              tried, refused, harmless);
  RecordProperty("flips", tried);
  RecordProperty("refused", refused);
}

// Format 1 (before meta.json carried a checksum) stays readable, with a warning saying that its
// meta.json is not verified.
TEST_F(CheckpointCorruption, FormatOneMetaIsReadWithAWarning) {
  auto meta = nlohmann::json::parse(testing::slurp(dir_ + "/meta.json"));
  meta["format_version"] = 1;
  meta.erase("meta_sha256");
  testing::spit(dir_ + "/meta.json", meta.dump(2));
  LogCapture log;
  EXPECT_EQ(store_->load("latest").step, 3);
  EXPECT_NE(log.text().find("format 1"), std::string::npos) << log.text();
  EXPECT_NE(log.text().find("no checksum"), std::string::npos) << log.text();
}

TEST_F(CheckpointCorruption, CorruptPointerIsRefused) {
  testing::spit(tmp_ / "checkpoints/latest", "../../etc\n");
  EXPECT_NE(load_error().find("pointer"), std::string::npos) << load_error();
}

// A flipped digit in a pointer would name another valid checkpoint (step 3 -> step 2): the
// checksum line refuses it. Controls: the intact pointer loads step 3, and a pointer of the
// older one-line form (no checksum) is still read.
TEST_F(CheckpointCorruption, PointerChecksumCatchesAFlippedDigit) {
  const fs::path latest = tmp_ / "checkpoints/latest";
  EXPECT_EQ(store_->load("latest").step, 3);
  std::string text = testing::slurp(latest);
  ASSERT_EQ(text.rfind("step-0000003\nsha256 ", 0), 0u) << text;
  text[11] = '2';  // step-0000002: a complete, valid checkpoint of its own
  testing::spit(latest, text);
  const std::string e = load_error();
  EXPECT_NE(e.find("checksum"), std::string::npos) << e;
  EXPECT_NE(e.find(latest.string()), std::string::npos) << e;
  testing::spit(latest, "step-0000002\n");  // the one-line form of older versions
  EXPECT_EQ(store_->load("latest").step, 2);
  testing::spit(latest, std::string(5000, 's'));
  EXPECT_NE(load_error().find("bytes"), std::string::npos) << load_error();
}

TEST_F(CheckpointCorruption, LoadAutoFallsBackPastInvalidNewest) {
  testing::flip_byte(dir_ + "/model.pt", 0);
  fs::remove(tmp_ / "checkpoints/step-0000002/meta.json");
  LogCapture log;
  const auto d = store_->load_auto();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->step, 1);
  const std::string text = log.text();
  EXPECT_NE(text.find("skipping invalid checkpoint"), std::string::npos) << text;
  EXPECT_NE(text.find("step-0000003"), std::string::npos) << text;
  EXPECT_NE(text.find("step-0000002"), std::string::npos) << text;
  EXPECT_NE(text.find("2 newer invalid"), std::string::npos) << text;
  // The explicit "latest" is still refused: only auto falls back.
  EXPECT_NE(load_error().find("model.pt"), std::string::npos);
}

TEST_F(CheckpointCorruption, LoadAutoRefusesWhenNothingVerifies) {
  for (int s = 1; s <= 3; ++s) {
    testing::flip_byte(tmp_ / ("checkpoints/step-000000" + std::to_string(s) + "/model.pt"), 9);
  }
  LogCapture log;
  const std::string e = error_of([&] { (void)store_->load_auto(); });
  EXPECT_NE(e.find("none of the 3 checkpoints"), std::string::npos) << e;
}

TEST(CheckpointStore, LoadAutoOnFreshRunIsEmpty) {
  TempDir tmp;
  EXPECT_FALSE(CheckpointStore(tmp / "run").load_auto().has_value());
  EXPECT_EQ(CheckpointStore(tmp.path()).load_auto().has_value(), false);
  CheckpointStore store(tmp.path());
  store.save(make_data(3));
  store.save(make_data(4));
  EXPECT_EQ(store.load_auto()->step, 4);
}

}  // namespace
}  // namespace tessera::checkpoints
