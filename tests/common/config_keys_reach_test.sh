#!/usr/bin/env bash
# No config key is ignored (docs/config.md, "No key is ignored"): for EVERY key of the schema
# (the list comes from `tessera config keys`), change it from its default, in a context where it
# applies, and observe that what the tessera command does changes:
#   train    a short `tessera train` on tiny synthetic data (weights, optimizer state,
#            metrics.jsonl, checkpoints kept, the log; timings removed)
#   train2   the same under `mpirun -np 2`
#   predict  `tessera predict` from the context's trained checkpoint (files written)
#   eval     `tessera eval --split test` from it (summary.json)
#   launch   `tessera launch --dry-run` (the mpirun/srun command and environment)
#   submit   `tessera submit --dry-run` (the Slurm script)
#   refused  a key that accepts its default only: another value must be refused at load,
#            naming the key (see KeySpec::only_default)
#   unread   a KNOWN gap, listed in docs/config.md: a train run in which the change must still
#            make no difference; when it starts to, the test fails asking to make it a train
#            entry (eval.metrics: every metric of the task is computed and logged whatever it
#            says; it only limits what checkpoint.metric may name)
# The observation is config_keys_reach.py's digest. A key without an entry below fails the test,
# as does an entry whose changed config does not load (a difference must come from the code that
# reads the key, not from a refusal), and an entry whose change makes no difference.
# Controls: the unchanged context run twice gives the same digest (a difference is not noise),
# and a key changed where nothing reads it (loss.focal_gamma without loss.name focal) must be
# reported as making no difference.
set -u
: "${TESSERA_BIN:?TESSERA_BIN must point at build/bin/tessera (set by ctest)}"
: "${TESSERA_SOURCE_DIR:?TESSERA_SOURCE_DIR must be set (set by ctest)}"
unset TESSERA_LOG_LEVEL TESSERA_LOG_ALL_RANKS
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1 LC_ALL=C
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
HELPER=$TESSERA_SOURCE_DIR/tests/common/config_keys_reach.py
PAR=${TESSERA_REACH_JOBS:-2}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tessera-reach-XXXXXX")
cleanup() { if [ "${KEEP_WORK:-0}" != 1 ]; then rm -rf "$WORK"; fi; }
trap cleanup EXIT
cd "$WORK" || exit 1
mkdir -p ctx cfg runs obs logs
start=$(date +%s)
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# ---- data and contexts -----------------------------------------------------------------------
synth() {  # TASK DIR [args]
  local task=$1 dir=$2; shift 2
  timeout 120 "$TESSERA_BIN" synth --task "$task" --out "data/$dir" --samples 20 --size 32 \
    --shards 2 --seed 3 --val-fraction 0.2 --test-fraction 0.2 "$@" >"logs/synth-$dir.log" 2>&1 ||
    { cat "logs/synth-$dir.log"; echo "FAIL: tessera synth --task $task"; exit 1; }
}
synth roads seg
synth multiclass mc
synth superres sr --scale 2
synth style tr
synth denoise dn --noise 0.1
printf 'localhost slots=4\n' >hostfile

