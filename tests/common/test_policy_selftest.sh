#!/usr/bin/env bash
# The test of scripts/test.sh's counting and skip policy (docs/testing.md, "Skip policy"), fast:
# a throw-away ctest project (no compiler) whose tests pass, fail, skip with exit 77 (the real
# tests/common/skip_policy_probe.sh under TESSERA_TEST_FORCE_SKIP=1), or pass while printing a
# skipped GoogleTest case; scripts/lib/run_ctest.sh (test.sh's ctest half) runs it and must print
# the right `N passed, N failed, N skipped` as its last line, never "all tests passed", exit 0
# with a skip outside CI and non-zero under CI=true naming the test and its reason, unless
# the allowed-skips list names it. Then the configure-time check
# (scripts/lib/check_test_registration.py) on this tree and on a CMakeLists that drops a test.
set -u
SRC=${TESSERA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tessera-policy-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

mkdir -p "$WORK/toy"
cat >"$WORK/toy/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.20)
project(toy NONE)
enable_testing()
add_test(NAME ok COMMAND true)
add_test(NAME probe COMMAND $SRC/tests/common/skip_policy_probe.sh)
set_tests_properties(probe PROPERTIES SKIP_RETURN_CODE 77)
add_test(NAME inner COMMAND sh -c "printf '[ RUN      ] Multi.Case\\\\nx.cpp:9: Skipped\\\\nneeds 2+ ranks\\\\n[  SKIPPED ] Multi.Case (0 ms)\\\\n[  SKIPPED ] 1 test, listed below:\\\\n[  SKIPPED ] Multi.Case\\\\n'")
add_test(NAME bad COMMAND false)
add_test(NAME gone COMMAND $WORK/no-such-program)
EOF
cmake -S "$WORK/toy" -B "$WORK/build" >"$WORK/configure.log" 2>&1 || {
  cat "$WORK/configure.log"
  echo "FAIL: the toy ctest project did not configure"
  exit 1
}

# run NAME EXPECTED_RC EXPECTED_LAST_LINE CTEST_REGEX [VAR=value...]: runs run_ctest.sh.
run() {
  local name=$1 want_rc=$2 want_last=$3 regex=$4
  shift 4
  env -u CI "$@" bash "$SRC/scripts/lib/run_ctest.sh" "$WORK/build" -R "$regex" \
    >"$WORK/$name.log" 2>&1
  local rc=$?
  local last
  last=$(tail -n 1 "$WORK/$name.log")
  if [ "$last" != "$want_last" ]; then fail "$name: last line '$last', expected '$want_last'"; fi
  if { [ "$want_rc" = 0 ] && [ $rc -ne 0 ]; } || { [ "$want_rc" != 0 ] && [ $rc -eq 0 ]; }; then
    fail "$name: exit status $rc, expected $([ "$want_rc" = 0 ] && echo 0 || echo non-zero)"
  fi
  if grep -a -qi "all tests passed" "$WORK/$name.log"; then fail "$name: says 'all tests passed'"; fi
  if [ "$(grep -a -cE '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$WORK/$name.log")" != 1 ]; then
    fail "$name: the count line is not printed exactly once"
  fi
}
expect_in() {  # NAME TEXT: the log of run NAME contains TEXT
  grep -a -qF -- "$2" "$WORK/$1.log" || fail "$1: output lacks '$2'"
}
show_failed() { [ $failures -eq 0 ] || for f in "$WORK"/*.log; do echo "----- $f"; cat "$f"; done; }

printf 'pro*  deliberate, in this self-test\n' >"$WORK/allow-probe.txt"
printf 'Multi.*  deliberate, in this self-test\n' >"$WORK/allow-case.txt"
printf 'probe\n' >"$WORK/allow-noreason.txt"
empty=$WORK/allow-none.txt
: >"$empty"

run plain 0 "2 passed, 0 failed, 0 skipped" '^(ok|probe)$' TESSERA_ALLOWED_SKIPS="$empty"
run plain_ci 0 "2 passed, 0 failed, 0 skipped" '^(ok|probe)$' CI=true TESSERA_ALLOWED_SKIPS="$empty"
# The control: a deliberately skipping test.
run skip 0 "1 passed, 0 failed, 1 skipped" '^(ok|probe)$' TESSERA_TEST_FORCE_SKIP=1 \
  TESSERA_ALLOWED_SKIPS="$empty"
expect_in skip "SKIPPED  probe: TESSERA_TEST_FORCE_SKIP=1 (deliberate skip"
run skip_ci 1 "1 passed, 0 failed, 1 skipped" '^(ok|probe)$' TESSERA_TEST_FORCE_SKIP=1 CI=true \
  TESSERA_ALLOWED_SKIPS="$empty"
expect_in skip_ci "CI=true: probe was skipped (TESSERA_TEST_FORCE_SKIP=1 (deliberate skip"
expect_in skip_ci "is not in the allowed-skips list"
run skip_ci_listed 0 "1 passed, 0 failed, 1 skipped" '^(ok|probe)$' TESSERA_TEST_FORCE_SKIP=1 \
  CI=true TESSERA_ALLOWED_SKIPS="$WORK/allow-probe.txt"
expect_in skip_ci_listed "[allowed: deliberate, in this self-test]"
# The real list (tests/allowed_skips.txt) does not allow the probe.
run skip_ci_real_list 1 "1 passed, 0 failed, 1 skipped" '^(ok|probe)$' TESSERA_TEST_FORCE_SKIP=1 \
  CI=true
# A GoogleTest case skipped inside a test that ctest counts as passed.
run inner 0 "0 passed, 0 failed, 1 skipped" '^inner$' TESSERA_ALLOWED_SKIPS="$empty"
expect_in inner "SKIPPED  inner: Multi.Case: needs 2+ ranks"
run inner_ci 1 "0 passed, 0 failed, 1 skipped" '^inner$' CI=true TESSERA_ALLOWED_SKIPS="$empty"
expect_in inner_ci "CI=true: inner: Multi.Case was skipped (needs 2+ ranks)"
run inner_ci_listed 0 "0 passed, 0 failed, 1 skipped" '^inner$' CI=true \
  TESSERA_ALLOWED_SKIPS="$WORK/allow-case.txt"
# Failures: a failing test, and one whose executable is missing (ctest "Not Run").
run failed 1 "1 passed, 2 failed, 0 skipped" '^(ok|bad|gone)$' TESSERA_ALLOWED_SKIPS="$empty"
expect_in failed "FAILED   bad"
expect_in failed "FAILED   gone (not run: Unable to find executable"
# An allowed-skips line without a reason is refused.
env -u CI TESSERA_ALLOWED_SKIPS="$WORK/allow-noreason.txt" \
  bash "$SRC/scripts/lib/run_ctest.sh" "$WORK/build" -R '^ok$' >"$WORK/noreason.log" 2>&1 &&
  fail "noreason: an allowed-skips line without a reason was accepted"
expect_in noreason "has no reason"

# Configure-time conditions: this tree passes; a test behind if() without a placeholder fails.
python3 "$SRC/scripts/lib/check_test_registration.py" "$SRC" >"$WORK/lint_tree.log" 2>&1 ||
  fail "check_test_registration.py refuses this tree: $(cat "$WORK/lint_tree.log")"
mkdir -p "$WORK/lint/tests/x"
cat >"$WORK/lint/tests/x/CMakeLists.txt" <<'EOF'
find_program(FOO foo)
if(FOO)
  tessera_add_script_test(needs_foo COMMAND ${FOO})
endif()
EOF
python3 "$SRC/scripts/lib/check_test_registration.py" "$WORK/lint" >"$WORK/lint_bad.log" 2>&1 &&
  fail "check_test_registration.py accepted a test dropped when a tool is missing"
expect_in lint_bad "tests/x/CMakeLists.txt:2: this if() registers a test only when"
cat >"$WORK/lint/tests/x/CMakeLists.txt" <<'EOF'
find_program(FOO foo)
if(FOO)
  tessera_add_script_test(needs_foo COMMAND ${FOO})
else()
  tessera_add_skipped_test(needs_foo REASON "foo is not installed")
endif()
EOF
python3 "$SRC/scripts/lib/check_test_registration.py" "$WORK/lint" >"$WORK/lint_good.log" 2>&1 ||
  fail "check_test_registration.py refused an if() with a skipped placeholder"

show_failed
if [ $failures -ne 0 ]; then
  echo "test_policy_selftest: $failures failure(s)"
  exit 1
fi
echo "test_policy_selftest: all checks passed"
