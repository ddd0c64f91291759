#!/usr/bin/env bash
# Installs the project's external test tools into .tools/ (idempotent, pinned):
#   - Node.js of the Lambda runtime's major (nodejs24.x), from the npm registry's node-<os>-<arch> package:
#     the tests, the demo and the benchmarks run on it (scripts/with-node.sh), whatever node the machine has
#   - moto[server] (the AWS emulator) and cfn-lint, in a Python virtualenv
#   - the real Helm client, built from the Go module proxy
#   - an OCI registry (go-containerregistry's in-memory registry) for the OCI publishing tests
#   - helm-reference (tools/helm-reference): helm's own pkg/repo of the same version as a small program,
#     and the index files of helm's test data it is run on (.tools/helm-testdata)
set -euo pipefail

NODE_VERSION=24.22.3
MOTO_VERSION=5.2.5
CFN_LINT_VERSION=1.58.0
HELM_VERSION=v3.21.4
REGISTRY_VERSION=v0.22.1

root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools/bin"

node_platform() {
  local os arch
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) echo "setup-tools: no Node.js package for $(uname -s)" >&2; return 1 ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "setup-tools: no Node.js package for $(uname -m)" >&2; return 1 ;;
  esac
  echo "$os-$arch"
}
if ! [ -x "$tools/node/bin/node" ] || [ "$("$tools/node/bin/node" --version)" != "v$NODE_VERSION" ]; then
  package="node-$(node_platform)@$NODE_VERSION"
  echo "setup-tools: installing Node.js $NODE_VERSION ($package) into .tools/node" >&2
  scratch="$(mktemp -d)"
  (cd "$scratch" && npm pack --silent "$package" >/dev/null && tar xzf ./*.tgz)
  rm -rf "$tools/node"
  mv "$scratch/package" "$tools/node"
  rm -rf "$scratch"
fi

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

# `go install` leaves helm's version string at its default ("v3.21"), so a stamp says which one was built.
if ! [ -x "$tools/bin/helm" ] || ! [ -f "$tools/bin/.helm-$HELM_VERSION" ]; then
  if ! command -v go >/dev/null; then
    echo "setup-tools: go is required to build the Helm client ($HELM_VERSION)" >&2
    exit 1
  fi
  echo "setup-tools: building helm $HELM_VERSION with go install (a few minutes the first time)" >&2
  GOBIN="$tools/bin" GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  rm -f "$tools/bin"/.helm-v*
  touch "$tools/bin/.helm-$HELM_VERSION"
fi
if ! [ -x "$tools/bin/registry" ] || ! [ -f "$tools/bin/.registry-$REGISTRY_VERSION" ]; then
  echo "setup-tools: building the OCI registry (go-containerregistry $REGISTRY_VERSION)" >&2
  GOBIN="$tools/bin" GOFLAGS=-mod=mod go install "github.com/google/go-containerregistry/cmd/registry@$REGISTRY_VERSION"
  rm -f "$tools/bin"/.registry-v*
  touch "$tools/bin/.registry-$REGISTRY_VERSION"
fi

reference_src="$root/tools/helm-reference"
if ! grep -qx "require helm.sh/helm/v3 $HELM_VERSION" "$reference_src/go.mod"; then
  echo "setup-tools: tools/helm-reference/go.mod must require helm.sh/helm/v3 $HELM_VERSION, the helm built here" >&2
  exit 1
fi
reference_stamp="$tools/bin/.helm-reference-$(cat "$reference_src/go.mod" "$reference_src/go.sum" "$reference_src/main.go" | sha256sum | cut -c1-16)"
if ! [ -x "$tools/bin/helm-reference" ] || ! [ -f "$reference_stamp" ]; then
  echo "setup-tools: building helm-reference (helm.sh/helm/v3 $HELM_VERSION pkg/repo)" >&2
  (cd "$reference_src" && GOFLAGS=-mod=mod go build -o "$tools/bin/helm-reference" .)
  rm -f "$tools/bin"/.helm-reference-*
  touch "$reference_stamp"
fi
testdata="$tools/helm-testdata"
if ! [ -f "$testdata/.complete-$HELM_VERSION" ]; then
  module_dir="$(cd "$reference_src" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' helm.sh/helm/v3)"
  echo "setup-tools: copying helm $HELM_VERSION's index test data into .tools/helm-testdata" >&2
  rm -rf "$testdata"
  mkdir -p "$testdata"
  # Every index file under a testdata folder, and index_test.go (its index strings), paths kept.
  (cd "$module_dir" && { find . -path '*testdata*' -type f \( -name '*index*.yaml' -o -name '*index*.json' \); echo ./pkg/repo/index_test.go; } | tar -cf - -T -) | tar -xf - -C "$testdata"
  chmod -R u+w "$testdata"
  touch "$testdata/.complete-$HELM_VERSION"
fi
echo "setup-tools: node $("$tools/node/bin/node" --version), moto $MOTO_VERSION, cfn-lint $CFN_LINT_VERSION, helm $HELM_VERSION, helm-reference and registry $REGISTRY_VERSION ready in .tools/" >&2