common_yaml() {  # DATA [EVAL-METRICS CHECKPOINT-METRIC]
  cat <<EOF
experiment: {name: probe, output_dir: runs, seed: 42}
data: {train: $WORK/data/$1/train, val: $WORK/data/$1/val, test: $WORK/data/$1/test,
       batch_size: 2, image_size: 32, loader_threads: 1, prefetch_batches: 2}
optim: {lr: 0.01}
schedule: {warmup_steps: 1}
train: {max_steps: 8, log_every: 1, eval_every: 2, checkpoint_every: 2}
checkpoint: {keep_last: 2${3:+, metric: $3}}
eval: {save_predictions: 2${2:+, metrics: $2}}
dist: {timeout_s: 60}
logging: {level: debug, progress: lines}
EOF
}
{ common_yaml seg; echo "task: {kind: segmentation}"; echo "model: {filters: 2, depth: 2}"; } >ctx/seg.yaml
{ common_yaml mc "[miou, dice]" val/miou; cat <<'EOF'; } >ctx/mc.yaml
task: {kind: segmentation, classes: 5, out_channels: 5}
model: {filters: 2, depth: 2, activation: softmax}
loss: {name: ce}
EOF
{ common_yaml sr "[psnr, ssim]" val/psnr; cat <<'EOF'; } >ctx/sr.yaml
task: {kind: super_resolution, in_channels: 3, out_channels: 3, scale: 2}
model: {filters: 2, depth: 2, activation: none}
loss: {name: l1}
EOF
{ common_yaml dn "[psnr]" val/psnr; cat <<'EOF'; } >ctx/dn.yaml
task: {kind: denoising, in_channels: 3, out_channels: 3}
model: {filters: 2, depth: 2, activation: none, residual: true}
loss: {name: mse}
EOF
{ common_yaml tr "[psnr]" val/psnr; cat <<'EOF'; } >ctx/tr.yaml
task: {kind: translation, in_channels: 3, out_channels: 3}
model: {filters: 2, depth: 2, activation: sigmoid}
loss: {name: l1}
EOF

# Contexts: NAME FILE [KEY=VALUE ...] (the settings apply to the unchanged and the changed run).
cat >contexts.txt <<'EOF'
seg         seg
seg16       seg  data.image_size=16
seg_focal   seg  loss.name=focal
seg_sgd     seg  optim.name=sgd
seg_step    seg  schedule.name=step schedule.milestones=[3]
seg_poly    seg  schedule.name=poly
seg_shards  seg  data.shuffle=shards
seg_frozen  seg  optim.lr=1.0e-12 schedule.min_lr=0 train.eval_every=1
seg_nan     seg  optim.name=sgd optim.lr=1.0e+30 schedule.name=constant model.batch_norm=false
tr_tile     tr   eval.tile=16
seg_loss    seg  checkpoint.metric=val/loss checkpoint.mode=min
cuda        seg  train.device=cuda
mc          mc
sr          sr
sr_ssim     sr   loss.name=ssim_l1
tr          tr
dn          dn
EOF

