#!/usr/bin/env bash
# Sets up the foreign WebSocket servers (and the pproxy proxy) the interop tests talk to (interop/README.md):
#   .venv-interop/             Python venv with interop/python/requirements.txt (pinned websockets, pproxy)
#   interop/node/node_modules/ npm ci from interop/node/package-lock.json (pinned ws)
# Idempotent: each part is redone only when its pins changed since it was last installed (a copy
# of the pins is kept beside what they installed), so a second run takes well under a second.
# Needs python3 (>= 3.9) with venv and pip, and node (>= 18) with npm; reaches PyPI and npm only.
#   scripts/interop-setup.sh [python|node]...   # default: both
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(python node)

now_ms() { date +%s%3N; }

setup_python() {
  local venv="$root/.venv-interop" req="$root/interop/python/requirements.txt"
  local stamp="$venv/.resock-requirements.txt"
  command -v python3 >/dev/null || { echo "interop-setup: python3 not found" >&2; return 1; }
  if [ -x "$venv/bin/python" ] && cmp -s "$req" "$stamp" && "$venv/bin/python" -c 'import websockets, pproxy' 2>/dev/null; then
    echo "interop-setup: python: .venv-interop is up to date ($(tr '\n' ' ' <"$req"| sed 's/ *$//'))"
    return 0
  fi
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 9))' ||
    { echo "interop-setup: python3 >= 3.9 is needed, found $(python3 --version 2>&1)" >&2; return 1; }
  local t0
  t0=$(now_ms)
  if [ ! -x "$venv/bin/python" ]; then
    echo "interop-setup: python: creating .venv-interop"
    python3 -m venv "$venv"
  elif ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
    echo "interop-setup: python: .venv-interop is broken (its python moved?), recreating it"
    python3 -m venv --clear "$venv"
  fi
  echo "interop-setup: python: pip install -r interop/python/requirements.txt"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$req"
  cp "$req" "$stamp"
  echo "interop-setup: python: done in $(( $(now_ms) - t0 )) ms ($("$venv/bin/python" -c 'import websockets, importlib.metadata as m; print("websockets", websockets.__version__, "pproxy", m.version("pproxy"))'))"
}

setup_node() {
  local dir="$root/interop/node" modules="$root/interop/node/node_modules"
  local lock="$dir/package-lock.json" stamp="$modules/.resock-package-lock.json"
  command -v node >/dev/null || { echo "interop-setup: node not found" >&2; return 1; }
  command -v npm >/dev/null || { echo "interop-setup: npm not found" >&2; return 1; }
  if [ -f "$lock" ] && [ -f "$modules/ws/package.json" ] && cmp -s "$lock" "$stamp"; then
    echo "interop-setup: node: interop/node/node_modules is up to date (ws $(node -p 'require(process.argv[1]).version' "$modules/ws/package.json"))"
    return 0
  fi
  node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
    { echo "interop-setup: node >= 18 is needed, found $(node --version)" >&2; return 1; }
  local t0
  t0=$(now_ms)
  if [ -f "$lock" ]; then
    echo "interop-setup: node: npm ci in interop/node"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  else
    echo "interop-setup: node: no package-lock.json, npm install in interop/node"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
  fi
  cp "$lock" "$stamp"
  echo "interop-setup: node: done in $(( $(now_ms) - t0 )) ms (ws $(node -p 'require(process.argv[1]).version' "$modules/ws/package.json"))"
}

for part in "${parts[@]}"; do
  case "$part" in
    python) setup_python ;;
    node) setup_node ;;
    *) echo "usage: scripts/interop-setup.sh [python|node]..." >&2; exit 2 ;;
  esac
done
