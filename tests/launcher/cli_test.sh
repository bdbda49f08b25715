#!/usr/bin/env bash
# The `tessera` command line skeleton: --version, --help on every subcommand (listing its
# documented options), usage errors, exit codes (0 ok, 1 error, 2 not implemented yet), `--set`
# accepted repeatedly before or after CONFIG, and errors printed once on stderr.
# Each call is bounded by `timeout`; outputs go to files in a private temp dir.
set -uo pipefail
SRC=${TESSERA_SOURCE_DIR:?TESSERA_SOURCE_DIR must point at the source tree}
BIN=${TESSERA_BIN:?TESSERA_BIN must point at build/bin/tessera}
cd "$SRC" || exit 1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
n=0
run() {  # run args... -> $WORK/out, $WORK/err, $rc
  n=$((n + 1))
  timeout 60 "$BIN" "$@" >"$WORK/out" 2>"$WORK/err"
  rc=$?
}
expect_rc() { [ "$rc" -eq "$1" ] || fail "tessera ${*:2}: exit $rc, expected $1; stderr: $(cat "$WORK/err")"; }
expect_in() { grep -a -qF -- "$2" "$WORK/$1" || fail "$1 lacks '$2': $(cat "$WORK/$1")"; }

CFG=configs/ci/roads.yaml

run --version
expect_rc 0 --version
expect_in out "tessera 0."

run --help
expect_rc 0 --help
for c in train eval predict export launch submit status runs sweep report synth pack inspect config; do
  expect_in out "  $c "
done

run
[ "$rc" -ne 0 ] || fail "tessera without a subcommand should fail"
expect_in err "A subcommand is required"

run frobnicate
[ "$rc" -ne 0 ] || fail "an unknown subcommand should fail"

# --help of every subcommand names its documented options.
declare -A options=(
  [train]="CONFIG --set --resume"
  [eval]="CONFIG --set --checkpoint --split"
  [predict]="CONFIG --set --checkpoint --input --out --targets"
  [export]="CONFIG --set --checkpoint --out --format --opset"
  [launch]="CONFIG --set --np --hostfile --dry-run"
  [submit]="CONFIG --set --dry-run"
  [status]="RUN"
  [runs]="DIR"
  [sweep]="CONFIG --set --grid --seeds --np --dry-run"
  [report]="RUN_DIR --out"
  [synth]="--task --out --samples --size --shards --seed --val-fraction --test-fraction"
  [pack]="--task --inputs --targets --out --size --scale --noise --val-fraction --test-fraction"
  [inspect]="TARGET --set --verify --no-verify --write-manifest"
  [config]="show check keys"
)
for c in "${!options[@]}"; do
  run "$c" --help
  expect_rc 0 "$c" --help
  for o in ${options[$c]}; do expect_in out "$o"; done
done
run config show --help
expect_rc 0 config show --help
for o in CONFIG --set --partial; do expect_in out "$o"; done
run config check --help
expect_rc 0 config check --help
for o in CONFIG --set --partial; do expect_in out "$o"; done

# launch/submit/status (issue 7; behaviour in tests/cluster and tests/launcher/test_cluster_*):
# dry runs print the command / script on stdout and exit 0; a missing run is an error.
run launch "$CFG" --np 2 --dry-run
expect_rc 0 launch --dry-run
expect_in out "mpirun -np 2 "
run submit "$CFG" --dry-run --set cluster.nodes=2
expect_rc 0 submit --dry-run
expect_in out "#SBATCH --nodes=2"
run status "$WORK/no-such-run"
expect_rc 1 status of a missing run
expect_in err "expected a run directory"
run runs "$WORK/no-such-dir"
expect_rc 1 runs of a missing directory
expect_in err "no such directory"
mkdir -p "$WORK/empty-runs"
run runs "$WORK/empty-runs"
expect_rc 0 runs of an empty directory
expect_in out "no runs in"
run report "$WORK/no-such-run"
expect_rc 1 report of a missing run directory
expect_in err "RUN_DIR $WORK/no-such-run: no such directory"
run report
[ "$rc" -ne 0 ] || fail "report without a RUN_DIR should fail"

# Landed subcommands run for real (end-to-end coverage: tests/e2e).
run synth --task roads --out "$WORK/roads" --samples 8 --size 32
expect_rc 0 synth --task roads
# Progress of long operations (common/progress.h): not a terminal here, so plain lines (the
# interval set to 0 so that a short run shows them), each with an ETA, no carriage return; on a
# terminal (script(1) gives one: stderr a tty, TERM not dumb) one line rewritten with '\r'.
# Control: a short run at the default 10 s interval prints no progress line at all.
grep -a -q "synth roads .*ETA" "$WORK/err" && fail "a short synth printed progress lines: $(cat "$WORK/err")"
TESSERA_PROGRESS_INTERVAL_S=0 run synth --task roads --out "$WORK/roads-p" --samples 8 --size 32
expect_rc 0 synth with progress lines
expect_in err "synth roads 1/8 (12%)"
expect_in err "ETA"
expect_in err "synth roads 8/8 (100%) in "
[ "$(grep -a -c $'\r' "$WORK/err")" = 0 ] || fail "plain progress lines hold a carriage return"
timeout 60 script -qec "TERM=xterm $BIN synth --task roads --out $WORK/roads-t --samples 2000 --size 32 --shards 1" \
  /dev/null >"$WORK/tty" 2>&1 </dev/null || fail "synth under script(1) (bsdutils) failed: $(tail -3 "$WORK/tty")"
