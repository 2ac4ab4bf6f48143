#!/usr/bin/env bash
#
# bench/run.sh -- mcpgw benchmarks (see docs/BENCHMARKS.md).
#
#  1. builds an optimised, non-ASan copy of the checkout in a temporary
#     directory (BENCH_USE_OBJS=1: measures objs/ instead when it is a
#     non-ASan, non-debug build);
#  2. memory: VmRSS of a fresh gateway when idle, after 1,000 sessions,
#     and while 1,000 keep-alive connections each hold a session;
#  3. throughput: wrk POSTs an MCP tools/call of the test module's echo
#     tool over HTTP/1.1 keep-alive, and the same request to Debian's
#     nginx answering a static JSON body of the same size, same load,
#     interleaved rounds;
#  4. prints a markdown report and writes it to bench/results/<date>.md.
#
# It installs nothing.  Everything listens on 127.0.0.1 only, on free
# ports, and every load is bounded in time.
#
# Environment (defaults in brackets):
#   BENCH_SECONDS      seconds per measured wrk run [10]
#   BENCH_WARMUP       seconds of warm-up before each run [2]
#   BENCH_ROUNDS       interleaved rounds per server; the best is kept [3]
#   BENCH_CONNECTIONS  wrk connections [50]
#   BENCH_THREADS      wrk threads [1 when pinned, else 2]
#   BENCH_PIN          1: servers on CPU 0, wrk on CPU 1 (taskset) [1]
#   BENCH_SESSIONS     sessions and connections for the memory part [1000]
#   BENCH_IDLE         seconds the fresh gateway idles before its RSS [2]
#   BENCH_PERF         1: also profile the gateway with perf under load [0]
#   BENCH_CALLGRIND    1: also count the gateway's instructions per request
#                      under valgrind --tool=callgrind (noise-free) [0]
#   BENCH_OUT          report file, "-" for none
#                      [bench/results/<UTC date and time>.md]
#   BENCH_KEEP         1: keep the run directory (logs, wrk output) [0]
#   BENCH_STRICT       1: exit 3 when a target is missed [0]
#   BENCH_USE_OBJS     1: measure objs/ of the checkout as it is (not
#                      rebuilt) when it is a non-ASan, non-debug build;
#                      0: always build a fresh copy [0]

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
BENCH_NAME=bench

SECS=${BENCH_SECONDS:-10}
WARMUP=${BENCH_WARMUP:-2}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNECTIONS:-50}
PIN=${BENCH_PIN:-1}
NSESS=${BENCH_SESSIONS:-1000}
IDLE=${BENCH_IDLE:-2}
PERF=${BENCH_PERF:-0}
CALLGRIND=${BENCH_CALLGRIND:-0}
KEEP=${BENCH_KEEP:-0}
STRICT=${BENCH_STRICT:-0}
USE_OBJS=${BENCH_USE_OBJS:-0}
STAMP=$(date -u +%Y-%m-%dT%H%MZ)
OUT=${BENCH_OUT:-$BENCH/results/$STAMP.md}


for v in SECS WARMUP ROUNDS CONNS NSESS IDLE; do
    [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] ||
        die "$v must be a positive integer, not '${!v}'"
done
((SECS <= 600)) || die "BENCH_SECONDS is at most 600"

# ---------------------------------------------------------------------------
# What it needs

NCPU=$(nproc)
set_pinning

