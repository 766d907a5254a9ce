#!/usr/bin/env bash
# Runs the loopback comparison in short mode (about a minute on 2 cores with --reps 1, build
# included) and prints its Markdown table. Each client runs in a process of its own
# (--process-per-client), as applications run them; pass --in-process to run them all in the
# benchmark's process instead. Speed never fails this script: it exits non-zero only when the
# benchmark cannot be built or run at all. Extra arguments go to the loopback command
# (e.g. --reps 1, --out FILE, --in-process).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export DOTNET_NOLOGO=1
export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# S5 opens 1,000 connections here (10,000 in full mode); the client and the server are separate
# processes, each needing one descriptor per connection. Raise the soft limit as far as allowed.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

dotnet build bench/Duplex.Benchmarks -c Release --nologo -v quiet
timeout --kill-after=10s 10m dotnet bench/Duplex.Benchmarks/bin/Release/net10.0/Duplex.Benchmarks.dll loopback --short --process-per-client "$@"
