#!/usr/bin/env bash
# Runs tessera's libFuzzer targets (tests/fuzz: config text and --set strings, manifest JSON,
# checkpoint meta.json, the shard reader on file bytes, the NIfTI reader on .nii / .nii.gz
# bytes), each for SECONDS (default 60), built
# with clang and ASan + UBSan in build-fuzz/. Starts from the seed corpora in
# tests/fuzz/corpus/TARGET; what the run adds goes to build-fuzz/corpus/TARGET (not the repo).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      TARGET: config manifest meta shard nifti
#                                              (default all)
#
# A crash, a foreign exception (fuzz_common.h), a leak, a sanitizer report, a hang (-timeout, 10
# s per input) or an allocation over -malloc_limit_mb fails the run: the input is saved as
# build-fuzz/artifacts/TARGET/crash-* (or leak-, timeout-, oom-) and the script exits non-zero
# naming it. The shard target is the exception: HDF5 1.10 itself crashes and hangs on damaged
# files, so it fuzzes in fork mode and each death counts against tessera only when the stack
# printed at that moment has its innermost frame outside libhdf5 (below); a control run with a
# crash planted in our code (TESSERA_FUZZ_CONTROL) must fail that test first. The last lines
# are a table: target, seconds, executions, corpus size, result
# (also in build-fuzz/fuzz-summary.txt). Needs clang (scripts/setup.sh --fuzz installs it).
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(config manifest meta shard nifti)
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
# classify ART LOG: every death of a fork-mode run, by the innermost frame of its stack outside
# the sanitizer, libFuzzer and libc (see the shard target below). Sets hdf5, ours, why and
# warned (reports of jobs that did not die).
classify() {
  local art=$1 log=$2 r frame deaths reports stack c
  hdf5=0 ours=0 why="" warned=0
  for r in "$art"/report.*; do
    [ -e "$r" ] || continue
    # A job that lived on writes a report too: allocator_may_return_null's "WARNING:
    # AddressSanitizer failed to allocate N bytes" (HDF5 then reports an error). Only a report
    # with an ERROR line or a stack is a death (CI failed once on a warning-only report).
    grep -q -E 'ERROR: |^ +#[0-9]+ ' "$r" || { warned=$((warned + 1)); continue; }
    # A job over -rss_limit_mb prints no stack but a heap profile ("Live Heap Allocations", the
    # largest allocation contexts first): the largest context not allocated by libFuzzer itself
    # (fuzzer::FuzzerDriver's corpus buffers, for one) decides, its frames read as a stack.
    stack=$r
    if grep -q '^Live Heap Allocations' "$r"; then
      stack=$(mktemp)
      awk '/byte\(s\) .* allocation\(s\)/ { n++ } n { print > (f "." n) }' f="$stack" "$r"
      for c in $(ls "$stack".* | sort -t. -k3 -n); do
        grep -E '^ +#[0-9]+ ' "$c" | grep -v -E \
          'in (malloc|calloc|realloc|free|operator new)|interceptor|asan_|__sanitizer' |
          head -1 | grep -q 'fuzzer::' || { cat "$c" >"$stack"; break; }
      done
      rm -f "$stack".*
    fi
    frame=$(grep -E '^ +#[0-9]+ ' "$stack" | grep -v -E \
      'interceptor|in (malloc|calloc|realloc|free|strdup)|__sanitizer|sanitizer_common|asan_|fuzzer::|libc\.so|/sysdeps/|^ +#[0-9]+ 0x[0-9a-f]+ in __mem[a-z_0-9]+ string/|\(/[^ ]*/bin/fuzz_[a-z]+\+0x' |
      head -1)
    [ "$stack" = "$r" ] || rm -f "$stack"
    if grep -q libhdf5 <<<"$frame"; then
      hdf5=$((hdf5 + 1))
    else
      ours=$((ours + 1))
      why="$(grep -m1 -o 'ERROR: [A-Za-z]*: [a-z-]*' "$r") at $(sed -E 's/^ +#[0-9]+ 0x[0-9a-f]+ (in )?//' <<<"${frame:-none}" | cut -c1-120)"
      echo "fuzz.sh: $r: innermost frame outside libhdf5: ${frame:-none}"
    fi
  done
  # Every death libFuzzer counted must have left a report (a job dies once).
  deaths=$(grep -o 'oom/timeout/crash: [0-9]*/[0-9]*/[0-9]*' "$log" | tail -1 | grep -o '[0-9/]*$' |
    tr '/' '+')
  deaths=$((${deaths:-0}))
  reports=$((hdf5 + ours))
  if [ "$reports" -lt "$deaths" ]; then
    ours=$((ours + deaths - reports))
    why="$((deaths - reports)) of $deaths deaths left no report in $art"
    echo "fuzz.sh: $why"
  fi
}
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
  # fatal, and every death is classified by the innermost frame of its stack outside the
  # sanitizer, libFuzzer and libc: inside libhdf5 it is HDF5's (counted, reported); anywhere else
  # it is ours and fails the run. The stacks are the ones printed when it happened: log_path
  # makes each dying job write its sanitizer report, or the stack libFuzzer prints on a timeout
  # or an over-limit malloc, to $art/report.PID. (Re-running a saved input alone is no proof: a
  # crash inside HDF5 can depend on the heap a job built over thousands of inputs -- a memcpy
  # whose ranges overlap only there -- and then the re-run prints nothing. The re-runs below
  # only give the user a .stack beside each input.)
  mode=() logto=()
  if [ "$t" = shard ]; then
    mode=(-fork=1 -ignore_timeouts=1 -ignore_crashes=1)
    logto=(ASAN_OPTIONS="$asan:log_path=$PWD/$art/report" UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$PWD/$art/report")
  else
    logto=(ASAN_OPTIONS="$asan")
  fi
  if [ "$t" = shard ]; then
    # Control: the classifier must fail a crash of ours. With TESSERA_FUZZ_CONTROL, fuzz_shard
    # overflows a heap buffer in its own code after every shard it opens; 10 s of that must end
    # with a death classified as ours, at fuzz_shard.cpp.
    cart=$B/artifacts/$t-control
    rm -rf "$cart" "$B/corpus/$t-control"
    mkdir -p "$cart" "$B/corpus/$t-control"
    TESSERA_FUZZ_CONTROL=overflow ASAN_OPTIONS="$asan:log_path=$PWD/$cart/report" \
      UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$PWD/$cart/report" timeout -k 10 70 "$B/bin/fuzz_$t" \
      -max_total_time=10 -print_funcs=0 "${mode[@]}" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
      -artifact_prefix="$cart/" "$B/corpus/$t-control" "tests/fuzz/corpus/$t" >"$cart/log" 2>&1
    classify "$cart" "$cart/log" >"$cart/classified"
    if [ $ours -ge 1 ] && grep -q 'fuzz_shard\.cpp' <<<"$why"; then
      echo "fuzz.sh: control: $ours crash(es) of ours planted in fuzz_shard.cpp caught ($why)"
      printf '%-9s %8s %12s %8s  %s\n' control 10 - - "ok: the planted overflow fails the classifier" >>"$summary"
    else
      echo "fuzz.sh: control FAILED: a heap overflow planted in fuzz_shard.cpp was not classified" \
        "as ours (ours=$ours, hdf5=$hdf5; $cart)"
      printf '%-9s %8s %12s %8s  %s\n' control 10 - - "FAILED: the planted overflow was not caught" >>"$summary"
      failed=1
    fi
  fi
  env "${logto[@]}" timeout -k 10 $((SECONDS_PER + 60)) "$B/bin/fuzz_$t" -max_total_time="$SECONDS_PER" \
    "${mode[@]}" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 -print_funcs=0 \
    -artifact_prefix="$art/" "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')  # fork mode
  size=$(ls "$corpus" | wc -l)
  result=ok hdf5=0 ours=0 why=""
  if [ ${#mode[@]} -gt 0 ]; then
    classify "$art" "$log"
    for h in "$art"/timeout-* "$art"/crash-* "$art"/oom-* "$art"/leak-*; do
      [ -e "$h" ] && [ "${h%.stack}" = "$h" ] || continue
      (ASAN_OPTIONS=$asan exec timeout -k 5 60 "$B/bin/fuzz_$t" -timeout=5 -rss_limit_mb=2048 \
        -malloc_limit_mb=1024 "$h") >"$h.stack" 2>&1
    done
    # libFuzzer's exit status reports the ignored ones too: the run is good when it fuzzed for
    # its whole time and nothing was ours.
    # (Not anchored: libFuzzer truncates an over-long NEW_FUNC line without its newline, and the
    # next line follows on the same one; CI failed so once.)
    if [ $ours -eq 0 ] && grep -q 'INFO: fuzzed for' "$log"; then rc=0; else rc=1; fi
    [ $ours -ne 0 ] || [ $rc -eq 0 ] || why="the fuzzer did not run its whole time (no 'INFO: fuzzed for' in $log)"
    [ $hdf5 -eq 0 ] || result="ok; $hdf5 input(s) hang, crash or overallocate inside libhdf5 itself (known)"
    [ $warned -eq 0 ] || result="$result; $warned job(s) warned of a refused allocation and lived on"
  fi
  if [ $rc -ne 0 ]; then
    result="FAILED (rc $rc): ${why:-$(ls -t "$art" 2>/dev/null | head -1)}"
    failed=1
    echo "---- fuzz_$t: tail of $log"
    grep -v 'NEW_FUNC' "$log" | tail -40
  fi
  printf '%-9s %8s %12s %8s  %s\n' "$t" "$SECONDS_PER" "${execs:-?}" "$size" "$result" >>"$summary"
done
cat "$summary"
exit $failed
