#!/usr/bin/env bash
# Runs tessera's libFuzzer targets (tests/fuzz: config text and --set strings, manifest JSON,
# checkpoint meta.json, the shard reader on file bytes), each for SECONDS (default 60), built
# with clang and ASan + UBSan in build-fuzz/. Starts from the seed corpora in
# tests/fuzz/corpus/TARGET; what the run adds goes to build-fuzz/corpus/TARGET (not the repo).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      TARGET: config manifest meta shard (default all)
#
# A crash, a foreign exception (fuzz_common.h), a leak, a sanitizer report, a hang (-timeout, 10
# s per input) or an allocation over -malloc_limit_mb fails the run: the input is saved as
# build-fuzz/artifacts/TARGET/crash-* (or leak-, timeout-, oom-) and the script exits non-zero
# naming it. The last lines are a table: target, seconds, executions, corpus size, result
# (also in build-fuzz/fuzz-summary.txt). Needs clang (scripts/setup.sh --fuzz installs it).
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(config manifest meta shard)
B=${TESSERA_FUZZ_BUILD_DIR:-build-fuzz}
bash scripts/setup.sh --fuzz >/dev/null || { echo "fuzz.sh: scripts/setup.sh --fuzz failed"; exit 2; }
if [ ! -f "$B/build.ninja" ] && [ ! -f "$B/Makefile" ]; then
  gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
  CC=clang CXX=clang++ cmake -S tests/fuzz -B "$B" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    >"$B.configure.log" 2>&1 || { cat "$B.configure.log"; exit 2; }
fi
cmake --build "$B" -j "${TESSERA_JOBS:-$(nproc)}" >"$B/build.log" 2>&1 ||
  { tail -30 "$B/build.log"; echo "fuzz.sh: build failed (log $B/build.log)"; exit 2; }
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
summary=$B/fuzz-summary.txt
printf '%-9s %8s %12s %8s  %s\n' target seconds executions corpus result >"$summary"
failed=0
for t in "${TARGETS[@]}"; do
  [ -x "$B/bin/fuzz_$t" ] || { echo "fuzz.sh: unknown target '$t'"; exit 2; }
  corpus=$B/corpus/$t art=$B/artifacts/$t log=$B/fuzz-$t.log
  rm -rf "$art"; mkdir -p "$corpus" "$art"  # artifacts: this run's only
  # -max_total_time bounds the run; timeout(1) bounds it again should libFuzzer itself hang.
  # The shard target: libhdf5 has no frame pointers, so the slow unwinder is needed for
  # lsan.supp's frames to be seen; and H5Fopen of a damaged file asks malloc for sizes such as
  # 2^64 - 65048 bytes, for which glibc returns NULL and HDF5 reports an error (which we turn
  # into a tessera::Error): allocator_may_return_null=1 gives that same NULL under ASan. An
  # allocation of ours sized by the file still fails the run (-malloc_limit_mb, or bad_alloc
  # escaping as a foreign exception).
  asan=$ASAN_OPTIONS
  [ "$t" = shard ] && asan=$asan:fast_unwind_on_malloc=0:allocator_may_return_null=1
  # HDF5 1.10's own parser hangs and crashes on some damaged files (H5HG_read of a
  # variable-length string attribute loops forever or memcpy()s 2^64 bytes: docs/RELIABILITY.md).
  # So the shard target fuzzes in libFuzzer's fork mode with hangs and crashes collected, not
  # fatal; each is re-run below and classified by the innermost frame of its stack outside the
  # sanitizer and libc: inside libhdf5 it is HDF5's (counted, reported); anywhere else it is
  # ours and fails the run.
  mode=(); [ "$t" = shard ] && mode=(-fork=1 -ignore_timeouts=1 -ignore_crashes=1)
  ASAN_OPTIONS=$asan timeout -k 10 $((SECONDS_PER + 60)) "$B/bin/fuzz_$t" -max_total_time="$SECONDS_PER" \
    "${mode[@]}" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 \
    -artifact_prefix="$art/" "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')  # fork mode
  size=$(ls "$corpus" | wc -l)
  result=ok hdf5=0 ours=0
  if [ ${#mode[@]} -gt 0 ]; then
    for h in "$art"/leak-*; do
      [ -e "$h" ] || continue  # with lsan.supp, a leak outside libhdf5: ours
      ours=$((ours + 1)); echo "fuzz.sh: $h leaks (not inside libhdf5)"
    done
    for h in "$art"/timeout-* "$art"/crash-* "$art"/oom-*; do
      [ -e "$h" ] && [ "${h%.stack}" = "$h" ] || continue
      (ASAN_OPTIONS=$asan exec timeout -k 5 60 "$B/bin/fuzz_$t" -timeout=5 -rss_limit_mb=2048 \
        -malloc_limit_mb=1024 "$h") >"$h.stack" 2>&1
      frame=$(grep -E '^ +#[0-9]+ ' "$h.stack" | grep -v -E \
        'interceptor|in (malloc|calloc|realloc|free)|__sanitizer|sanitizer_common|asan_|fuzzer::|libc\.so|\(/[^ ]*/bin/fuzz_[a-z]+\+0x' |
        head -1)
      if grep -q libhdf5 <<<"$frame"; then
        hdf5=$((hdf5 + 1))
      else
        ours=$((ours + 1))
        echo "fuzz.sh: $h fails outside libhdf5: $frame (stack: $h.stack)"
      fi
    done
    # libFuzzer's exit status reports the ignored ones too: the run is good when it fuzzed for
    # its whole time and nothing was ours.
    if [ $ours -eq 0 ] && grep -q '^INFO: fuzzed for' "$log"; then rc=0; else rc=1; fi
    [ $hdf5 -eq 0 ] || result="ok; $hdf5 input(s) hang, crash or overallocate inside libhdf5 itself (known)"
  fi
  if [ $rc -ne 0 ]; then
    result="FAILED (rc $rc): $(ls -t "$art" 2>/dev/null | head -1)"
    failed=1
    echo "---- fuzz_$t: tail of $log"
    tail -40 "$log"
  fi
  printf '%-9s %8s %12s %8s  %s\n' "$t" "$SECONDS_PER" "${execs:-?}" "$size" "$result" >>"$summary"
done
cat "$summary"
exit $failed
