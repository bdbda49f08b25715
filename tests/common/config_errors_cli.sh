#!/usr/bin/env bash
# Errors name what the user controls (docs/config.md, "Relations between keys", last part): when
# a component fails on a value from the config, the message starts with the key and where it was
# set, before the source location:
#   tessera train configs/roads.yaml (no data/)  ->  data.train (set in configs/roads.yaml:13):
#                                                     manifest.cpp:NNN: dataset directory
#                                                     data/roads/train does not exist
# Also data.train from --set, data.val, and `tessera eval --split test` (data.test). The control:
# the same failure reached through the command line rather than a key (`tessera inspect DIR`)
# names no key, so the test tells a keyed message from any other.
# Each tessera call is bounded by `timeout`; outputs go to files in a private temp dir.
set -uo pipefail
SRC=${TESSERA_SOURCE_DIR:?TESSERA_SOURCE_DIR must point at the source tree}
BIN=${TESSERA_BIN:?TESSERA_BIN must point at build/bin/tessera}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
unset TESSERA_LOG_LEVEL
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tessera-errors-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
cp -r "$SRC/configs" configs
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
run() {  # run NAME args... -> NAME.out / NAME.err, $rc
  timeout -k 10 120 "$BIN" "${@:2}" >"$1.out" 2>"$1.err" </dev/null
  rc=$?
}
# expect_error NAME PREFIX TEXT: the run failed (not a timeout), and stderr has a line with
# PREFIX, followed on the same line by a source location `file.cpp:N: ` and TEXT.
expect_error() {
  local name=$1 prefix=$2 text=$3
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    fail "$name: exit status $rc, expected a clean failure"
  fi
  if ! grep -a -F -- "$prefix" "$name.err" | grep -a -qE -- "[a-z_]+\.cpp:[0-9]+: .*$(printf '%s' "$text" | sed 's/[][\.*^$/]/\\&/g')"; then
    fail "$name: stderr lacks '$prefix <file.cpp:N>: ... $text'; it was: $(cat "$name.err")"
  fi
  # The key comes before the source location.
  local line
  line=$(grep -a -F -- "$prefix" "$name.err" | head -1)
  case "$line" in
    *"$prefix"*.cpp:*) ;;
    *) fail "$name: the key does not come before the source location: $line" ;;
  esac
}

line=$(grep -a -n '^  train: data/roads/train' configs/roads.yaml | cut -d: -f1)
[ -n "$line" ] || { echo "FAIL: configs/roads.yaml has no data.train line"; exit 1; }
run train_nodata train configs/roads.yaml
expect_error train_nodata "tessera: error: data.train (set in configs/roads.yaml:$line): " \
  "dataset directory data/roads/train does not exist"

run train_set train configs/roads.yaml --set data.train=elsewhere/train
expect_error train_set "data.train (set by --set data.train=elsewhere/train): " \
  "dataset directory elsewhere/train does not exist"

# Real training data, a missing validation directory.
timeout 120 "$BIN" synth --task roads --out data/roads --samples 12 --size 32 --shards 1 \
  --val-fraction 0.2 --test-fraction 0.2 >synth.log 2>&1 || { cat synth.log; exit 1; }
tiny=(--set model.filters=2 --set model.depth=2 --set data.image_size=32 --set data.batch_size=2
      --set train.max_steps=2 --set schedule.warmup_steps=1 --set train.eval_every=0
      --set train.checkpoint_every=0 --set logging.progress=off)
run train_noval train configs/roads.yaml "${tiny[@]}" --set data.val=data/roads/nothing
expect_error train_noval "data.val (set by --set data.val=data/roads/nothing): " \
  "dataset directory data/roads/nothing does not exist"

# eval --split test on a trained run whose data.test is missing.
run train_ok train configs/roads.yaml "${tiny[@]}"
[ "$rc" -eq 0 ] || fail "tiny training run failed: $(tail -5 train_ok.err)"
rm -rf data/roads/test
line=$(grep -a -n '^  test: data/roads/test' configs/roads.yaml | cut -d: -f1)
run eval_notest eval configs/roads.yaml "${tiny[@]}" --checkpoint latest --split test
expect_error eval_notest "data.test (set in configs/roads.yaml:$line): " \
  "dataset directory data/roads/test does not exist"

# The control: a directory given on the command line, not through a key.
run inspect_nodir inspect data/roads/nowhere
if [ "$rc" -eq 0 ]; then fail "inspect of a missing directory succeeded"; fi
grep -a -q "data\.[a-z]* (set" inspect_nodir.err && fail "control: inspect names a config key: $(cat inspect_nodir.err)"
grep -a -q "nowhere" inspect_nodir.err || fail "control: inspect's error lacks the path: $(cat inspect_nodir.err)"

if [ $failures -ne 0 ]; then
  echo "config_errors_cli: $failures failure(s)"
  exit 1
fi
echo "config_errors_cli: all checks passed"
