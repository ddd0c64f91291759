#!/usr/bin/env bash
# The one test command (README: `npm test`): installs the external tools, then lint, typecheck, all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-tools.sh
npx biome ci .
npx tsc -p tsconfig.json --noEmit
npx jest --ci --maxWorkers=2 "$@"