missing=()
missing_pkg=()
# nginx is in /usr/sbin, often not in a user's PATH
NGINX=$(command -v nginx || true)
[[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
need wrk wrk
[[ -n $NGINX ]] || need nginx nginx-light
need curl curl
need node nodejs
need make make
need cc build-essential
need pkg-config pkg-config
need tar tar
need awk gawk
need ss iproute2
[[ $PIN == 1 ]] && need taskset util-linux
[[ $PERF == 1 ]] && need perf linux-perf
[[ $CALLGRIND == 1 ]] && need valgrind valgrind
[[ $CALLGRIND == 1 ]] && need callgrind_annotate valgrind
missing_exit
node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' ||
    die "node 18 or newer needed, found $(node -v)"

if [[ $PIN == 1 ]]; then
    SRV_CORE_NAME="server CPU 0"
    CLI_CORE_NAME="wrk CPU 1"
else
    SRV_CORE_NAME="machine"
    CLI_CORE_NAME="machine"
fi

# ---------------------------------------------------------------------------
# Run directory and cleanup: only what this script started is stopped.

start_run bench

# ---------------------------------------------------------------------------
# The gateway to measure: never an ASan or debug build.  By default a
# fresh copy of the checkout (sources only) is configured with the
# defaults (-O2 -g) and built in the run directory; the checkout's own
# objs/ is never touched.

OBJS=
if [[ $USE_OBJS == 1 && -x $ROOT/objs/mcpgw &&
    -f $ROOT/objs/tests/modules/mod_test.so ]]; then
    sig=$(signature "$ROOT/objs/mcpgw" || true)
    # No "make -q" here: GNU make would still remake an out-of-date
    # Makefile, i.e. rerun ./configure in a checkout others work in.
    if [[ $sig == *asan=0* && $sig == *debug=0* ]]; then
        OBJS=$ROOT/objs
        BUILD_NOTE="objs/ of the checkout as it was (not rebuilt)"
    else
        say "bench: objs/ is ${sig:-unusable}: building a copy"
    fi
fi

if [[ -z $OBJS ]]; then
    B=$RUN/build
    mkdir -p "$B"
    say "bench: building an optimised copy in $B"
    tar -C "$ROOT" --exclude=./objs --exclude=./node_modules \
        --exclude=./.git --exclude=./logs --exclude=./keys \
        --exclude=./bench/results -cf - . | tar -C "$B" -xf -
    if ! (cd "$B" && ./configure && make -j"$NCPU" objs/mcpgw \
        objs/tests/modules/mod_test.so) >"$RUN/build.log" 2>&1; then
        tail -n 30 "$RUN/build.log" >&2
        die "the build failed (log: $RUN/build.log)"
    fi
    OBJS=$B/objs
    BUILD_NOTE="a fresh copy of the checkout, ./configure defaults (-O2 -g)"
fi

GW=$OBJS/mcpgw
SIG=$(signature "$GW")
[[ $SIG == *asan=0* && $SIG == *debug=0* ]] ||
    die "refusing to measure a build with signature $SIG"
GW_VERSION=$("$GW" -v | awk 'NR == 1 { print $2 }')

# ---------------------------------------------------------------------------
# Helpers

GW_WRAP=()

ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }
kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# utime + stime of the given processes, in clock ticks
cpu_ticks() {
    local t=0 p f
    for p in "$@"; do
        read -r -a f <<<"$(sed 's/.*) //' "/proc/$p/stat")"
        t=$((t + f[11] + f[12]))
    done
    echo "$t"
}
HZ=$(getconf CLK_TCK)

MCP_H=(-H 'Content-Type: application/json' -H 'Accept: application/json'
    -H 'MCP-Protocol-Version: 2025-11-25')
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"mcpgw-bench","version":"1"}}}'
CALL='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}'

# initialize on the gateway at port $1; prints the session id
mcp_session() {
    local sid code
    curl -sS --max-time 5 -D "$RUN/init.h" -o "$RUN/init.b" "${MCP_H[@]}" \
        -d "$INIT" "http://127.0.0.1:$1/mcp" ||
        die "initialize on port $1 failed"
    sid=$(tr -d '\r' <"$RUN/init.h" |
        awk 'tolower($1) == "mcp-session-id:" { print $2 }')
    [[ -n $sid ]] || die "initialize: no Mcp-Session-Id: $(cat "$RUN/init.b")"
    code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' \
        "${MCP_H[@]}" -H "Mcp-Session-Id: $sid" \
        -d '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
        "http://127.0.0.1:$1/mcp")
    [[ $code == 202 ]] || die "notifications/initialized got HTTP $code"
    echo "$sid"
}

