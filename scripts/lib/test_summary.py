#!/usr/bin/env python3
"""Counts a ctest run and applies the skip policy (docs/testing.md, "Skip policy").

Input: the JUnit XML that `ctest --output-junit FILE` writes. Output: one line per skipped or
failed test naming it and why, then, as the LAST line, exactly `N passed, N failed, N skipped`.

Counting (one count per ctest test):
  passed   status "run" and no GoogleTest case inside it was skipped;
  skipped  ctest skipped it (SKIP_RETURN_CODE, e.g. exit 77; SKIP_REGULAR_EXPRESSION, which
           gtest_discover_tests sets for GTEST_SKIP; the DISABLED property), or it passed but its
           output shows GoogleTest cases skipped inside it (`[  SKIPPED ] Suite.Case`, e.g. a
           multi-rank gtest binary started on one rank);
  failed   everything else, including "Not Run" for a missing executable or a failed fixture.

Skip policy: with CI=true in the environment (or --ci), every skip must match a line of the
allowed-skips file (`PATTERN  REASON`, PATTERN an fnmatch glob of the ctest name or of the
GoogleTest case, REASON required), else the run fails naming the test and its skip reason.
Exit status: 0 when nothing failed (and, under CI, no unlisted skip), else 1.
"""
import argparse
import fnmatch
import os
import re
import sys
import xml.etree.ElementTree as ET

# ctest's <skipped message="..."> for a test that really skipped (other "notrun" = failure).
SKIP_MESSAGES = ("SKIP_RETURN_CODE", "SKIP_REGULAR_EXPRESSION_MATCHED", "Disabled")
GTEST_SKIPPED = re.compile(r"^\[  SKIPPED \] (\S+\.\S+)")


def read_allowed(path):
    """[(pattern, reason)] from PATH; a line without a reason is an error."""
    allowed = []
    if not path or not os.path.exists(path):
        return allowed
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split(None, 1)
            if len(parts) < 2:
                raise SystemExit(f"{path}:{number}: `{parts[0]}` has no reason; each line is "
                                 "`PATTERN  REASON`")
            allowed.append((parts[0], parts[1].strip()))
    return allowed


def gtest_skip_reasons(output):
    """{case: reason} for every `[  SKIPPED ] Suite.Case` in a GoogleTest output."""
    lines = output.splitlines()
    reasons = {}
    for i, line in enumerate(lines):
        m = GTEST_SKIPPED.match(line)
        if not m or "listed below" in line:
            continue
        case = m.group(1)
        reason = ""
        for j in range(i - 1, max(-1, i - 30), -1):  # back to the case's `[ RUN      ]`
            if lines[j].startswith("[ RUN      ]"):
                break
            if lines[j].rstrip().endswith(": Skipped") and j + 1 < i:
                reason = lines[j + 1].strip()
                break
        reasons.setdefault(case, reason or "GTEST_SKIP")
    return reasons


def script_skip_reason(output, message):
    """The reason a skipped script or executable printed (last `SKIP: ...` line, else last line)."""
    lines = [l.strip() for l in output.splitlines() if l.strip()]
    for line in reversed(lines):
        if line.startswith("SKIP:"):
            return line[len("SKIP:"):].strip()
    gtest = gtest_skip_reasons(output)
    if gtest:
        return "; ".join(f"{c}: {r}" for c, r in sorted(gtest.items()))
    return lines[-1] if lines else message


def classify(case):
    """(kind, [(name, reason)]) for one <testcase>: kind passed | failed | skipped."""
    name = case.get("name", "?")
    status = case.get("status", "")
    out_el = case.find("system-out")
    output = (out_el.text or "") if out_el is not None else ""
    skipped_el = case.find("skipped")
    if status == "run":
        inner = gtest_skip_reasons(output)
        if inner:
            return "skipped", [(f"{name}: {c}", r) for c, r in sorted(inner.items())]
        return "passed", []
    if status in ("notrun", "disabled") and skipped_el is not None:
        message = skipped_el.get("message", "")
        if status == "disabled" or message.startswith(SKIP_MESSAGES):
            reason = "disabled" if status == "disabled" else script_skip_reason(output, message)
            return "skipped", [(name, reason)]
        return "failed", [(name, f"not run: {message}")]
    return "failed", [(name, "failed")]


def allowed_reason(entry, allowed):
    """The list's reason when `entry` ("ctest" or "ctest: Suite.Case") matches a pattern."""
    names = [entry] + [part.strip() for part in entry.split(": ", 1)[1:]]
    for pattern, reason in allowed:
        if any(fnmatch.fnmatchcase(n, pattern) for n in names):
            return reason
    return None


def summarize(junit, allowed, ci, ctest_rc=0, out=sys.stdout):
    """Prints the report; returns the exit status."""
    try:
        cases = list(ET.parse(junit).getroot().iter("testcase"))
    except (OSError, ET.ParseError) as e:
        print(f"test.sh: no readable ctest result ({junit}: {e})", file=out)
        print("0 passed, 0 failed, 0 skipped", file=out)
        return 1
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failures, unlisted = [], []
    for case in cases:
        kind, entries = classify(case)
        counts[kind] += 1
        for entry, reason in entries:
            if kind == "failed":
                failures.append(entry)
                print(f"FAILED   {entry} ({reason})", file=out)
                continue
            listed = allowed_reason(entry, allowed)
            if listed is not None:
                print(f"SKIPPED  {entry}: {reason} [allowed: {listed}]", file=out)
            else:
                print(f"SKIPPED  {entry}: {reason}", file=out)
                unlisted.append((entry, reason))
    status = 1 if counts["failed"] else 0
    if ctest_rc != 0 and not counts["failed"]:
        print(f"test.sh: ctest exited with status {ctest_rc} (see its output above)", file=out)
        status = 1
    if unlisted and ci:
        for entry, reason in unlisted:
            print(f"test.sh: CI=true: {entry} was skipped ({reason}) and is not in the "
                  "allowed-skips list (tests/allowed_skips.txt, see docs/testing.md)", file=out)
        status = 1
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped",
          file=out)
    return status


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("junit", help="ctest --output-junit file")
    p.add_argument("--allowed", default="", help="allowed-skips file")
    p.add_argument("--ci", action="store_true", help="apply the CI policy (default: CI=true)")
    p.add_argument("--ctest-rc", type=int, default=0, help="ctest's exit status")
    a = p.parse_args()
    ci = a.ci or os.environ.get("CI", "").lower() == "true"
    return summarize(a.junit, read_allowed(a.allowed), ci, a.ctest_rc)


if __name__ == "__main__":
    sys.exit(main())
