#!/usr/bin/env bash
# Runs a command with the Node.js of the Lambda runtime's major first on PATH (.tools/node, installed by
# scripts/setup-tools.sh), so tests, the demo and the benchmarks run on the runtime the functions run on.
#   scripts/with-node.sh <command> [args...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -x "$root/.tools/node/bin/node" ]; then
  echo "with-node: $root/.tools/node/bin/node is missing; run npm run setup (scripts/setup-tools.sh)" >&2
  exit 2
fi
export PATH="$root/.tools/node/bin:$root/node_modules/.bin:$PATH"
exec "$@"
