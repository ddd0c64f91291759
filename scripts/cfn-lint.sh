#!/usr/bin/env bash
# Lints the CloudFormation template written by scripts/package.sh with the pinned cfn-lint
# (scripts/setup-tools.sh installs it in .tools/venv). Warnings fail too: the template must be clean.
#   scripts/cfn-lint.sh [template]   (default: .serverless/cloudformation-template-update-stack.json)
set -euo pipefail
cd "$(dirname "$0")/.."
template="${1:-.serverless/cloudformation-template-update-stack.json}"
cfn_lint=.tools/venv/bin/cfn-lint
if [ ! -x "$cfn_lint" ]; then
  echo "cfn-lint: $cfn_lint is missing; run npm run setup (scripts/setup-tools.sh)" >&2
  exit 2
fi
if [ ! -f "$template" ]; then
  echo "cfn-lint: $template is missing; run npm run package first" >&2
  exit 2
fi
"$cfn_lint" --version >&2
"$cfn_lint" "$template"
echo "cfn-lint: $template is clean" >&2