# one tools/call to port $1 with session $2; prints the body size
check_call() {
    local r
    r=$(curl -sS --max-time 5 -o "$RUN/call.b" -w '%{http_code} %{size_download}' \
        "${MCP_H[@]}" -H "Mcp-Session-Id: $2" -d "$CALL" \
        "http://127.0.0.1:$1/mcp") || die "tools/call to port $1 failed"
    if [[ ${r% *} != 200 ]] || ! grep -q '"isError":false' "$RUN/call.b"; then
        die "tools/call to port $1: HTTP ${r% *}: $(head -c 300 "$RUN/call.b")"
    fi
    echo "${r#* }"
}

# start_gateway NAME ACCESS_LOG: sets GW_PID and GW_PORT
start_gateway() {
    local d=$RUN/$1 port
    mkdir -p "$d/conf" "$d/logs"
    ln -sfn "$OBJS" "$d/objs"
    port=$(free_port)
    sed -e "s|127\.0\.0\.1:18787|127.0.0.1:$port|" \
        -e "s|^access_log = .*|access_log = \"$2\";|" \
        "$BENCH/echo.conf" >"$d/conf/echo.conf"
    grep -q "127.0.0.1:$port" "$d/conf/echo.conf" ||
        die "bench/echo.conf must listen on 127.0.0.1:18787 (run.sh moves it)"
    "$GW" -p "$d" -c conf/echo.conf -t >"$d/check.out" 2>&1 ||
        die "bench/echo.conf: $(cat "$d/check.out")"
    "${SRV_PIN[@]}" "${GW_WRAP[@]}" "$GW" -p "$d" -c conf/echo.conf \
        >"$d/stderr" 2>&1 &
    GW_PID=$!
    PIDS+=("$GW_PID")
    wait_port "$port" "$GW_PID" ||
        die "gateway $1 did not start: $(cat "$d/stderr" "$d/logs/error.log" 2>/dev/null)"
    GW_PORT=$port
}

# start_nginx NAME on|off: sets NG_PID and NG_PORT
start_nginx() {
    local d=$RUN/$1 port log
    mkdir -p "$d/conf" "$d/logs" "$d/tmp"
    port=$(free_port)
    log='access_log logs/nginx-access.log;'
    [[ $2 == off ]] && log='access_log off;'
    sed -e "s|127\.0\.0\.1:18789|127.0.0.1:$port|" \
        -e "s|access_log logs/nginx-access.log;|$log|" \
        "$BENCH/nginx.conf" >"$d/conf/nginx.conf"
    grep -q "127.0.0.1:$port" "$d/conf/nginx.conf" ||
        die "bench/nginx.conf must listen on 127.0.0.1:18789 (run.sh moves it)"
    "$NGINX" -p "$d/" -c "$d/conf/nginx.conf" -e "$d/logs/nginx-error.log" \
        -t >"$d/check.out" 2>&1 || die "bench/nginx.conf: $(cat "$d/check.out")"
    "${SRV_PIN[@]}" "$NGINX" -p "$d/" -c "$d/conf/nginx.conf" \
        -e "$d/logs/nginx-error.log" >"$d/stderr" 2>&1 &
    NG_PID=$!
    PIDS+=("$NG_PID")
    wait_port "$port" "$NG_PID" ||
        die "nginx $1 did not start: $(cat "$d/stderr" "$d/logs/nginx-error.log")"
    NG_PORT=$port
}

# the nginx master and its workers
nginx_pids() { echo "$1" "$(pgrep -P "$1" | tr '\n' ' ')"; }

# ---------------------------------------------------------------------------
# Header

say "bench: gateway $GW ($SIG)"
BG_BEFORE=$(background_load 2)
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
say "bench: load average $LOADAVG; machine busy ${BG_BEFORE}% before start"

# ---------------------------------------------------------------------------
# Memory