grep -a -q $'\rsynth roads [0-9]*/2000 (' "$WORK/tty" || fail "no terminal progress line: $(head -c 300 "$WORK/tty")"
run inspect "$CFG"
expect_rc 0 inspect "$CFG"
[ -s "$WORK/out" ] || fail "inspect CONFIG printed no layer table"
run inspect "$WORK/roads/train"
expect_rc 0 inspect a dataset directory
expect_in out "checksums: all 3 shard(s) OK"
expect_in out "per-sample checksums: every shard"
# The root synth wrote (train/ val/ test/): every split, in that order, and whether they agree.
run inspect "$WORK/roads"
expect_rc 0 inspect a dataset root
expect_in out "dataset root $WORK/roads: 3 split(s)"
expect_in out "splits agree on task"
for s in train val test; do expect_in out "dataset $WORK/roads/$s"; done
[ "$(grep -a '^dataset /' "$WORK/out" | sed 's|.*/||' | tr '\n' ' ')" = "train val test " ] ||
  fail "inspect ROOT: splits not in train, val, test order: $(grep -a '^dataset ' "$WORK/out")"
# Control: splits of different datasets under one root are reported as disagreeing.
mkdir -p "$WORK/mixed" && cp -r "$WORK/roads/train" "$WORK/mixed/train"
run synth --task denoise --out "$WORK/mixed-d" --samples 8 --size 32
cp -r "$WORK/mixed-d/val" "$WORK/mixed/val"
run inspect "$WORK/mixed"
expect_rc 0 inspect a root with disagreeing splits
expect_in out "WARNING: the splits disagree"
expect_in out "task differs: train has "
run inspect "$WORK/roads" --write-manifest
expect_rc 1 inspect ROOT --write-manifest
expect_in err "name the split, e.g. $WORK/roads/train"
mkdir -p "$WORK/no-dataset/sub"
run inspect "$WORK/no-dataset"
expect_rc 1 inspect a directory holding no dataset
# A dataset without manifest.json (as h5py writes them): inspect says so and offers
# --write-manifest, which records sizes and CRC32C; then a damaged shard is named by its checksum
# before HDF5 parses it (--verify, the default), and a second --write-manifest is refused.
mkdir -p "$WORK/h5py"
cp "$WORK/roads/train/shard-00000.h5" "$WORK/h5py/tiles.h5"
run inspect "$WORK/h5py" --verify
expect_rc 0 inspect a dataset without a manifest
expect_in out "--write-manifest $WORK/h5py"
run inspect "$WORK/h5py" --write-manifest
expect_rc 0 inspect --write-manifest
expect_in out "wrote $WORK/h5py/manifest.json: 1 shard(s)"
expect_in out "checksums: all 1 shard(s) OK"
run inspect "$WORK/h5py" --write-manifest
expect_rc 1 inspect --write-manifest with a manifest present
expect_in err "already has a manifest.json"
printf 'XXXXXXXX' | dd of="$WORK/h5py/tiles.h5" bs=1 seek=0 conv=notrunc status=none
run inspect "$WORK/h5py"
expect_rc 1 inspect a damaged shard
expect_in err "checksum mismatch"
run inspect "$WORK/h5py" --no-verify
expect_rc 1 inspect --no-verify of a damaged shard
grep -a -qF "checksum mismatch" "$WORK/err" && fail "--no-verify still checked checksums"
run inspect "$CFG" --write-manifest
expect_rc 1 inspect CONFIG --write-manifest
expect_in err "apply to a dataset directory"

# Config errors come before "not implemented": exit 1, one message, no location of the throw.
run train "$CFG" --set model.filters=0
expect_rc 1 train with a bad --set
expect_in err "tessera: error: --set model.filters=0: model.filters: expected an integer in [1, 1024], found 0"
grep -a -q "\.cpp:" "$WORK/err" && fail "config errors should not show the C++ throw site: $(cat "$WORK/err")"
run eval no/such/config.yaml
expect_rc 1 eval with a missing config
expect_in err "no/such/config.yaml: config file not found"

# CLI11 usage errors: non-zero, message on stderr.
run synth --task road --out x
[ "$rc" -ne 0 ] && [ "$rc" -ne 2 ] || fail "synth --task road: exit $rc, expected a usage error"
expect_in err "--task: road not in"
run eval "$CFG" --split everything
[ "$rc" -ne 0 ] && [ "$rc" -ne 2 ] || fail "eval --split everything: exit $rc, expected a usage error"
run export "$CFG" --out "$WORK/m.pt" --format keras
[ "$rc" -ne 0 ] && [ "$rc" -ne 2 ] || fail "export --format keras: exit $rc, expected a usage error"
expect_in err "--format: keras not in {state-dict,torchscript,onnx}"
[ -e "$WORK/m.pt" ] && fail "export with a bad --format wrote its --out"
run export "$CFG" --out "$WORK/m.pt" --opset 13
expect_rc 1 export --opset without --format onnx
expect_in err "--opset applies to --format onnx only"
run train
[ "$rc" -ne 0 ] && [ "$rc" -ne 2 ] || fail "train without CONFIG: exit $rc"
expect_in err "CONFIG is required"

# --set repeats, before or after CONFIG; the last one of a key wins.
run config show --set model.filters=8 "$CFG" --set optim.lr=0.5 --set model.filters=12
expect_rc 0 config show with --set
expect_in out "  filters: 12"
expect_in out "  lr: 0.5"
[ -s "$WORK/err" ] && fail "config show wrote to stderr: $(cat "$WORK/err")"

run config keys
expect_rc 0 config keys
expect_in out '| `optim.lr` | number |'

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s) in $n calls"
  exit 1
fi
echo "cli_skeleton: $n calls OK"
