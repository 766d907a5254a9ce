#!/usr/bin/env bash
# Fuzzes one target with afl-fuzz for a given time, then prints what the run found.
#
#   tests/Duplex.Fuzz/run.sh <target> <seconds>        targets: frame-decoder, handshake-response, utf8-validator
#
# Installs what is missing (afl++ from apt; the SharpFuzz.CommandLine tool, pinned, into out/tools),
# publishes the harness into out/bin, instruments Duplex.dll there with sharpfuzz, checks that every
# seed in corpus/<target>/ passes, and runs afl-fuzz in SharpFuzz's AFL mode. Findings go to
# out/findings/<target>/ (git-ignored); a second run of the same target resumes from them. Each
# crash and hang found is replayed at the end with the exception it raised. Exits non-zero when the
# run found a crash or a hang. The machine is shared: run it under `nice -n 10`.
set -euo pipefail

SHARPFUZZ_VERSION=2.3.0

if [ $# -ne 2 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 <frame-decoder|handshake-response|utf8-validator> <seconds>" >&2
  exit 2
fi
target=$1
seconds=$2

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out="$here/out"
corpus="$here/corpus/$target"
findings="$out/findings/$target"
if [ ! -d "$corpus" ]; then
  echo "run.sh: no corpus for target '$target' ($corpus)" >&2
  exit 2
fi

export DOTNET_NOLOGO=1
export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# afl++ (Debian's package).
if ! command -v afl-fuzz >/dev/null; then
  echo "== installing afl++"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq afl++ >/dev/null
fi

# The instrumenting tool, in a local tool path so nothing global changes.
tools="$out/tools"
if [ ! -x "$tools/sharpfuzz" ]; then
  echo "== installing SharpFuzz.CommandLine $SHARPFUZZ_VERSION"
  dotnet tool install SharpFuzz.CommandLine --version "$SHARPFUZZ_VERSION" --tool-path "$tools" >/dev/null
fi

# A fresh publish each time: sharpfuzz refuses an assembly it has already instrumented. Two
# copies: out/bin instrumented for afl-fuzz, out/plain for replaying inputs (instrumented code
# writes to afl-fuzz's shared memory, so it cannot run outside afl-fuzz).
echo "== building the harness"
rm -rf "$out/bin" "$out/plain"
dotnet publish "$here/Duplex.Fuzz.csproj" -c Release -o "$out/plain" --nologo -v quiet
cp -r "$out/plain" "$out/bin"
echo "== instrumenting Duplex.dll"
"$tools/sharpfuzz" "$out/bin/Duplex.dll"
dotnet=$(command -v dotnet)
harness=("$dotnet" "$out/bin/Duplex.Fuzz.dll" "$target")
replay=("$dotnet" "$out/plain/Duplex.Fuzz.dll" "$target")

echo "== replaying the seeds"
"${replay[@]}" "$corpus"

dictionary=()
if [ -f "$here/dict/$target.dict" ]; then
  dictionary=(-x "$here/dict/$target.dict")
fi

echo "== fuzzing $target for $seconds s"
mkdir -p "$findings"
# dotnet itself is not instrumented (only Duplex.dll is), hence the bin check is skipped; the
# container's core_pattern and CPU governor cannot be changed and do not matter here.
AFL_SKIP_BIN_CHECK=1 \
AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
AFL_SKIP_CPUFREQ=1 \
AFL_NO_AFFINITY=1 \
AFL_NO_UI=1 \
AFL_AUTORESUME=1 \
AFL_FORKSRV_INIT_TMOUT=60000 \
  afl-fuzz -V "$seconds" -t 2000 -m none -i "$corpus" -o "$findings" "${dictionary[@]}" -- "${harness[@]}" \
  >"$out/afl-$target.log" 2>&1 || {
    echo "run.sh: afl-fuzz failed; the end of its log:" >&2
    tail -n 30 "$out/afl-$target.log" >&2
    exit 1
  }

stats="$findings/default/fuzzer_stats"
stat() { grep -E "^$1 +:" "$stats" | head -n 1 | sed 's/^[^:]*: *//'; }
crashes=$(find "$findings/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
hangs=$(find "$findings/default/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)

echo "== $target: results (added up over every run resumed from out/findings/$target)"
echo "run time      : $(stat run_time) s ($seconds s in this run)"
echo "executions    : $(stat execs_done)"
echo "execs/s       : $(stat execs_per_sec)"
echo "corpus (paths): $(stat corpus_count)"
echo "coverage      : $(stat bitmap_cvg)"
echo "stability     : $(stat stability)"
echo "crashes       : $crashes"
echo "hangs         : $hangs"

if [ "$crashes" -gt 0 ]; then
  echo "== crashes, replayed"
  "${replay[@]}" "$findings"/default/crashes/id:* | grep -E '^(CRASH|[a-z0-9-]+: )' || true
fi
if [ "$hangs" -gt 0 ]; then
  echo "== hangs, replayed with a 10 s limit each"
  for file in "$findings/default/hangs"/id:*; do
    if timeout 10s "${replay[@]}" "$file" >/dev/null 2>&1; then
      echo "$file: completes when replayed (slow, not endless)"
    else
      echo "$file: still hangs or fails when replayed"
    fi
  done
fi

[ "$crashes" -eq 0 ] && [ "$hangs" -eq 0 ]
