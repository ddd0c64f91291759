#!/usr/bin/env bash
# The one test command (README: `npm test`): installs the external tools, then lint, typecheck, all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-tools.sh
# Everything below runs on the Lambda runtime's Node major (.tools/node), not the machine's own node.
export PATH="$PWD/.tools/node/bin:$PATH"
echo "test: node $(node --version) (the functions run on nodejs24.x)" >&2
npx biome ci .
npx tsc -p tsconfig.json --noEmit
# The deployable stack, offline (no AWS credentials): package and cfn-lint every stage; uat last, since
# test/unit/stack/*.test.ts read its template and bundles from .serverless/.
for stage in prod uat; do
  bash scripts/package.sh "$stage"
  bash scripts/cfn-lint.sh
done
npx jest --ci --maxWorkers=2 "$@"
