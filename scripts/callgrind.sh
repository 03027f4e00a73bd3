#!/usr/bin/env bash
# Instructions per received message, counted by valgrind's callgrind (repeatable whatever else
# the machine is doing). Decodes the same frames with resock-core, tungstenite, fastwebsockets,
# tokio-websockets and resock's session layer, collecting only inside each one's decode function.
#   scripts/callgrind.sh                   # 10 000 text messages of 128 B
#   scripts/callgrind.sh binary 65536 100  # any kind (text|textmb|binary), size, count
#   scripts/callgrind.sh binary 1048576 4 25  # and passes over the same bytes (as compare makes)
#   KEEP_CALLGRIND=/tmp/cg scripts/callgrind.sh ...  # also keeps /tmp/cg.<library> for callgrind_annotate
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-text} size=${2:-128} count=${3:-10000} passes=${4:-1}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
bin=$(cargo bench -p resock-core --bench instructions --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "instructions" and m.get("executable"):
        print(m["executable"])')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for lib in resock tungstenite fastwebsockets tokio_websockets session; do
  valgrind --tool=callgrind --callgrind-out-file="$out/$lib" --toggle-collect="*instructions::decode_$lib*" \
    "$bin" "$kind" "$size" "$count" "$passes" >/dev/null 2>"$out/$lib.log"
  [ -z "${KEEP_CALLGRIND:-}" ] || cp "$out/$lib" "$KEEP_CALLGRIND.$lib"
  total=$(grep -oP 'Collected : \K[0-9]+' "$out/$lib.log")
  printf 'callgrind decode %s %s x%s x%s passes: %-16s %12s instructions, %8.1f per message\n' \
    "$kind" "$size" "$count" "$passes" "$lib" "$total" "$(echo "$total / ($count * $passes)" | bc -l)"
done