say "bench: memory: fresh gateway, idle ${IDLE} s"
start_gateway mem logs/access.log
MEM_PID=$GW_PID
MEM_PORT=$GW_PORT
sleep "$IDLE"
M_IDLE=$(kib "$MEM_PID" VmRSS)
M_IDLE_ANON=$(kib "$MEM_PID" RssAnon)
M_IDLE_FILE=$(kib "$MEM_PID" RssFile)
M_LIBS=$(awk '$6 ~ /\.so/ { print $6 }' "/proc/$MEM_PID/maps" | sort -u | wc -l)

say "bench: memory: $NSESS sessions (initialize, 8 at a time)"
timeout 150 node "$BENCH/mem.mjs" sessions "http://127.0.0.1:$MEM_PORT/mcp" \
    "$NSESS" >"$RUN/sessions.out" 2>&1 ||
    die "sessions: $(cat "$RUN/sessions.out")"
sleep 1
M_SESS=$(kib "$MEM_PID" VmRSS)
M_SESS_ANON=$(kib "$MEM_PID" RssAnon)

say "bench: memory: $NSESS open keep-alive connections, one session each"
timeout 150 node "$BENCH/mem.mjs" connections \
    "http://127.0.0.1:$MEM_PORT/mcp" "$NSESS" >"$RUN/conns.out" 2>&1 &
NODE_PID=$!
PIDS+=("$NODE_PID")
for _ in $(seq 1200); do
    grep -q '^READY' "$RUN/conns.out" && break
    kill -0 "$NODE_PID" 2>/dev/null || break
    sleep 0.1
done
grep -q '^READY' "$RUN/conns.out" ||
    die "connections: $(cat "$RUN/conns.out")"
sleep 1
OPEN=$(ss -Htn state established "( sport = :$MEM_PORT )" | wc -l)
M_CONN=$(kib "$MEM_PID" VmRSS)
M_CONN_ANON=$(kib "$MEM_PID" RssAnon)
kill -TERM "$NODE_PID"
wait "$NODE_PID" || true
forget_pid "$NODE_PID"
((OPEN >= NSESS)) || die "only $OPEN connections were open, wanted $NSESS"
sleep 1
M_CLOSED=$(kib "$MEM_PID" VmRSS)
M_CLOSED_ANON=$(kib "$MEM_PID" RssAnon)
M_HWM=$(kib "$MEM_PID" VmHWM)
stop_gateway mem "$MEM_PID"

# ---------------------------------------------------------------------------
# Throughput and latency

say "bench: throughput: ${ROUNDS} round(s) of ${SECS} s per server," \
    "wrk -t$THREADS -c$CONNS$([[ $PIN == 1 ]] && echo ', servers on CPU 0, wrk on CPU 1')"

start_gateway gw-log logs/access.log
GWLOG_PID=$GW_PID GWLOG_PORT=$GW_PORT
start_gateway gw-null /dev/null
GWNULL_PID=$GW_PID GWNULL_PORT=$GW_PORT
start_nginx ng-log on
NGLOG_PID=$NG_PID NGLOG_PORT=$NG_PORT
start_nginx ng-off off
NGOFF_PID=$NG_PID NGOFF_PORT=$NG_PORT

SID=$(mcp_session "$GWLOG_PORT")
SID_NULL=$(mcp_session "$GWNULL_PORT")
SIZE_GW=$(check_call "$GWLOG_PORT" "$SID")
check_call "$GWNULL_PORT" "$SID_NULL" >/dev/null
SIZE_NG=$(curl -sS --max-time 5 -o /dev/null -w '%{size_download}' \
    "${MCP_H[@]}" -H "Mcp-Session-Id: $SID" -d "$CALL" \
    "http://127.0.0.1:$NGLOG_PORT/mcp")

TARGETS=(gw-log ng-log gw-null ng-off)
declare -A LABEL=(
    [gw-log]="mcpgw, echo tools/call (access log to a file)"
    [gw-null]="mcpgw, echo tools/call (access log to /dev/null)"
    [ng-log]="nginx, static JSON (access log on)"
    [ng-off]="nginx, static JSON (access log off)"
)
declare -A PORT=([gw-log]=$GWLOG_PORT [gw-null]=$GWNULL_PORT
    [ng-log]=$NGLOG_PORT [ng-off]=$NGOFF_PORT)
