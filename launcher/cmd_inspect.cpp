// tessera inspect TARGET: a config -> the model's layer table, parameter count and output shape
// (issue #3); a dataset directory -> counts, shapes, class balance, checksums (issue #4).
#include <filesystem>
#include <memory>

#include <cstdio>
#include "launcher/commands.h"

#include "datasets/inspect_data.h"
#include "datasets/integrity.h"
#include "datasets/shard_probe.h"
#include "models/describe.h"

namespace tessera::cli {

void add_inspect_command(CLI::App& app) {
  auto args = std::make_shared<ConfigArgs>();
  CLI::App* cmd = app.add_subcommand(
      "inspect",
      "Describe a config's model (layers, parameters, output shape) or a dataset "
      "directory (counts, shapes, class balance, checksums; a dataset root: every split)");
  cmd->add_option("TARGET", args->path,
                  "An experiment config (YAML), a dataset directory, or a dataset root "
                  "(train/ val/ test/ as synth and pack write)")
      ->required();
  cmd->add_option("--set", args->overrides, "Override a config key (repeatable)")
      ->allow_extra_args(false)
      ->type_name("KEY=VALUE");
  auto verify = std::make_shared<bool>(true);
  auto write_manifest = std::make_shared<bool>(false);
  cmd->add_flag("--verify,!--no-verify", *verify,
                "Dataset: check every shard's CRC32C against manifest.json before reading it "
                "(default; --no-verify skips it)");
  cmd->add_flag("--write-manifest", *write_manifest,
                "Dataset without manifest.json (e.g. h5py-written): derive one from the shards, "
                "with each file's size and CRC32C, and write it (refused if one exists)");
  cmd->callback([args, verify, write_manifest] {
    std::error_code ec;
    if (std::filesystem::is_directory(args->path, ec)) {
      if (!args->overrides.empty()) {
        throw std::invalid_argument(
            "inspect: --set applies to a config, not to a dataset "
            "directory (" +
            args->path + ")");
      }
      if (!dataset_root_splits(args->path).empty()) {  // synth/pack output: every split
        if (*write_manifest) {
          throw std::invalid_argument(
              "inspect: --write-manifest writes one dataset's manifest; " + args->path +
              " is a dataset root holding split directories: name the split, e.g. " +
              args->path + "/" + dataset_root_splits(args->path).front());
        }
        std::printf("%s", inspect_dataset_root(args->path, *verify).c_str());
        return;
      }
      if (*write_manifest) {
        probe_if_manifest_less(args->path, ProbeOptions{});  // before HDF5 parses them here
        const Manifest m = write_derived_manifest(args->path);
        std::printf("wrote %s/%s: %zu shard(s), %lld samples, sizes and CRC32C recorded\n",
                    args->path.c_str(), kManifestName, m.shards.size(),
                    static_cast<long long>(m.total_samples()));
      }
      std::printf("%s", inspect_dataset(args->path, *verify).c_str());
      return;
    }
    if (*write_manifest || !*verify) {
      throw std::invalid_argument(
          "inspect: --write-manifest and --no-verify apply to a dataset "
          "directory, not to a config (" +
          args->path + ")");
    }
    const Config cfg = load(*args);
    std::printf("%s", describe_model(cfg, cfg.data.image_size).c_str());
  });
}

}  // namespace tessera::cli
