#!/usr/bin/env bash
# Fails if resock-core's normal dependency tree pulls in IO, async runtimes or OS randomness.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=$(cargo tree -p resock-core -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
banned='^(getrandom|rand|tokio|async-std|async-io|smol|mio|socket2|libc|futures|futures-io|futures-lite|polling|rustls|ring|openssl|native-tls)$'
if bad=$(printf '%s\n' "$tree" | grep -E "$banned"); then
  echo "resock-core depends on: $bad" >&2
  exit 1
fi
echo "resock-core dependencies: $(printf '%s\n' "$tree" | tr '\n' ' ')"
