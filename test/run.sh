#!/usr/bin/env bash
# The test command: type-check, then every test. Ends with the line `N passed, N failed`.
set -u
cd "$(dirname "$0")/.."
if ! npx tsc --noEmit; then
  echo "type check failed"
  echo "0 passed, 1 failed"
  exit 1
fi
npx vitest run "$@"
