#!/usr/bin/env python3
"""Refuses a configure-time condition that can drop a test silently.

Usage: check_test_registration.py ROOT   (scans ROOT/tests/**/CMakeLists.txt)

A test registered inside an if() block (add_test, gtest_discover_tests or one of the tessera_add_*
helpers) exists only when the condition holds. Such an if()/elseif()/else() chain must also call
tessera_add_skipped_test() in one of its branches, so that where the condition fails the test is
reported as skipped (docs/testing.md, "Skip policy") rather than missing. Bodies of function() and
macro() definitions are not checked (they define the helpers). Prints one line per offending
if(), `FILE:LINE: ...`, and exits 1 when there is any.
"""
import pathlib
import re
import sys

REGISTERS = {"add_test", "gtest_discover_tests", "gtest_add_tests", "tessera_add_gtest",
             "tessera_add_mpi_test", "tessera_add_script_test", "tessera_comm_mpi_gtest"}
PLACEHOLDER = "tessera_add_skipped_test"
COMMAND = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def commands(text):
    """(line number, lower-case command name) of each command start, comments removed."""
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0]
        m = COMMAND.match(line)
        if m:
            yield number, m.group(1).lower()


def check_file(path):
    problems = []
    stack = []  # per open if(): [line, registers a test, has placeholder]
    definition = 0  # depth of function()/macro() bodies
    for number, name in commands(path.read_text(encoding="utf-8")):
        if name in ("function", "macro"):
            definition += 1
        elif name in ("endfunction", "endmacro"):
            definition -= 1
        elif definition:
            continue
        elif name == "if":
            stack.append([number, False, False])
        elif name == "endif" and stack:
            line, registers, placeholder = stack.pop()
            if registers and not placeholder:
                problems.append(f"{path}:{line}: this if() registers a test only when its "
                                f"condition holds; add an else() branch calling {PLACEHOLDER}"
                                "(<name> REASON ...) so it shows as skipped, not missing")
        elif stack and name in REGISTERS:
            stack[-1][1] = True
        elif stack and name == PLACEHOLDER:
            stack[-1][2] = True
    return problems


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    problems = []
    for path in sorted((root / "tests").rglob("CMakeLists.txt")):
        problems += check_file(path)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
