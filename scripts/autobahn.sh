#!/usr/bin/env bash
# Runs the Autobahn conformance cases (groups 1-10) against resock with kosoku, in one role:
#   scripts/autobahn.sh client   # kosoku fuzzingserver, resock's autobahn_client example
#   scripts/autobahn.sh server   # resock's autobahn_server example, kosoku fuzzingclient
# Creates .venv-autobahn with kosoku, prints one line with the count of each verdict, and
# fails on any FAILED or NON-STRICT case, or on a case the run left out.
set -euo pipefail
role=${1:?usage: scripts/autobahn.sh client|server}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
venv="$root/.venv-autobahn"
out="$root/target/autobahn/$role"
port_client=19001
port_server=19002

if [ ! -x "$venv/bin/kosoku" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet kosoku==0.1.0
fi
cargo build --release --quiet -p resock --example autobahn_client --example autobahn_server
rm -rf "$out"
mkdir -p "$out"

cases=(-i '1.*' -i '2.*' -i '3.*' -i '4.*' -i '5.*' -i '6.*' -i '7.*' -i '9.*' -i '10.*')
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
  expected=$(timeout 600 "$root/target/release/examples/autobahn_client" "ws://127.0.0.1:$port_client" 2>&1 | tee "$out/client.log" | sed -n 's/^autobahn_client: running \([0-9]*\) cases$/\1/p')
  # kosoku exits by itself after /updateReports; give it a moment, then stop it by its PID.
  for _ in $(seq 1 50); do kill -0 "${pids[0]}" 2>/dev/null || break; sleep 0.1; done
else
  "$root/target/release/examples/autobahn_server" "127.0.0.1:$port_server" >"$out/server.log" 2>&1 &
  pids+=($!)
  wait_port "$port_server"
  timeout 900 "$venv/bin/kosoku" -m fuzzingclient -o "$out" "${cases[@]}" "127.0.0.1:$port_server" >"$out/kosoku.log" 2>&1 || true
  # The selection's size, asked of a fuzzingserver with the same selection, which is then stopped.
  "$venv/bin/kosoku" -m fuzzingserver -o "$out/count" "${cases[@]}" "127.0.0.1:$port_client" >/dev/null 2>&1 &
  count_pid=$!
  pids+=($count_pid)
  wait_port "$port_client"
  expected=$("$root/target/release/examples/autobahn_client" --count "ws://127.0.0.1:$port_client")
  kill "$count_pid" 2>/dev/null || true
  wait "$count_pid" 2>/dev/null || true
fi
secs=$(( $(date +%s) - start ))

report="$out/index.json"
if [ ! -s "$report" ]; then
  echo "autobahn $role: no report written (see $out/*.log)" >&2
  exit 1
fi
"$venv/bin/python" - "$report" "$role" "${expected:-0}" "$secs" <<'PY'
import json, sys
report, role, expected, secs = sys.argv[1], sys.argv[2], int(sys.argv[3] or 0), sys.argv[4]
data = json.load(open(report))
cases = next(iter(data.values()))
counts = {}
bad = []
informational_ok = {"7.1.6", "7.13.1", "7.13.2"}
for case, result in sorted(cases.items()):
    verdict = result["behavior"]
    close = result.get("behaviorClose", "OK")
    counts[verdict] = counts.get(verdict, 0) + 1
    if verdict in ("FAILED", "NON-STRICT") or close == "FAILED":
        bad.append(f"{case}: behavior={verdict} behaviorClose={close}")
    if verdict == "INFORMATIONAL" and case not in informational_ok:
        bad.append(f"{case}: unexpected INFORMATIONAL")
line = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
print(f"autobahn {role}: {line} ({len(cases)} cases in {secs}s)")
if expected and len(cases) != expected:
    bad.append(f"{expected} cases selected but {len(cases)} in the report")
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
PY