declare -A TSID=([gw-log]=$SID [gw-null]=$SID_NULL
    [ng-log]=$SID [ng-off]=$SID)
declare -A R=()

server_pids() {
    case $1 in
    gw-log) echo "$GWLOG_PID" ;;
    gw-null) echo "$GWNULL_PID" ;;
    ng-log) nginx_pids "$NGLOG_PID" ;;
    ng-off) nginx_pids "$NGOFF_PID" ;;
    esac
}

# wrk_run TARGET ROUND
wrk_run() {
    local t=$1 n=$2 url out c0 c1 k0 k1 l0 l1 line kv k v
    local -a pids
    url="http://127.0.0.1:${PORT[$t]}/mcp"
    out=$RUN/wrk-$t-$n.txt
    read -r -a pids <<<"$(server_pids "$t")"
    MCPGW_SID=${TSID[$t]} timeout $((WARMUP + 30)) "${CLI_PIN[@]}" \
        wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" -s "$BENCH/call.lua" \
        "$url" >/dev/null
    c0=$(cpu_ticks "${pids[@]}")
    k0=$(core_ticks "$SRV_CORE")
    l0=$(core_ticks "$CLI_CORE")
    MCPGW_SID=${TSID[$t]} timeout $((SECS + 30)) "${CLI_PIN[@]}" \
        wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency \
        -s "$BENCH/call.lua" "$url" >"$out"
    c1=$(cpu_ticks "${pids[@]}")
    k1=$(core_ticks "$SRV_CORE")
    l1=$(core_ticks "$CLI_CORE")
    read -r v k <<<"$(core_pct "$k0" "$k1")"
    R[$t,$n,sbusy]=$v R[$t,$n,ssteal]=$k
    read -r v k <<<"$(core_pct "$l0" "$l1")"
    R[$t,$n,cbusy]=$v R[$t,$n,csteal]=$k
    line=$(grep '^RESULT ' "$out") || die "wrk printed no result: $(cat "$out")"
    for kv in ${line#RESULT }; do
        k=${kv%%=*} v=${kv#*=}
        R[$t,$n,$k]=$v
    done
    R[$t,$n,cpureq]=$(awk -v c=$((c1 - c0)) -v hz="$HZ" \
        -v r="${R[$t,$n,requests]}" 'BEGIN { printf "%.1f", 1e6 * c / hz / r }')
    R[$t,$n,errors]=$((${R[$t,$n,err_connect]} + ${R[$t,$n,err_read]} +
        ${R[$t,$n,err_write]} + ${R[$t,$n,err_timeout]} +
        ${R[$t,$n,err_status]}))
    say "$(printf 'bench:   round %d %-8s %6.0f req/s  p50 %5.2f ms  p99 %6.2f ms  %5s us/req  server core %3s%% (steal %s%%)  client core %3s%% (steal %s%%)  errors %s' \
        "$n" "$t" "${R[$t,$n,rps]}" "$(ms "${R[$t,$n,p50]}")" \
        "$(ms "${R[$t,$n,p99]}")" "${R[$t,$n,cpureq]}" \
        "${R[$t,$n,sbusy]}" "${R[$t,$n,ssteal]}" "${R[$t,$n,cbusy]}" \
        "${R[$t,$n,csteal]}" "${R[$t,$n,errors]}")"
}

for n in $(seq "$ROUNDS"); do
    for t in "${TARGETS[@]}"; do
        wrk_run "$t" "$n"
    done
done

# the best round of each server: noise from other processes only slows
declare -A BEST=()
for t in "${TARGETS[@]}"; do
    b=1
    for n in $(seq "$ROUNDS"); do
        if awk -v a="${R[$t,$n,rps]}" -v b="${R[$t,$b,rps]}" \
            'BEGIN { exit !(a > b) }'; then
            b=$n
        fi
    done
    BEST[$t]=$b
done

LOAD_RSS=$(kib "$GWLOG_PID" VmRSS)
LOAD_HWM=$(kib "$GWLOG_PID" VmHWM)

# ---------------------------------------------------------------------------
# Optional profile of the gateway under the same load

PROFILE=
if [[ $PERF == 1 ]]; then
    say "bench: perf record of the gateway under load (5 s)"
    MCPGW_SID=$SID timeout 60 "${CLI_PIN[@]}" wrk -t"$THREADS" -c"$CONNS" \
        -d8s -s "$BENCH/call.lua" "http://127.0.0.1:$GWLOG_PORT/mcp" \
        >/dev/null &
    WRK_PID=$!
    sleep 1
    if timeout 60 perf record -q -F 999 --call-graph dwarf,16384 \
        -o "$RUN/perf.data" -p "$GWLOG_PID" -- sleep 5 \
        >"$RUN/perf-record.out" 2>&1; then
        PROFILE=$(
            set +o pipefail
            echo '```'
            echo "self time, top 30 symbols"
            perf report -i "$RUN/perf.data" --no-children --sort dso,symbol \
                --stdio -g none 2>/dev/null | grep '%' | sed 's/[ -]*$//' |
                head -n 30
            echo
            echo "inclusive time (self + callees), user space, top 50"
            perf report -i "$RUN/perf.data" --children --sort dso,symbol \
                --stdio -g none 2>/dev/null | grep '%' | grep -F '[.]' |
                grep -v -E '\[\.\] (0x[0-9a-f]+|_start|main|__libc_start)' |
                sed 's/[ -]*$//' | head -n 50
            echo '```'
        )
    else
        say "bench: perf record failed: $(cat "$RUN/perf-record.out")"
    fi
    wait "$WRK_PID" || true
fi

stop_gateway gw-log "$GWLOG_PID"
stop_gateway gw-null "$GWNULL_PID"

# ---------------------------------------------------------------------------
# Optional: instructions per request under callgrind

CG_REPORT=
if [[ $CALLGRIND == 1 ]]; then
    say "bench: callgrind: the gateway under valgrind, 5 s of wrk -c10"
    GW_WRAP=(valgrind -q --tool=callgrind
        "--callgrind-out-file=$RUN/callgrind.out.%p")
    start_gateway gw-cg logs/access.log
    GW_WRAP=()
    CG_PID=$GW_PID
    CG_SID=$(mcp_session "$GW_PORT")
    check_call "$GW_PORT" "$CG_SID" >/dev/null
    callgrind_control -z "$CG_PID" >/dev/null 2>&1
    MCPGW_SID=$CG_SID timeout 60 wrk -t1 -c10 -d5s -s "$BENCH/call.lua" \
        "http://127.0.0.1:$GW_PORT/mcp" >"$RUN/wrk-callgrind.txt"
    callgrind_control -d "$CG_PID" >/dev/null 2>&1
    CG_REQS=$(sed -n 's/^RESULT requests=\([0-9]*\).*/\1/p' \
        "$RUN/wrk-callgrind.txt")
    stop_gateway gw-cg "$CG_PID"
    CG_DUMP=$(find "$RUN" -maxdepth 1 -name "callgrind.out.$CG_PID.*" |
        sort | head -n 1)
    if [[ -n $CG_DUMP && ${CG_REQS:-0} -gt 0 ]]; then
        CG_IR=$(callgrind_annotate "$CG_DUMP" 2>/dev/null |
            awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
        CG_REPORT=$(
            set +o pipefail
            printf 'User-space instructions per tools/call: **%s** (%s Ir over %s requests; kernel time not counted).\n\n' \
                "$(awk -v i="$CG_IR" -v n="$CG_REQS" 'BEGIN { printf "%.0f", i / n }')" \
                "$CG_IR" "$CG_REQS"
            echo '```'
            echo "inclusive, top 45 (Ir, share, function)"
            callgrind_annotate --inclusive=yes --auto=no "$CG_DUMP" \
                2>/dev/null | grep -E '^ *[0-9,]+ +\( *[0-9.]+%\) +[^ =]' |
                grep -v -E 'PROGRAM TOTALS|\?\?\?:0x|below main' |
                sed -e "s|$(dirname "$OBJS")/||g" \
                    -E -e 's|\[[^]]*/([^]/]+)\]$|[\1]|' |
                awk '!seen[$3]++' | head -n 45
            echo '```'
        )
    else
        say "bench: callgrind produced no dump"
    fi
fi

BG_AFTER=$(background_load 2)

# ---------------------------------------------------------------------------
# Report

b_gw=${BEST[gw-log]} b_ng=${BEST[ng-log]}
b_gwn=${BEST[gw-null]} b_ngo=${BEST[ng-off]}
RATIO=$(ratio "${R[gw-log,$b_gw,rps]}" "${R[ng-log,$b_ng,rps]}")
RATIO_NOLOG=$(ratio "${R[gw-null,$b_gwn,rps]}" "${R[ng-off,$b_ngo,rps]}")
CPU_RATIO=$(ratio "${R[ng-log,$b_ng,cpureq]}" "${R[gw-log,$b_gw,cpureq]}")
LOG_COST=$(awk -v a="${R[gw-log,$b_gw,rps]}" -v b="${R[gw-null,$b_gwn,rps]}" \
    'BEGIN { printf "%.0f", b ? 100 * (b - a) / b : 0 }')

LOG_US=$(awk -v a="${R[gw-log,$b_gw,cpureq]}" -v b="${R[gw-null,$b_gwn,cpureq]}" \
    'BEGIN { printf "%.1f", a - b }')
LOG_PCT=$(awk -v a="${R[gw-log,$b_gw,cpureq]}" -v b="${R[gw-null,$b_gwn,cpureq]}" \
    'BEGIN { printf "%.0f", a ? 100 * (a - b) / a : 0 }')

V_TPUT=$(verdict lt 0.4999 "$RATIO")
V_IDLE=$(verdict lt "$M_IDLE" 10240)
V_SESS=$(verdict lt $((M_SESS - M_IDLE)) 16384)
V_CONN=$(verdict lt $((M_CONN - M_IDLE)) 16384)

CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM_TOTAL=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
DEBIAN=$(cat /etc/debian_version 2>/dev/null || echo '?')
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
if [[ -n $(git -C "$ROOT" status --porcelain -- src include tests/modules \
    Makefile.in configure 2>/dev/null) ]]; then
    GIT_REV="$GIT_REV + uncommitted changes"
fi
NGINX_V=$("$NGINX" -v 2>&1 | sed 's/.*version: //')
WRK_V=$(wrk -v 2>&1 | awk 'NR == 1 { print $2 }' || true)
NODE_V=$(node -v)

row() { # target
    local t=$1 b=${BEST[$1]}
    printf '| %s | %.0f | %s | %s | %s | %s | %s%% (%s%%) | %s%% (%s%%) | %s |\n' \
        "${LABEL[$t]}" "${R[$t,$b,rps]}" "$(ms "${R[$t,$b,p50]}")" \
        "$(ms "${R[$t,$b,p99]}")" "$(ms "${R[$t,$b,max]}")" \
        "${R[$t,$b,cpureq]}" "${R[$t,$b,sbusy]}" "${R[$t,$b,ssteal]}" \
        "${R[$t,$b,cbusy]}" "${R[$t,$b,csteal]}" "${R[$t,$b,errors]}"
}

rounds_list() { # target
    local t=$1 n s=
    for n in $(seq "$ROUNDS"); do
        s="$s${s:+, }$(printf '%.0f' "${R[$t,$n,rps]}")"
    done
    echo "$s"
}

memrow() { # label kib anon_kib target verdict
    local d=
    [[ -n ${6:-} ]] && d="+$(mib $(($2 - M_IDLE)))"
    printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$(mib "$2")" \
        "$(mib "$3")" "${d:-—}" "$4" "$5"
}

REPORT=$(
    cat <<EOF
## mcpgw benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')

Machine: $CPU_MODEL, $NCPU CPUs, $MEM_TOTAL, Debian $DEBIAN, Linux $(uname -r).
Load generator and servers share it$([[ $PIN == 1 ]] && echo ': servers pinned to CPU 0, wrk to CPU 1'). Busy before: ${BG_BEFORE}%, after: ${BG_AFTER}% of the machine (load average $LOADAVG).
mcpgw $GW_VERSION, git $GIT_REV, $SIG, built from $BUILD_NOTE; $NGINX_V (1 worker); wrk $WRK_V; node $NODE_V.

$(if ((BG_BEFORE > 10 || BG_AFTER > 10)); then
    echo "**Warning: other processes kept the machine ${BG_BEFORE}% / ${BG_AFTER}% busy before / after: these numbers are noisy; run again on a quiet machine.**"
fi)

### Throughput: HTTP/1.1 keep-alive, wrk -t$THREADS -c$CONNS, ${SECS} s, best of $ROUNDS

Request: POST /mcp, JSON-RPC tools/call of the test module's \`echo\`
(104-byte body, session header). Response body: mcpgw $SIZE_GW bytes,
nginx $SIZE_NG bytes.

| server | req/s | p50 ms | p99 ms | max ms | server µs CPU/req | $SRV_CORE_NAME busy (steal) | $CLI_CORE_NAME busy (steal) | errors |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
$(row gw-log)
$(row ng-log)
$(row gw-null)
$(row ng-off)

Rounds (req/s): mcpgw log: $(rounds_list gw-log); nginx log: $(rounds_list ng-log); mcpgw /dev/null: $(rounds_list gw-null); nginx no log: $(rounds_list ng-off).

- mcpgw / nginx, both logging: **$RATIO** (target ≥ 0.50: **$V_TPUT**)
- mcpgw / nginx, neither logging to a file: $RATIO_NOLOG
- by CPU time per request (steal and a busy wrk do not enter it):
  nginx ${R[ng-log,$b_ng,cpureq]} µs / mcpgw ${R[gw-log,$b_gw,cpureq]} µs = $CPU_RATIO
- the access log file costs the gateway $LOG_US µs CPU per request (${LOG_PCT}% of its CPU per request; ${LOG_COST}% of its req/s in this run)
- gateway RSS after the throughput runs: $(mib "$LOAD_RSS") MiB (peak $(mib "$LOAD_HWM") MiB)

### Memory (VmRSS of the gateway, fresh process)

| state | VmRSS MiB | RssAnon MiB | vs idle MiB | target | |
|---|---:|---:|---:|---|---|
$(memrow "idle, ${IDLE} s after start" "$M_IDLE" "$M_IDLE_ANON" "< 10 MiB" "$V_IDLE")
$(memrow "after $NSESS sessions (initialize, connections closed)" "$M_SESS" "$M_SESS_ANON" "< +16 MiB" "$V_SESS" d)
$(memrow "$OPEN open keep-alive connections, one session each" "$M_CONN" "$M_CONN_ANON" "< +16 MiB" "$V_CONN" d)
$(memrow "after those connections closed" "$M_CLOSED" "$M_CLOSED_ANON" "" "" d)

Idle: $(mib "$M_IDLE_FILE") MiB of the VmRSS are file pages (the binary and the $M_LIBS shared libraries it maps, which other processes can share), $(mib "$M_IDLE_ANON") MiB anonymous memory.
Peak (VmHWM) over the memory part: $(mib "$M_HWM") MiB.
EOF
    if [[ -n $CG_REPORT ]]; then
        printf '\n### Instructions per request (callgrind)\n\n%s\n' \
            "$CG_REPORT"
    fi
    if [[ -n $PROFILE ]]; then
        printf '\n### Profile (perf, gateway under the same load)\n\n%s\n' \
            "$PROFILE"
    fi
)

printf '%s\n' "$REPORT"
if [[ $OUT != - ]]; then
    mkdir -p "$(dirname "$OUT")"
    printf '%s\n' "$REPORT" >"$OUT"
    say "bench: report written to $OUT"
fi

ok=1
if [[ $STRICT == 1 && "$V_TPUT $V_IDLE $V_SESS $V_CONN" == *MISSED* ]]; then
    exit 3
fi
