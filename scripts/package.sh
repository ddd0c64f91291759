#!/usr/bin/env bash
# Builds the deployable artefacts offline: `serverless package` (osls, the login-free distribution of the
# Serverless Framework) writes .serverless/cloudformation-template-update-stack.json and one zip per
# function (the esbuild bundles). No AWS credentials, profile or account login are needed or used:
# the credential variables are removed from the environment, so nothing can reach an account by accident.
#   scripts/package.sh [stage]        (default: uat)
set -euo pipefail
cd "$(dirname "$0")/.."
stage="${1:-uat}"
if [ ! -f "config/$stage.yml" ]; then
  echo "package: no stage file config/$stage.yml (stages: $(cd config && ls ./*.yml | sed 's|^\./||; s|\.yml$||' | tr '\n' ' '))" >&2
  exit 2
fi
rm -rf .serverless
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
  AWS_SDK_LOAD_CONFIG=0 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off NPM_CONFIG_UPDATE_NOTIFIER=false \
  timeout 600 npx --no-install serverless package --stage "$stage"
# Every stage's template is kept, for the IAM evaluation suite (test/unit/stack/iam-evaluation.test.ts).
mkdir -p .packaged
cp .serverless/cloudformation-template-update-stack.json ".packaged/$stage.json"
echo "package: .serverless/ holds the $stage template and bundles; .packaged/$stage.json the template" >&2
