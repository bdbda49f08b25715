// tessera predict CONFIG --checkpoint ... --input FILE_OR_DIR --out DIR: PNG predictions for
// image files of any size (tiled inference), issue #6.
#include <memory>

#include "launcher/commands.h"
#include "common/log.h"
#include "trainer/predictor.h"

namespace tessera::cli {

namespace {
struct PredictArgs {
  ConfigArgs config;
  std::string checkpoint = "best";
  std::string input;
  std::string targets;
  std::string out;
  int64_t limit = 0;
  std::vector<int> rgb_bands;
};
}  // namespace

void add_predict_command(CLI::App& app) {
  auto args = std::make_shared<PredictArgs>();
  CLI::App* cmd = app.add_subcommand(
      "predict", "Run a checkpoint on image files; writes masks, overlays and grids as PNG");
  add_config_args(*cmd, args->config);
  cmd->add_option("--checkpoint", args->checkpoint, "best, latest, or a checkpoint directory")
      ->capture_default_str();
  cmd->add_option("--input", args->input, "An image file or a directory of images")->required();
  cmd->add_option("--targets", args->targets,
                  "Optional ground truth (file or directory matched by file stem): overlays "
                  "colour false positives and false negatives");
  cmd->add_option("--out", args->out, "Output directory")->required();
  cmd->add_option("--limit", args->limit,
                  "Dataset inputs: samples to render (default eval.save_predictions)");
  cmd->add_option("--rgb-bands", args->rgb_bands,
                  "Input bands drawn in the pictures, 1-based, 3 (as R,G,B) or 1 (grey), e.g. "
                  "4,3,2 for near-infrared false colour of RGB+NIR tiles (default: the first "
                  "three, or the only one)")
      ->delimiter(',')
      ->expected(1, 3);
  cmd->callback([args] {
    const Config cfg = load(args->config);
    init_logging(LogSetup{0, 1, cfg.logging.level, false});
    PredictOptions opts;
    opts.checkpoint = args->checkpoint;
    opts.input = args->input;
    opts.targets = args->targets;
    opts.out = args->out;
    opts.limit = args->limit;
    opts.rgb_bands = args->rgb_bands;
    run_predict(cfg, opts);
  });
}

}  // namespace tessera::cli
