// The schema table, part 2: optim, schedule, train, checkpoint, eval, dist, cluster, logging.
#include "common/config_internal.h"
#include "common/config_schema.h"

namespace tessera::schema_table {

void add_run_keys(std::vector<KeySpec>& s) {
  // optim
  s.push_back(key("optim.name", TESSERA_CFG_FIELD(optim.name), "Optimizer.")
                  .one_of({"adam", "adamw", "sgd"})
                  .reads("trainer/optim.cpp"));
  s.push_back(key("optim.lr", TESSERA_CFG_FIELD(optim.lr), "Peak learning rate.")
                  .in(gt(0))
                  .reads("trainer/optim.cpp"));
  s.push_back(key("optim.weight_decay", TESSERA_CFG_FIELD(optim.weight_decay),
                  "Weight decay (adamw: decoupled).")
                  .in(ge(0))
                  .reads("trainer/optim.cpp"));
  s.push_back(key("optim.momentum", TESSERA_CFG_FIELD(optim.momentum), "sgd: momentum.")
                  .in(half_open(0, 1))
                  .reads("trainer/optim.cpp"));
  s.push_back(key("optim.nesterov", TESSERA_CFG_FIELD(optim.nesterov),
                  "sgd: Nesterov momentum (needs momentum > 0).")
                  .reads("trainer/optim.cpp"));
  s.push_back(key("optim.betas", TESSERA_CFG_FIELD(optim.betas),
                  "adam / adamw: the two moment decay rates.")
                  .in(half_open(0, 1))
                  .size(2)
                  .reads("trainer/optim.cpp"));
  s.push_back(key("optim.eps", TESSERA_CFG_FIELD(optim.eps), "adam / adamw: epsilon.")
                  .in(open(0, 1))
                  .reads("trainer/optim.cpp"));
  s.push_back(key("optim.grad_clip", TESSERA_CFG_FIELD(optim.grad_clip),
                  "Clip the global gradient L2 norm to this (0 = off).")
                  .in(ge(0))
                  .reads("trainer/trainer.cpp -> comm/grad_reducer.cpp"));
  // schedule
  s.push_back(
      key("schedule.name", TESSERA_CFG_FIELD(schedule.name), "Learning-rate schedule after warmup.")
          .one_of({"constant", "step", "cosine", "poly"})
          .reads("trainer/optim.cpp (LrSchedule)"));
  s.push_back(key("schedule.warmup_steps", TESSERA_CFG_FIELD(schedule.warmup_steps),
                  "Linear warmup from 0 to optim.lr over this many steps.")
                  .in(ge(0))
                  .reads("trainer/optim.cpp (LrSchedule)"));
  s.push_back(key("schedule.min_lr", TESSERA_CFG_FIELD(schedule.min_lr),
                  "cosine / poly: final learning rate (<= optim.lr).")
                  .in(ge(0))
                  .reads("trainer/optim.cpp (LrSchedule)"));
  s.push_back(key("schedule.milestones", TESSERA_CFG_FIELD(schedule.milestones),
                  "step: steps at which lr is multiplied by gamma (increasing).")
                  .in(ge(1))
                  .reads("trainer/optim.cpp (LrSchedule)"));
  s.push_back(
      key("schedule.gamma", TESSERA_CFG_FIELD(schedule.gamma), "step: multiplicative factor.")
          .in(Range{0, 1, true, false})
          .reads("trainer/optim.cpp (LrSchedule)"));
  s.push_back(key("schedule.power", TESSERA_CFG_FIELD(schedule.power), "poly: exponent.")
                  .in(gt(0))
                  .reads("trainer/optim.cpp (LrSchedule)"));
  // train
  s.push_back(key("train.max_steps", TESSERA_CFG_FIELD(train.max_steps),
                  "Optimizer steps to run (0 = bounded by max_epochs only).")
                  .in(ge(0))
                  .reads("trainer/trainer.cpp; trainer/optim.cpp (LrSchedule)"));
  s.push_back(key("train.max_epochs", TESSERA_CFG_FIELD(train.max_epochs),
                  "Epochs to run (0 = bounded by max_steps only).")
                  .in(ge(0))
                  .reads("trainer/trainer.cpp"));
  s.push_back(key("train.grad_accum", TESSERA_CFG_FIELD(train.grad_accum),
                  "Micro-batches per optimizer step.")
                  .in(closed(1, 4096))
                  .reads("trainer/trainer.cpp"));
  s.push_back(key("train.log_every", TESSERA_CFG_FIELD(train.log_every),
                  "Steps between metrics.jsonl / progress lines.")
                  .in(ge(1))
                  .reads("trainer/trainer.cpp"));
  s.push_back(key("train.eval_every", TESSERA_CFG_FIELD(train.eval_every),
                  "Steps between validations (0 = only at the end).")
                  .in(ge(0))
                  .reads("trainer/trainer.cpp"));
  s.push_back(key("train.checkpoint_every", TESSERA_CFG_FIELD(train.checkpoint_every),
                  "Steps between checkpoints (0 = only at the end and on stop requests).")
                  .in(ge(0))
                  .reads("trainer/trainer.cpp"));
  s.push_back(key("train.early_stop_patience", TESSERA_CFG_FIELD(train.early_stop_patience),
                  "Validations without improvement before stopping (0 = off).")
                  .in(ge(0))
                  .reads("trainer/trainer.cpp"));
  s.push_back(key("train.precision", TESSERA_CFG_FIELD(train.precision),
                  "Compute precision of the training forward: fp32, or bf16 (autocast: "
                  "convolutions in bfloat16; weights, optimizer state, batch-norm statistics, "
                  "loss and metrics in float32; checkpoints unchanged). fp16 is refused.")
                  .one_of({"fp32", "bf16", "fp16"})
                  .reads("trainer/training_step.cpp (trainer/precision.h)"));
  s.push_back(key("train.device", TESSERA_CFG_FIELD(train.device),
                  "cuda: one GPU per rank, chosen from the local rank.")
                  .one_of({"cpu", "cuda"})
                  .reads("trainer/session.cpp"));
  s.push_back(key("train.threads_per_rank", TESSERA_CFG_FIELD(train.threads_per_rank),
                  "Intra-op threads per rank (OMP_NUM_THREADS).")
                  .in(closed(1, 1024))
                  .reads("trainer/trainer.cpp (intra-op threads); launcher/cluster_launch.cpp "
                         "(OMP_NUM_THREADS)"));
  s.push_back(key("train.channels_last", TESSERA_CFG_FIELD(train.channels_last),
                  "Use the channels-last memory format.")
                  .reads("trainer/trainer.cpp, trainer/session.cpp"));
  // checkpoint
  s.push_back(key("checkpoint.keep_last", TESSERA_CFG_FIELD(checkpoint.keep_last),
                  "Newest checkpoints kept.")
                  .in(closed(1, 100000))
                  .reads("checkpoints/checkpoint_store.cpp"));
  s.push_back(key("checkpoint.keep_best", TESSERA_CFG_FIELD(checkpoint.keep_best),
                  "Best checkpoints (by metric) kept in addition (0 = none).")
                  .in(closed(0, 100000))
                  .reads("checkpoints/checkpoint_store.cpp"));
  s.push_back(key("checkpoint.metric", TESSERA_CFG_FIELD(checkpoint.metric),
                  "Metric selecting the best checkpoint: val/loss or val/<one of eval.metrics>.")
                  .reads("trainer/trainer.cpp, checkpoints/checkpoint_store.cpp"));
  s.push_back(key("checkpoint.mode", TESSERA_CFG_FIELD(checkpoint.mode),
                  "max: higher is better; min: lower is better (must suit the metric).")
                  .one_of({"max", "min"})
                  .reads("trainer/trainer.cpp, checkpoints/checkpoint_store.cpp"));
  s.push_back(key("checkpoint.ema", TESSERA_CFG_FIELD(checkpoint.ema),
                  "Exponential smoothing of the metric before comparing (0 = raw).")
                  .in(half_open(0, 1))
                  .reads("trainer/trainer.cpp"));
  s.push_back(key("checkpoint.async", TESSERA_CFG_FIELD(checkpoint.async),
                  "Write checkpoints in the background: the step serialises the state to memory "
                  "and trains on while a writer thread hashes, writes, fsyncs and publishes it "
                  "(same crash safety). A save waits for the previous one; a stop and the end of "
                  "training wait for the last one.")
                  .reads("trainer/training_validation.cpp (checkpoints/async_saver.h)"));
  // eval
  s.push_back(key("eval.metrics", TESSERA_CFG_FIELD(eval.metrics),
                  "Metrics checkpoint.metric may select from; must suit the task. Known gap: "
                  "validation and eval compute and log every metric of the task whatever this "
                  "lists.")
                  .one_of(all_metrics())
                  .reads("config validation only (checkpoint.metric); not yet by "
                         "trainer/evaluator.cpp"));
  s.push_back(key("eval.threshold", TESSERA_CFG_FIELD(eval.threshold),
                  "Binary segmentation: probability threshold.")
                  .in(open(0, 1))
                  .reads("trainer/metrics.cpp, trainer/predictor.cpp"));
  s.push_back(key("eval.save_predictions", TESSERA_CFG_FIELD(eval.save_predictions),
                  "Prediction images written per evaluation.")
                  .in(ge(0))
                  .reads("trainer/predictor.cpp"));
  s.push_back(key("eval.tile", TESSERA_CFG_FIELD(eval.tile),
                  "Sliding-window tile side for large images (0 = whole image).")
                  .in(closed(0, 16384))
                  .reads("trainer/tiling.cpp"));
  s.push_back(key("eval.tile_overlap", TESSERA_CFG_FIELD(eval.tile_overlap),
                  "Fraction of a tile overlapping its neighbour.")
                  .in(half_open(0, 1))
                  .reads("trainer/tiling.cpp"));
  s.push_back(key("eval.border_crop", TESSERA_CFG_FIELD(eval.border_crop),
                  "PSNR/SSIM: pixels cropped at each border (BasicSR's crop_border).")
                  .in(ge(0))
                  .reads("trainer/metrics_image.cpp"));
  // dist
  s.push_back(key("dist.backend", TESSERA_CFG_FIELD(dist.backend),
                  "auto = nccl for CUDA tensors when built with NCCL, else mpi.")
                  .one_of({"auto", "mpi", "nccl"})
                  .reads("comm/make_communicator.cpp"));
  s.push_back(
      key("dist.bucket_mb", TESSERA_CFG_FIELD(dist.bucket_mb), "Gradient bucket size in MiB.")
          .in(Range{0, 4096, true, false})
          .reads("comm/grad_reducer.cpp"));
  s.push_back(key("dist.overlap", TESSERA_CFG_FIELD(dist.overlap),
                  "Start each bucket's allreduce during backward.")
                  .reads("comm/grad_reducer.cpp"));
  s.push_back(key("dist.sync_batchnorm", TESSERA_CFG_FIELD(dist.sync_batchnorm),
                  "Batch-norm statistics over all ranks (needs model.batch_norm).")
                  .reads("trainer/session.cpp -> comm/sync_batchnorm.cpp"));
  s.push_back(key("dist.timeout_s", TESSERA_CFG_FIELD(dist.timeout_s),
                  "Watchdog: seconds a collective may take before the job is aborted.")
                  .in(gt(0))
                  .reads("trainer/trainer.cpp -> comm/watchdog.cpp"));
  s.push_back(key("dist.nonfinite", TESSERA_CFG_FIELD(dist.nonfinite),
                  "Non-finite loss or gradient on any rank: skip the step everywhere, or abort.")
                  .one_of({"skip", "abort"})
                  .reads("trainer/trainer.cpp -> comm/step_consensus.cpp"));
  // cluster
  s.push_back(key("cluster.launcher", TESSERA_CFG_FIELD(cluster.launcher),
                  "How `submit` starts the ranks inside the allocation.")
                  .one_of({"mpirun", "srun"})
                  .reads("launcher/cluster_launch.cpp"));
  s.push_back(key("cluster.nodes", TESSERA_CFG_FIELD(cluster.nodes), "Nodes.")
                  .in(closed(1, 100000))
                  .reads("launcher/cluster_launch.cpp, launcher/cluster_sbatch.cpp"));
  s.push_back(key("cluster.ranks_per_node", TESSERA_CFG_FIELD(cluster.ranks_per_node),
                  "MPI ranks per node.")
                  .in(closed(1, 4096))
                  .reads("launcher/cluster_launch.cpp, launcher/cluster_sbatch.cpp"));
  s.push_back(key("cluster.gpus_per_node", TESSERA_CFG_FIELD(cluster.gpus_per_node),
                  "GPUs requested per node.")
                  .in(closed(0, 64))
                  .reads("launcher/cluster_sbatch.cpp"));
  s.push_back(key("cluster.cpus_per_task", TESSERA_CFG_FIELD(cluster.cpus_per_task),
                  "CPUs per rank (0 = train.threads_per_rank).")
                  .in(closed(0, 4096))
                  .reads("launcher/cluster_launch.cpp, launcher/cluster_sbatch.cpp"));
  s.push_back(key("cluster.partition", TESSERA_CFG_FIELD(cluster.partition),
                  "Slurm partition (\"\" = the cluster's default).")
                  .reads("launcher/cluster_sbatch.cpp"));
  s.push_back(
      key("cluster.account", TESSERA_CFG_FIELD(cluster.account), "Slurm account (\"\" = none).")
          .reads("launcher/cluster_sbatch.cpp"));
  s.push_back(key("cluster.time", TESSERA_CFG_FIELD(cluster.time),
                  "Slurm time limit: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS.")
                  .reads("launcher/cluster_sbatch.cpp"));
  s.push_back(key("cluster.hostfile", TESSERA_CFG_FIELD(cluster.hostfile),
                  "mpirun hostfile (\"\" = none; exclusive with hosts).")
                  .reads("launcher/cluster_launch.cpp"));
  s.push_back(key("cluster.hosts", TESSERA_CFG_FIELD(cluster.hosts),
                  "Host names for mpirun (exclusive with hostfile).")
                  .reads("launcher/cluster_launch.cpp"));
  s.push_back(key("cluster.bind", TESSERA_CFG_FIELD(cluster.bind), "Rank binding.")
                  .one_of({"none", "core", "socket"})
                  .reads("launcher/cluster_launch.cpp"));
  s.push_back(key("cluster.tcp_interface", TESSERA_CFG_FIELD(cluster.tcp_interface),
                  "Network for MPI's TCP traffic: a CIDR or an interface name (\"\" = any).")
                  .reads("launcher/cluster_launch.cpp"));
  s.push_back(key("cluster.env", TESSERA_CFG_FIELD(cluster.env),
                  "Environment passed to every rank: NAME=value, or NAME to forward it.")
                  .reads("launcher/cluster_launch.cpp, launcher/cluster_sbatch.cpp"));
  s.push_back(key("cluster.preempt_grace_s", TESSERA_CFG_FIELD(cluster.preempt_grace_s),
                  "Seconds between Slurm's preemption signal and the kill.")
                  .in(closed(0, 86400))
                  .reads("launcher/cluster_sbatch.cpp"));
  // logging
  s.push_back(
      key("logging.level", TESSERA_CFG_FIELD(logging.level), "Log level (TESSERA_LOG_LEVEL wins).")
          .one_of({"trace", "debug", "info", "warn", "error", "off"})
          .reads("launcher/distributed.cpp"));
  s.push_back(
      key("logging.progress", TESSERA_CFG_FIELD(logging.progress),
          "Progress display (auto = bar on a terminal outside mpirun/srun, lines otherwise).")
          .one_of({"auto", "bar", "lines", "off"})
          .reads("trainer/trainer.cpp (progress display)"));
  s.push_back(key("logging.all_ranks", TESSERA_CFG_FIELD(logging.all_ranks),
                  "Every rank logs (TESSERA_LOG_ALL_RANKS=1 wins).")
                  .reads("launcher/distributed.cpp"));
  s.push_back(key("logging.tensorboard", TESSERA_CFG_FIELD(logging.tensorboard),
                  "Rank 0 writes TensorBoard event files to the run's tb/ directory: every "
                  "metrics.jsonl scalar; per validation, 4 fixed val samples' input, target, "
                  "prediction.")
                  .reads("trainer/training_setup.cpp (trainer/tensorboard.h)"));
}

}  // namespace tessera::schema_table
