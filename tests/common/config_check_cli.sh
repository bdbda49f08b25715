#!/usr/bin/env bash
# `tessera config check/show` end to end:
#  - every broken fixture in tests/fixtures/bad_configs/*.yaml fails and prints each of its
#    `# expect:` fragments on stderr (`# args:` lines add arguments, e.g. `--set` errors). The
#    fixtures without arguments are checked in one `config check` call (it reports every file, one
#    stderr line per invalid file, in order); those with arguments, one call each, which also
#    checks the single-file contract: exit 1, nothing on stdout;
#  - every experiment in configs/ and configs/ci/ passes; configs/base/* pass with --partial
#    (bases lack experiment.name) and fail without it;
#  - `config show` prints only the YAML document (13 sections), with --set applied, and showing
#    that YAML again gives the same text.
# (Each call starts a process that loads LibTorch, ~0.5 s: calls are batched.)
# Each tessera call is bounded by `timeout`; outputs go to files in a private temp dir.
set -uo pipefail
SRC=${TESSERA_SOURCE_DIR:?TESSERA_SOURCE_DIR must point at the source tree}
BIN=${TESSERA_BIN:?TESSERA_BIN must point at build/bin/tessera}
cd "$SRC" || exit 1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
run() {  # run <name> args... -> $WORK/<name>.out/.err and $rc
  timeout 60 "$BIN" "${@:2}" >"$WORK/$1.out" 2>"$WORK/$1.err"
  rc=$?
}
check_fragments() {  # check_fragments <fixture> <file holding its error>
  local n=0 fragment
  while IFS= read -r fragment; do
    n=$((n + 1))
    grep -a -qF -- "$fragment" "$2" || fail "$1: error lacks '$fragment'; it was: $(cat "$2")"
  done < <(sed -n 's/^# expect: //p' "$1")
  [ "$n" -gt 0 ] || fail "$1 has no '# expect:' line"
  grep -a -q '^tessera: error: ' "$2" || fail "$1: no 'tessera: error: ' line: $(cat "$2")"
}

plain=() with_args=()
for f in tests/fixtures/bad_configs/*.yaml; do
  if grep -a -q '^# args:' "$f"; then with_args+=("$f"); else plain+=("$f"); fi
done
total=$((${#plain[@]} + ${#with_args[@]}))
[ "$total" -ge 25 ] || fail "expected at least 25 fixtures, found $total"

run plain config check "${plain[@]}"
[ "$rc" -eq 1 ] || fail "config check <fixtures>: exit code $rc, expected 1"
[ -s "$WORK/plain.out" ] && fail "fixtures reported OK: $(cat "$WORK/plain.out")"
lines=$(wc -l <"$WORK/plain.err")
if [ "$lines" -ne "${#plain[@]}" ]; then
  fail "expected one error line per fixture (${#plain[@]}), got $lines: $(cat "$WORK/plain.err")"
else
  i=0
  for f in "${plain[@]}"; do
    i=$((i + 1))
    sed -n "${i}p" "$WORK/plain.err" >"$WORK/line$i.err"
    check_fragments "$f" "$WORK/line$i.err"
  done
fi

for f in "${with_args[@]}"; do
  name=$(basename "$f" .yaml)
  args=()
  while IFS= read -r line; do
    read -r -a more <<<"${line#\# args:}"
    args+=("${more[@]}")
  done < <(grep -a '^# args:' "$f")
  run "$name" config check "$f" "${args[@]}"
  [ "$rc" -eq 1 ] || fail "$f: exit code $rc, expected 1"
  [ -s "$WORK/$name.out" ] && fail "$f: stdout not empty: $(cat "$WORK/$name.out")"
  check_fragments "$f" "$WORK/$name.err"
done

experiments=(configs/*.yaml configs/ci/*.yaml)
run experiments config check "${experiments[@]}"
[ "$rc" -eq 0 ] || fail "config check configs/*.yaml configs/ci/*.yaml: exit $rc: $(cat "$WORK/experiments.err")"
[ "$(grep -a -c ': OK$' "$WORK/experiments.out")" -eq "${#experiments[@]}" ] ||
  fail "not every experiment printed OK: $(cat "$WORK/experiments.out")"

bases=(configs/base/*.yaml)
run bases config check --partial "${bases[@]}"
[ "$rc" -eq 0 ] || fail "config check --partial configs/base/*.yaml: exit $rc: $(cat "$WORK/bases.err")"
run bases_strict config check "${bases[@]}"
[ "$rc" -eq 1 ] || fail "bases without --partial: exit $rc, expected 1"
[ "$(grep -a -c 'missing required key `experiment.name`' "$WORK/bases_strict.err")" -eq "${#bases[@]}" ] ||
  fail "every base should lack experiment.name: $(cat "$WORK/bases_strict.err")"

shown=()
for f in configs/*.yaml; do
  name=show_$(basename "$f" .yaml)
  run "$name" config show "$f" --set train.log_every=7
  [ "$rc" -eq 0 ] || { fail "config show $f: exit $rc: $(cat "$WORK/$name.err")"; continue; }
  [ -s "$WORK/$name.err" ] && fail "config show $f wrote to stderr: $(cat "$WORK/$name.err")"
  grep -a -q '^  log_every: 7$' "$WORK/$name.out" || fail "config show $f: --set not applied"
  /usr/bin/python3 -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); assert isinstance(d, dict) and len(d) == 13, list(d)' \
    "$WORK/$name.out" || fail "config show $f: stdout is not the 13-section YAML document"
  cp "$WORK/$name.out" "$WORK/$name.yaml"
  shown+=("$WORK/$name.yaml")
done
run shown config check "${shown[@]}"
[ "$rc" -eq 0 ] || fail "shown configs do not check: $(cat "$WORK/shown.err")"
for name in show_roads show_superres; do
  run "${name}_again" config show "$WORK/$name.yaml"
  cmp -s "$WORK/$name.out" "$WORK/${name}_again.out" || fail "config show is not a fixed point ($name)"
done

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "config_check_cli: $total fixtures, ${#experiments[@]} experiments, ${#bases[@]} bases: OK"