# ---- one entry per key: KEY PROBE CONTEXT VALUE [COMPANION=VALUE ...] ------------------------
# A companion is a second key that the relations between keys force to change with the first
# (e.g. task.out_channels == task.classes); it is named so the pairing is explicit.
cat >entries.txt <<'EOF'
experiment.name            train   seg        other
experiment.seed            train   seg        7
experiment.output_dir      train   seg        runs2
task.kind                  train   sr         denoising
task.classes               train   mc         4  task.out_channels=4
task.in_channels           train   seg        1
task.out_channels          train   tr         1
task.scale                 train   sr         4
task.noise_std             train   dn         0.1
task.mask_fraction         refused -          0.5
model.arch                 train   seg        autoencoder_generic
model.filters              train   seg        3
model.depth                train   seg        1
model.dropout              train   seg        0.5
model.batch_norm           train   seg        false
model.activation           train   tr         none
model.residual             train   sr         true
model.head_init            train   dn         zero
loss.name                  train   seg        bce
loss.bce_weight            train   seg        0.5
loss.dice_weight           train   seg        0.5
loss.class_weights         train   mc         [1,2,3,4,5]
loss.class_weighting       train   mc         median_frequency
loss.ignore_index          train   mc         1
loss.focal_gamma           train   seg_focal  3
loss.focal_alpha           train   seg_focal  0.5
loss.ssim_weight           train   sr_ssim    0.5
loss.smooth                train   seg        2
loss.reduction             train   seg        per_image
data.train                 train   seg        WORK/data/seg/test
data.val                   train   seg        WORK/data/seg/test
data.test                  eval    seg        WORK/data/seg/val
data.batch_size            train   seg        3
data.image_size            train   seg        16
data.shuffle               train   seg        shards
data.shuffle_buffer        train   seg_shards 2
data.loader_threads        train   seg        0
data.prefetch_batches      train   seg        3
data.normalize             train   seg        dataset
data.augment.hflip         train   seg        false
data.augment.vflip         train   seg        false
data.augment.rot90         train   seg        false
data.augment.crop          train   seg16      false
data.augment.scale_jitter  train   seg        0.3
data.augment.color_jitter  train   seg        0.5
optim.name                 train   seg        sgd
optim.lr                   train   seg        0.02
optim.weight_decay         train   seg        0.1
optim.momentum             train   seg_sgd    0.5
optim.nesterov             train   seg_sgd    true
optim.betas                train   seg        [0.8,0.99]
optim.eps                  train   seg        0.1
optim.grad_clip            train   seg        0.001
schedule.name              train   seg        constant
schedule.warmup_steps      train   seg        3
schedule.min_lr            train   seg        0.005
schedule.milestones        train   seg_step   [5]
schedule.gamma             train   seg_step   0.5
schedule.power             train   seg_poly   2
train.max_steps            train   seg        7
train.max_epochs           train   seg        1
train.grad_accum           train   seg        2
train.log_every            train   seg        2
train.eval_every           train   seg        3
train.checkpoint_every     train   seg        3
train.early_stop_patience  train   seg_frozen 1
train.precision            train   seg        bf16
train.device               train   seg        cuda
train.threads_per_rank     launch  seg        2
train.channels_last        train   seg        true
checkpoint.keep_last       train   seg        1
checkpoint.keep_best       train   seg        0
checkpoint.metric          train   seg        val/loss  checkpoint.mode=min
checkpoint.mode            refused -          min
checkpoint.ema             train   seg_loss   0.5
checkpoint.async           train   seg        false
eval.metrics               unread  seg        [dice]
eval.threshold             train   seg        0.3
eval.save_predictions      predict seg        1
eval.tile                  predict tr         16
eval.tile_overlap          predict tr_tile    0.5
eval.border_crop           train   sr         2
dist.backend               train   cuda       BACKEND
dist.bucket_mb             train   seg        0.0001
dist.overlap               train   seg        false
dist.sync_batchnorm        train2  seg        true
dist.timeout_s             train   seg        30
dist.nonfinite             train   seg_nan    abort
cluster.launcher           launch  seg        srun
cluster.nodes              launch  seg        2
cluster.ranks_per_node     launch  seg        3
cluster.gpus_per_node      submit  seg        1
cluster.cpus_per_task      submit  seg        2
cluster.partition          submit  seg        gpu
cluster.account            submit  seg        proj
cluster.time               submit  seg        02:00:00
cluster.hostfile           launch  seg        WORK/hostfile
cluster.hosts              launch  seg        [node1,node2]
cluster.bind               launch  seg        core
cluster.tcp_interface      launch  seg        eth0
cluster.env                launch  seg        [TESSERA_PROBE=1]
cluster.preempt_grace_s    submit  seg        60
logging.level              train   seg        info
logging.progress           train   seg        off
logging.all_ranks          train2  seg        true
logging.tensorboard        train   seg        false
EOF
sed -i "s|WORK/|$WORK/|g" entries.txt
# dist.backend with train.device cuda (no GPU here, so both runs fail; they fail differently):
# the default `auto` picks nccl where the build has it, so the other value is mpi; else nccl.
if "$TESSERA_BIN" --version | grep -a -q "NCCL backend on"; then other=mpi; else other=nccl; fi
sed -i "s|BACKEND$|$other|" entries.txt

# ---- every schema key has an entry, every entry is a key -------------------------------------
"$TESSERA_BIN" config keys >keys.md 2>logs/keys.log || { cat logs/keys.log; exit 1; }
grep -a -oE '^\| `[a-z_.0-9]+` \|' keys.md | sed 's/^| `//; s/` |$//' | sort >keys.txt
awk '{print $1}' entries.txt | sort -u >entry_keys.txt
[ -s keys.txt ] || { echo "FAIL: no keys parsed from \`tessera config keys\`"; exit 1; }
while read -r k; do fail "key $k has no entry in $0: add how changing it shows"; done \
  < <(comm -23 keys.txt entry_keys.txt)
