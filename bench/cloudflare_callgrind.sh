#!/usr/bin/env bash
#
# bench/cloudflare_callgrind.sh -- user-space instructions per tokens_list
# call in the gateway process alone, and where they go.
#
#   bench/cloudflare_callgrind.sh OBJS_DIR [CALLS]
#
# OBJS_DIR is a build's objs/ (./configure with the defaults: neither
# --with-asan nor --with-debug).  The sandbox runs alone in one process
# (bench/cloudflare-upstream.conf), unmeasured; a gateway without a sandbox
# (bench/cloudflare-gateway.conf) runs under valgrind --tool=callgrind.
# After 50 calls not counted, CALLS (1000) tokens_list calls are made one
# at a time through MCP.  Prints "IR_PER_CALL n", then the functions
# costing more than 1,500 instructions per call inclusive, and more than
# 800 self.  Instruction counts do not move with the machine's load, so
# this is the figure to compare two builds with.
#
# Needs valgrind, node, curl.  Listens on 127.0.0.1 only, on free ports;
# stops only what it started.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
BENCH_NAME=cloudflare_callgrind

[[ $# -ge 1 && -d $1 ]] || die "usage: $0 OBJS_DIR [CALLS]"
OBJS=$(cd "$1" && pwd)
N=${2:-1000}
[[ $N =~ ^[0-9]+$ && $N -gt 0 ]] || die "CALLS must be a positive integer"

missing=()
missing_pkg=()
need valgrind valgrind
need callgrind_annotate valgrind
need node nodejs
need curl curl
missing_exit

GW=$OBJS/mcpgw
SIG=$(cloudflare_build "$OBJS") || die "$SIG"

start_run cg

mp=$(free_port)
sp=$(free_port)
gp=$(free_port)
for d in up gw; do
    mkdir -p "$RUN/$d/conf" "$RUN/$d/logs"
    ln -s "$OBJS" "$RUN/$d/objs"
    install -m 0600 "$ROOT/conf/sandbox.token" "$RUN/$d/conf/sandbox.token"
done
sed -e "s|127\.0\.0\.1:18807|127.0.0.1:$mp|" \
    -e "s|127\.0\.0\.1:18808|127.0.0.1:$sp|" \
    "$BENCH/cloudflare-upstream.conf" >"$RUN/up/conf/c.conf"
sed -e "s|127\.0\.0\.1:18806|127.0.0.1:$gp|" \
    -e "s|127\.0\.0\.1:18808|127.0.0.1:$sp|" \
    "$BENCH/cloudflare-gateway.conf" >"$RUN/gw/conf/c.conf"

"$GW" -p "$RUN/up" -c conf/c.conf >"$RUN/up/stderr" 2>&1 &
PIDS+=($!)
wait_port "$sp" "$!" || die "the sandbox did not start: $(cat "$RUN/up/stderr")"

mkdir "$RUN/cg"
valgrind -q --tool=callgrind --callgrind-out-file="$RUN/cg/cg.%p" \
    "$GW" -p "$RUN/gw" -c conf/c.conf >"$RUN/gw/stderr" 2>&1 &
VG=$!
PIDS+=("$VG")
for _ in $(seq 300); do
    grep -q 'Cloudflare token verified' "$RUN/gw/logs/error.log" 2>/dev/null &&
        break
    kill -0 "$VG" 2>/dev/null || break
    sleep 0.1
done
grep -q 'Cloudflare token verified' "$RUN/gw/logs/error.log" ||
    die "the gateway did not start: $(cat "$RUN/gw/stderr" \
        "$RUN/gw/logs/error.log" 2>/dev/null)"
PID=$(cat "$RUN/gw/logs/mcpgw.pid")

load() {
    node "$BENCH/cloudflare_load.mjs" list-gw \
        --mcp "http://127.0.0.1:$gp/mcp" \
        --api "http://127.0.0.1:$sp/client/v4" \
        --token-file "$RUN/gw/conf/sandbox.token" --count "$1"
}

load 50 >/dev/null || die "the warm-up calls failed"
callgrind_control -z "$PID" >/dev/null
load "$N" >"$RUN/load.out" || die "the calls failed: $(cat "$RUN/load.out")"
grep -q "ok=$N errors=0" "$RUN/load.out" ||
    die "the calls failed: $(cat "$RUN/load.out")"
callgrind_control --dump=calls "$PID" >/dev/null
f=$(ls -t "$RUN"/cg/cg."$PID".* | head -n 1)

# the load makes one checking call before its N
calls=$((N + 1))
total=$(callgrind_annotate --auto=no "$f" 2>/dev/null |
    awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
echo "IR_PER_CALL $((total / calls))"

per_call() { # minimum
    sed 's/(.*%)//' | awk -v n="$calls" -v min="$1" '/:/ {
        gsub(",", "", $1)
        if ($1 / n > min) printf "%8.1fk %s\n", $1 / n / 1000, $2 }' |
        sed "s|$OBJS/\.\./||; s|[^ ]*/src/|src/|; s|[^ ]*/modules/|modules/|"
}
echo "--- inclusive, thousands of instructions per call (a name ending"
echo "--- in '2 is recursive and counted more than once)"
callgrind_annotate --inclusive=yes --auto=no --threshold=100 "$f" \
    2>/dev/null | per_call 1500
echo "--- self"
callgrind_annotate --auto=no --threshold=100 "$f" 2>/dev/null |
    per_call 800 | grep -v -e 'mg_main.c:main' -e '(below' \
    -e 'libc_start' -e 'event_base_dispatch'
ok=1
