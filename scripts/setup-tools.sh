#!/usr/bin/env bash
# Installs the project's external test tools into .tools/ (idempotent, pinned):
#   - moto[server] (the AWS emulator) and cfn-lint, in a Python virtualenv
#   - the real Helm client, built from the Go module proxy
set -euo pipefail

MOTO_VERSION=5.2.5
CFN_LINT_VERSION=1.58.0
HELM_VERSION=v3.21.4

root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools/bin"

python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null; then
  echo "setup-tools: python3 is required for the moto emulator and cfn-lint" >&2
  exit 1
fi
stamp="$tools/venv/.installed-moto-$MOTO_VERSION-cfnlint-$CFN_LINT_VERSION"
if [ ! -f "$stamp" ]; then
  echo "setup-tools: installing moto[server]==$MOTO_VERSION and cfn-lint==$CFN_LINT_VERSION into .tools/venv" >&2
  "$python" -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" "cfn-lint==$CFN_LINT_VERSION"
  touch "$stamp"
fi

if ! [ -x "$tools/bin/helm" ] || ! "$tools/bin/helm" version --short 2>/dev/null | grep -q "^$HELM_VERSION"; then
  if ! command -v go >/dev/null; then
    echo "setup-tools: go is required to build the Helm client ($HELM_VERSION)" >&2
    exit 1
  fi
  echo "setup-tools: building helm $HELM_VERSION with go install (a few minutes the first time)" >&2
  GOBIN="$tools/bin" GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
echo "setup-tools: moto $MOTO_VERSION, cfn-lint $CFN_LINT_VERSION, helm $("$tools/bin/helm" version --short) ready in .tools/" >&2