while read -r k; do fail "entry $k is not a key of the schema"; done \
  < <(comm -13 keys.txt entry_keys.txt)

# ---- configs: one file per run -----------------------------------------------------------------
ctx_line() { awk -v n="$1" '$1 == n' contexts.txt; }
make_cfg() {  # ID CONTEXT [KEY=VALUE ...]
  local id=$1 ctx=$2; shift 2
  local line file
  line=$(ctx_line "$ctx")
  [ -n "$line" ] || { fail "unknown context $ctx"; return 1; }
  file=$(echo "$line" | awk '{print $2}')
  # shellcheck disable=SC2046
  "$PY" "$HELPER" yaml "$WORK/ctx/$file.yaml" "cfg/$id.yaml" $(echo "$line" | awk '{for (i = 3; i <= NF; i++) print $i}') "$@"
}

: >jobs1.txt
: >jobs2.txt
declare -A base_of
n=0
while read -r key probe ctx value rest; do
  [ -n "$key" ] || continue
  n=$((n + 1))
  id=$(printf 'k%03d' $n)
  if [ "$probe" = refused ]; then
    echo "$id $key $value" >>refused.txt
    continue
  fi
  # shellcheck disable=SC2086
  make_cfg "$id" "$ctx" "$key=$value" $rest
  b="base-$probe-$ctx"
  if [ -z "${base_of[$b]:-}" ]; then
    base_of[$b]=1
    make_cfg "$b" "$ctx"
    if [ "$probe" = predict ] || [ "$probe" = eval ]; then
      echo "$b $probe base-train-$ctx $(ctx_line "$ctx" | awk '{print $2}')" >>jobs2.txt
      [ -f "cfg/base-train-$ctx.yaml" ] || { make_cfg "base-train-$ctx" "$ctx"; echo "base-train-$ctx train" >>jobs1.txt; base_of["base-train-$ctx"]=1; }
    else
      echo "$b $probe" >>jobs1.txt
    fi
  fi
  if [ "$probe" = predict ] || [ "$probe" = eval ]; then
    echo "$id $probe base-train-$ctx $(ctx_line "$ctx" | awk '{print $2}')" >>jobs2.txt
  else
    echo "$id $probe" >>jobs1.txt
  fi
  echo "$id $key $probe $ctx $b $value $rest" >>compare.txt
done <entries.txt
# The controls: the unchanged context again, and an unread change.
make_cfg repeat-train-seg seg && echo "repeat-train-seg train" >>jobs1.txt
make_cfg unread-focal seg loss.focal_gamma=3 && echo "unread-focal train" >>jobs1.txt

