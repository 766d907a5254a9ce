#!/usr/bin/env bash
# Runs the whole test suite. Installs what the interop peers need first, when it is missing:
# Debian's python3-websockets for tests/peers/python, and the locked npm packages for tests/peers/node.
# Extra arguments go to `dotnet test` (e.g. ./test.sh --filter "FullyQualifiedName~Infrastructure").
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

export DOTNET_NOLOGO=1
export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "test.sh: root is needed for: $*" >&2
    return 1
  fi
}

if ! /usr/bin/python3 -c 'import websockets' >/dev/null 2>&1; then
  echo "test.sh: installing python3-websockets for the Python interop peer" >&2
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-websockets
fi

if [ ! -d tests/peers/node/node_modules/ws ]; then
  echo "test.sh: installing the Node interop peer's packages" >&2
  (cd tests/peers/node && npm ci --no-audit --no-fund)
fi

# One TRX file per test project (the logger's default names never collide, where a fixed name would be
# overwritten by the next project's); .ci/run adds them all up.
dotnet test Duplex.slnx -c Release \
  --logger trx \
  --results-directory TestResults \
  "$@"
