// State-dict files: round trip, contents, strictness, errors, atomic write.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "models/export.h"
#include "models/unet.h"
#include "test_util.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

class ModelsExport : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tessera_models_export_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static UNetOptions small(int64_t filters = 4, int64_t depth = 2) {
    UNetOptions o;
    o.filters = filters;
    o.depth = depth;
    return o;
  }

  fs::path dir_;
};

TEST_F(ModelsExport, RoundTripRestoresParametersAndBuffers) {
  torch::manual_seed(1);
  UNet a(small());
  {
    torch::NoGradGuard no_grad;
    a->train();
    a(torch::randn({2, 3, 8, 8}));  // moves BN running stats and num_batches_tracked
  }
  export_state_dict(*a, path("a.pt"));
  torch::manual_seed(2);
  UNet b(small());
  load_state_dict_file(*b, path("a.pt"));
  auto sa = collect_state_dict(*a);
  auto sb = collect_state_dict(*b);
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].first, sb[i].first);
    EXPECT_TRUE(torch::equal(sa[i].second, sb[i].second)) << sa[i].first;
  }
  a->eval();
  b->eval();
  torch::Tensor x = torch::randn({1, 3, 8, 8});
  EXPECT_TRUE(torch::equal(a(x), b(x)));
  // No temporary file left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator{}), 1);
}

TEST_F(ModelsExport, FileHoldsParametersAndBuffersByModulePath) {
  UNet a(small());
  export_state_dict(*a, path("a.pt"));
  std::map<std::string, torch::Tensor> entries;
  for (auto& [k, v] : read_tensor_dict(path("a.pt"))) entries[k] = v;
  for (const char* key : {"encoder.0.conv1.weight", "encoder.0.conv1.bias", "encoder.0.bn1.weight",
                          "encoder.0.bn1.running_mean", "encoder.0.bn1.running_var",
                          "encoder.0.bn1.num_batches_tracked", "bottleneck.conv2.weight",
                          "up.1.weight", "decoder.1.bn2.bias", "head.bias"}) {
    EXPECT_EQ(entries.count(key), 1u) << key;
  }
  EXPECT_EQ(entries["encoder.0.bn1.num_batches_tracked"].scalar_type(), torch::kLong);
  EXPECT_EQ(entries.size(), collect_state_dict(*a).size());
}

// PyTorch >= 2.6's torch.load defaults to weights_only=True, which refuses every global outside
// its allow-list, torch.jit._pickle.restore_type_tag included (torch::pickle_save tags each dict
// with it). The Python side (tests/models/parity.py) loads with weights_only=True on every torch.
TEST_F(ModelsExport, FileNamesNoGlobalThatWeightsOnlyLoadsRefuse) {
  UNet a(small());
  export_state_dict(*a, path("a.pt"));
  auto bytes = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  const std::string ours = bytes(path("a.pt"));
  EXPECT_NE(ours.find("_rebuild_tensor_v2"), std::string::npos);  // the pickle is readable here
  EXPECT_EQ(ours.find("restore_type_tag"), std::string::npos);
  EXPECT_EQ(ours.find("torch.jit"), std::string::npos);
  // Control: LibTorch's own pickle_save of the same dict carries the tag this test looks for.
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : collect_state_dict(*a)) dict.insert(name, tensor.detach());
  const std::vector<char> tagged = torch::pickle_save(c10::IValue(dict));
  EXPECT_NE(std::string(tagged.begin(), tagged.end()).find("restore_type_tag"), std::string::npos);
}

TEST_F(ModelsExport, StrictLoadListsMismatches) {
  UNet deep(small(4, 3));
  export_state_dict(*deep, path("deep.pt"));
  UNet shallow(small(4, 2));
  std::string msg = test::error_message([&] { load_state_dict_file(*shallow, path("deep.pt")); });
  EXPECT_NE(msg.find("does not match the model"), std::string::npos) << msg;
  EXPECT_NE(msg.find("deep.pt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unexpected keys [encoder.2.conv1.weight"), std::string::npos) << msg;

  UNet wide(small(8, 2));
  export_state_dict(*wide, path("wide.pt"));
  const torch::Tensor before = collect_state_dict(*shallow)[0].second.clone();
  msg = test::error_message([&] { load_state_dict_file(*shallow, path("wide.pt")); });
  EXPECT_NE(
      msg.find("'encoder.0.conv1.weight' has shape [8, 3, 3, 3], the model expects [4, 3, 3, 3]"),
      std::string::npos)
      << msg;
  EXPECT_TRUE(torch::equal(before, collect_state_dict(*shallow)[0].second));  // untouched

  // Non-strict: loads the common keys (here: all but the BN entries), ignores the rest; shape
  // mismatches stay errors (as in PyTorch).
  UNetOptions plain_options = small(4, 2);
  plain_options.batch_norm = false;
  UNet plain(plain_options);
  export_state_dict(*plain, path("plain.pt"));
  UNet with_bn(small(4, 2));
  msg = test::error_message([&] { load_state_dict_file(*with_bn, path("plain.pt")); });
  EXPECT_NE(msg.find("missing keys [encoder.0.bn1.weight"), std::string::npos) << msg;
  EXPECT_NO_THROW(load_state_dict_file(*with_bn, path("plain.pt"), /*strict=*/false));
  EXPECT_TRUE(torch::equal(with_bn->named_parameters()["decoder.1.conv2.weight"],
                           plain->named_parameters()["decoder.1.conv2.weight"]));
  msg = test::error_message([&] { load_state_dict_file(*shallow, path("wide.pt"), false); });
  EXPECT_NE(msg.find("has shape"), std::string::npos) << msg;
}

TEST_F(ModelsExport, IoErrorsNameThePath) {
  UNet a(small());
  std::string msg = test::error_message([&] { export_state_dict(*a, path("no/such/dir/a.pt")); });
  EXPECT_NE(msg.find("no/such/dir/a.pt"), std::string::npos) << msg;

  msg = test::error_message([&] { load_state_dict_file(*a, path("missing.pt")); });
  EXPECT_NE(msg.find("missing.pt"), std::string::npos) << msg;

  std::ofstream(path("junk.pt")) << "not a pickle";
  msg = test::error_message([&] { load_state_dict_file(*a, path("junk.pt")); });
  EXPECT_NE(msg.find("junk.pt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a torch pickle file"), std::string::npos) << msg;
}

TEST_F(ModelsExport, ReplacesAnExistingFileAtomically) {
  std::ofstream(path("a.pt")) << "old";
  save_tensor_dict({{"x", torch::arange(5)}}, path("a.pt"));
  auto entries = read_tensor_dict(path("a.pt"));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_TRUE(torch::equal(entries[0].second, torch::arange(5)));
  std::string msg = test::error_message([&] {
    save_tensor_dict({{"x", torch::ones(1)}, {"x", torch::ones(1)}}, path("b.pt"));
  });
  EXPECT_NE(msg.find("duplicate key 'x'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace tessera
