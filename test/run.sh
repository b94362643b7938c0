#!/usr/bin/env bash
# The test command: type-check, then every test. Ends with the line `N passed, N failed`.
set -u
cd "$(dirname "$0")/.."
if ! npx tsc --noEmit || { [ -f renderer/tsconfig.json ] && ! npx tsc --noEmit -p renderer/tsconfig.json; }; then
  echo "type check failed"
  echo "0 passed, 1 failed"
  exit 1
fi
npx vitest run "$@"
