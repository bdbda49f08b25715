#!/usr/bin/env bash
# The skip policy's control (docs/testing.md, "Skip policy"): passes, or, with
# TESSERA_TEST_FORCE_SKIP=1, skips (exit 77, ctest's SKIP_RETURN_CODE) the way a test whose tool
# is missing does. `TESSERA_TEST_FORCE_SKIP=1 CI=true scripts/test.sh -R skip_policy_probe` must
# fail naming this test; without CI=true it passes with `0 passed, 0 failed, 1 skipped`.
if [ "${TESSERA_TEST_FORCE_SKIP:-0}" = 1 ]; then
  echo "SKIP: TESSERA_TEST_FORCE_SKIP=1 (deliberate skip, the skip policy's control)"
  exit 77
fi
echo "skip_policy_probe: ran (set TESSERA_TEST_FORCE_SKIP=1 to make it skip)"
