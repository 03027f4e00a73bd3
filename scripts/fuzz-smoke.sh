#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a short time on nightly (default 20 s each; pass a
# number of seconds to change it) and fails on any crash, leak, timeout or OOM. Each run starts
# from the committed seeds in fuzz/corpus/<target>/ and writes new inputs to a scratch corpus
# under fuzz/target/fuzz-smoke/ (emptied first, so a smoke run does not depend on earlier runs
# and the committed seeds stay small). Runs as many targets at a time as the machine has cores
# (FUZZ_JOBS to change it). Prints one line of libFuzzer's final stats per target.
#
# Needs a nightly toolchain (rustup) and cargo-fuzz, which it installs when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-${FUZZ_SECONDS:-20}}"
toolchain="${FUZZ_TOOLCHAIN:-nightly}"

if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
    echo "fuzz-smoke: the $toolchain toolchain is missing (rustup toolchain install $toolchain)" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

targets=$(cargo +"$toolchain" fuzz list)
echo "== building fuzz targets ($toolchain)"
cargo +"$toolchain" fuzz build

logs=fuzz/target/fuzz-logs
mkdir -p "$logs"
# libFuzzer runs on one thread: as many targets at a time as the machine has cores.
parallel="${FUZZ_JOBS:-$(nproc)}"

# Runs one target; its exit status goes to $logs/<target>.status.
run_target() {
    local t=$1 work="fuzz/target/fuzz-smoke/$1" log="$logs/$1.log"
    rm -rf "$work"
    mkdir -p "$work"
    if cargo +"$toolchain" fuzz run "$t" "$work" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        echo ok >"$logs/$t.status"
    else
        echo FAILED >"$logs/$t.status"
    fi
}

# Stops a process and everything it started (cargo, cargo-fuzz, the fuzzer), by PID.
stop_tree() {
    local child
    for child in $(pgrep -P "$1" || true); do stop_tree "$child"; done
    kill "$1" 2>/dev/null || true
}

pids=()
trap 'for pid in "${pids[@]}"; do stop_tree "$pid"; done' EXIT
for t in $targets; do
    rm -f "$logs/$t.status"
    while (($(jobs -rp | wc -l) >= parallel)); do wait -n || true; done
    run_target "$t" &
    pids+=($!)
done
wait

failed=()
for t in $targets; do
    log="$logs/$t.log"
    status=$(cat "$logs/$t.status" 2>/dev/null || echo FAILED)
    [ "$status" = ok ] || failed+=("$t")
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
    execs=$(grep -oE 'exec/s: [0-9]+' <<<"$done_line" || true)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' <<<"$done_line" || true)
    printf '%-20s %-6s %-16s %-22s %s\n' "$t" "$status" "${execs:-exec/s: ?}" "${cov:-cov: ?}" "${done_line:-see $log}"
done

if ((${#failed[@]})); then
    echo "fuzz-smoke: crashes in: ${failed[*]}" >&2
    for t in "${failed[@]}"; do
        echo "---- $t (fuzz/target/fuzz-logs/$t.log)" >&2
        grep -E -A 30 'panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer|==ERROR' "$logs/$t.log" | head -60 >&2 || tail -40 "$logs/$t.log" >&2
    done
    echo "fuzz-smoke: crashing inputs are in fuzz/artifacts/<target>/; minimize with cargo +$toolchain fuzz tmin" >&2
    exit 1
fi
