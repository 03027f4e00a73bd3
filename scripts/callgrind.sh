#!/usr/bin/env bash
# Instructions per received message, counted by valgrind's callgrind (repeatable whatever else
# the machine is doing). Decodes the same frames with resock-core, tungstenite and resock's
# session layer, collecting only inside each library's decode function.
#   scripts/callgrind.sh                   # 10 000 text messages of 128 B
#   scripts/callgrind.sh binary 65536 100  # any kind (text|textmb|binary), size, count
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-text} size=${2:-128} count=${3:-10000}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
bin=$(cargo bench -p resock-core --bench instructions --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "instructions" and m.get("executable"):
        print(m["executable"])')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for lib in resock tungstenite session; do
  valgrind --tool=callgrind --callgrind-out-file="$out/$lib" --toggle-collect="*instructions::decode_$lib*" \
    "$bin" "$kind" "$size" "$count" >/dev/null 2>"$out/$lib.log"
  total=$(grep -oP 'Collected : \K[0-9]+' "$out/$lib.log")
  printf 'callgrind decode %s %s x%s: %-11s %12s instructions, %8.1f per message\n' \
    "$kind" "$size" "$count" "$lib" "$total" "$(echo "$total / $count" | bc -l)"
done
