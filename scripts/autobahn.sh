#!/usr/bin/env bash
# Runs the Autobahn conformance cases (groups 1-13, permessage-deflate included: 517 cases) against resock with kosoku, in one role:
#   scripts/autobahn.sh client   # kosoku fuzzingserver, resock's autobahn_client example
#   scripts/autobahn.sh server   # resock's autobahn_server example (blocking), kosoku fuzzingclient
#   scripts/autobahn.sh server-async   # the autobahn_async_server example (the async server on
#                                      # tokio), kosoku fuzzingclient
# Creates .venv-autobahn with kosoku, prints one line with the count of each verdict, and
# fails on any case whose behaviour is not OK (INFORMATIONAL only for the cases listed below:
# FAILED, NON-STRICT, UNIMPLEMENTED all fail), on any close verdict other than OK or
# INFORMATIONAL (WRONG CODE, UNCLEAN, FAILED, ...), on a case the run left out, and when the
# number of selected cases cannot be read.
# The same checks on an existing report (no run), e.g. to test them on a doctored one:
#   scripts/autobahn.sh check client|server path/to/index.json SELECTED_CASE_COUNT
set -euo pipefail
usage="usage: scripts/autobahn.sh client|server|server-async, or scripts/autobahn.sh check ROLE REPORT COUNT"
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Checks an Autobahn/kosoku index.json: check_report ROLE REPORT EXPECTED_COUNT SECONDS.
check_report() {
  python3 - "$@" <<'PY'
import json, re, sys
role, report, expected_text, secs = sys.argv[1:5]
bad = []
try:
    expected = int(expected_text)
except ValueError:
    expected = 0
if expected <= 0:
    bad.append(f"could not read how many cases were selected (got {expected_text!r}), "
               "so the report cannot be checked for left-out cases")
data = json.load(open(report))
if len(data) != 1:
    print(f"autobahn {role}: the report names {len(data)} agents, expected one", file=sys.stderr)
    sys.exit(1)
cases = next(iter(data.values()))
# Cases where the RFC leaves the behaviour open: INFORMATIONAL is their only verdict.
informational_ok = {"7.1.6", "7.13.1", "7.13.2"}
counts, close_counts = {}, {}
natural = lambda case: [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", case)]
for case in sorted(cases, key=natural):
    result = cases[case]
    verdict = result.get("behavior", "MISSING")
    close = result.get("behaviorClose", "MISSING")
    counts[verdict] = counts.get(verdict, 0) + 1
    close_counts[close] = close_counts.get(close, 0) + 1
    if verdict == "INFORMATIONAL" and case not in informational_ok:
        bad.append(f"{case}: unexpected INFORMATIONAL behaviour")
    elif verdict not in ("OK", "INFORMATIONAL"):
        bad.append(f"{case}: behaviour {verdict} (close {close})")
    if close not in ("OK", "INFORMATIONAL"):
        bad.append(f"{case}: close behaviour {close} (behaviour {verdict})")
line = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
close_line = ", ".join(f"{k} {v}" for k, v in sorted(close_counts.items()))
print(f"autobahn {role}: {line}; close: {close_line} ({len(cases)} cases in {secs}s)")
if expected > 0 and len(cases) != expected:
    bad.append(f"{expected} cases selected but {len(cases)} in the report")
for b in bad:
    print("  " + b)
if bad:
    print(f"autobahn {role}: {len(bad)} problem(s) in {report}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

role=${1:?$usage}
if [ "$role" = check ]; then
  [ $# -eq 4 ] || { echo "$usage" >&2; exit 2; }
  check_report "$2" "$3" "$4" 0
  exit
fi
case "$role" in client | server | server-async) ;; *) echo "$usage" >&2; exit 2 ;; esac
venv="$root/.venv-autobahn"
out="$root/target/autobahn/$role"
port_client=19001
port_server=19002
port_server_async=19003
# Cases run two at a time (both roles): the 12.x cases keep one core busy compressing on each
# side in turn, so two at once use both of the machine's cores.
jobs=${AUTOBAHN_JOBS:-2}

if [ ! -x "$venv/bin/kosoku" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet kosoku==0.1.0
fi
cargo build --release --quiet -p resock --example autobahn_client --example autobahn_server
if [ "$role" = server-async ]; then
  cargo build --release --quiet -p resock --features tokio --example autobahn_async_server
fi
rm -rf "$out"
mkdir -p "$out"

cases=(-i '1.*' -i '2.*' -i '3.*' -i '4.*' -i '5.*' -i '6.*' -i '7.*' -i '9.*' -i '10.*' -i '12.*' -i '13.*')
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

wait_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

start=$(date +%s)
if [ "$role" = client ]; then
  "$venv/bin/kosoku" -m fuzzingserver -o "$out" "${cases[@]}" "127.0.0.1:$port_client" >"$out/kosoku.log" 2>&1 &
  pids+=($!)
  wait_port "$port_client"
  if ! expected=$(timeout 1500 "$root/target/release/examples/autobahn_client" --jobs "$jobs" "ws://127.0.0.1:$port_client" 2>&1 | tee "$out/client.log" | sed -n 's/^autobahn_client: running \([0-9]*\) cases$/\1/p'); then
    echo "autobahn client: the client example failed (see $out/client.log)" >&2
    exit 1
  fi
  # kosoku exits by itself after /updateReports; give it a moment, then stop it by its PID.
  for _ in $(seq 1 50); do kill -0 "${pids[0]}" 2>/dev/null || break; sleep 0.1; done
else
  # The server role, on the blocking example or on the async server's.
  if [ "$role" = server ]; then
    example=autobahn_server
    port=$port_server
  else
    example=autobahn_async_server
    port=$port_server_async
  fi
  "$root/target/release/examples/$example" "127.0.0.1:$port" >"$out/server.log" 2>&1 &
  pids+=($!)
  wait_port "$port"
  timeout 1500 "$venv/bin/kosoku" -m fuzzingclient -p "$jobs" -o "$out" "${cases[@]}" "127.0.0.1:$port" >"$out/kosoku.log" 2>&1 || true
  # The selection's size, asked of a fuzzingserver with the same selection, which is then stopped.
  "$venv/bin/kosoku" -m fuzzingserver -o "$out/count" "${cases[@]}" "127.0.0.1:$port_client" >/dev/null 2>&1 &
  count_pid=$!
  pids+=($count_pid)
  wait_port "$port_client"
  if ! expected=$("$root/target/release/examples/autobahn_client" --count "ws://127.0.0.1:$port_client"); then
    echo "autobahn server: could not ask kosoku how many cases are selected" >&2
    exit 1
  fi
  kill "$count_pid" 2>/dev/null || true
  wait "$count_pid" 2>/dev/null || true
fi
secs=$(( $(date +%s) - start ))

report="$out/index.json"
if [ ! -s "$report" ]; then
  echo "autobahn $role: no report written (see $out/*.log)" >&2
  exit 1
fi
check_report "$role" "$report" "${expected:-}" "$secs"