# Every changed config must load: the difference has to come from the code that reads the key.
# shellcheck disable=SC2046
if ! timeout 300 "$TESSERA_BIN" config check $(ls cfg/*.yaml) >logs/check.log 2>&1; then
  cat logs/check.log
  fail "some configs above do not load (each entry must be a valid config)"
fi

# ---- the runs ----------------------------------------------------------------------------------
run_one() {  # ID PROBE [TRAINED-ID DATA]
  local id=$1 probe=$2 trained=${3:-} data=${4:-}
  local dir=$WORK/runs/$id cfgf=$WORK/cfg/$id.yaml log=$WORK/logs/$id.log rc
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || return 1
  if [ -n "$trained" ]; then cp -r "$WORK/runs/$trained/." "$dir/" && rm -f "$dir"/run.log; fi
  case $probe in
    train | unread) timeout -k 10 180 "$TESSERA_BIN" train "$cfgf" >run.log 2>&1 </dev/null ;;
    train2) timeout -k 10 180 mpirun --oversubscribe --bind-to none -np 2 "$TESSERA_BIN" train "$cfgf" \
      >run.log 2>&1 </dev/null ;;
    launch) timeout -k 10 60 "$TESSERA_BIN" launch "$cfgf" --dry-run >run.log 2>&1 </dev/null ;;
    submit) timeout -k 10 60 "$TESSERA_BIN" submit "$cfgf" --dry-run >run.log 2>&1 </dev/null ;;
    predict) timeout -k 10 120 "$TESSERA_BIN" predict "$cfgf" --checkpoint latest \
      --input "$WORK/data/$data/val" --out pred >run.log 2>&1 </dev/null ;;
    eval) timeout -k 10 120 "$TESSERA_BIN" eval "$cfgf" --checkpoint latest --split test \
      >run.log 2>&1 </dev/null ;;
  esac
  rc=$?
  cp run.log "$log"
  "$PY" "$HELPER" digest "$dir" "$dir/run.log" "$rc" >"$WORK/obs/$id.txt"
}
export -f run_one
export WORK TESSERA_BIN PY HELPER
xargs -P "$PAR" -L 1 bash -c 'run_one "$@"' _ <jobs1.txt
xargs -P "$PAR" -L 1 bash -c 'run_one "$@"' _ <jobs2.txt

# ---- the comparisons ---------------------------------------------------------------------------
same() { cmp -s "obs/$1.txt" "obs/$2.txt"; }
show_diff() { diff "obs/$1.txt" "obs/$2.txt" | head -n "${3:-8}" | sed 's/^/    /'; }
grep -a -q "^exit status 0$" obs/base-train-seg.txt ||
  { fail "the unchanged seg run failed:"; tail -20 logs/base-train-seg.log; }
if ! same base-train-seg repeat-train-seg; then
  fail "control: the unchanged run twice differs (the observation is noisy):"
  show_diff base-train-seg repeat-train-seg 20
fi
if same base-train-seg unread-focal; then
  echo "control: loss.focal_gamma with loss.name bce_dice (nothing reads it) changes nothing: ok"
else
  fail "control: loss.focal_gamma changed something although loss.name is bce_dice:"
  show_diff base-train-seg unread-focal
fi
for b in $(awk '$4 != "cuda" {print $5}' compare.txt | sort -u); do
  grep -a -q "^exit status 0$" "obs/$b.txt" || { fail "unchanged run $b failed:"; tail -15 "logs/$b.log"; }
done
reached=0
while read -r id key probe ctx b value rest; do
  if [ "$probe" = unread ]; then
    if same "$b" "$id"; then
      echo "KNOWN UNREAD: $key (changing it to $value changes nothing; docs/config.md)"
    else
      fail "$key is now read (changing it to $value made a difference): make its entry a train one"
    fi
    continue
  fi
  if same "$b" "$id"; then
    fail "$key: changing it to $value ($probe, context $ctx${rest:+, with $rest}) changed nothing observable"
  else
    reached=$((reached + 1))
    [ "${VERBOSE:-0}" = 1 ] && { echo "$key ($probe $ctx): differs"; show_diff "$b" "$id" 4; }
  fi
done <compare.txt
# Keys that accept their default only: another value is refused at load, naming the key.
while read -r id key value; do
  if timeout 60 "$TESSERA_BIN" config check ctx/seg.yaml --set "$key=$value" >"logs/$id.log" 2>&1; then
    fail "$key=$value was accepted (it should be refused: only its default works today)"
  elif ! grep -a -qF "$key" "logs/$id.log"; then
    fail "$key=$value: refused without naming the key: $(cat "logs/$id.log")"
  else
    reached=$((reached + 1))
    [ "${VERBOSE:-0}" = 1 ] && echo "$key=$value: $(tail -1 "logs/$id.log")"
  fi
done <refused.txt

echo "config_keys_reach: $reached of $(wc -l <keys.txt) keys observed, in $(( $(date +%s) - start )) s"
if [ $failures -ne 0 ]; then
  echo "config_keys_reach: $failures failure(s) (KEEP_WORK=1 keeps $WORK)"
  exit 1
fi
