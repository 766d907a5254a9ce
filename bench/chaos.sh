#!/usr/bin/env bash
# The long fault-injection run: 100,000 messages from 16 concurrent senders through random faults of every
# kind (reset, FIN, stall, drip, delay, half-open either way, a refused reconnect), a few minutes on 2 cores.
# Prints the chaos host's table and, last, its JSON summary. Exits with the host's code: 0 when every
# invariant held (nothing duplicated or reordered, every message delivered, reported or counted as lost in
# flight, no send or pool thread held up past its bound), 1 when one did not, 2 or 3 when it could not run.
# Extra arguments go to the host and override these (e.g. --seed 42, --messages 20000, --senders 32).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export DOTNET_NOLOGO=1
export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

dotnet build tests/Duplex.Chaos -c Release --nologo -v quiet
timeout --kill-after=10s 30m dotnet tests/Duplex.Chaos/bin/Release/net10.0/Duplex.Chaos.dll \
  chaos --messages 100000 --duration 20m --senders 16 "$@"
