# bench/lib.sh -- helpers bench/run.sh and bench/cloudflare.sh share.
# Sourced, not run: each function as it was in both scripts.

say() { printf '%s\n' "$*" >&2; }

# BENCH_NAME ("bench", "cloudflare bench", ...) starts every message.
die() {
    say "$BENCH_NAME: $*"
    exit 1
}

# After the need calls: name what is missing with the apt-get line that
# installs it, and exit 2.
missing_exit() {
    ((${#missing[@]})) || return 0
    say "$BENCH_NAME: missing: ${missing[*]}"
    say "$BENCH_NAME: install them with (as root):"
    say "    apt-get install -y ${missing_pkg[*]}"
    say "$BENCH_NAME: (and the build dependencies: ./configure names any" \
        "missing library, with its apt-get line)"
    exit 2
}

# PIN (1: servers on CPU 0, load generators on CPU 1) checked against the
# machine; sets PIN, THREADS (wrk's, BENCH_THREADS or 1 pinned, 2 not),
# SRV_PIN and CLI_PIN (taskset prefixes), SRV_CORE and CLI_CORE (their
# /proc/stat lines).
set_pinning() {
    if [[ $PIN == 1 && $(nproc) -lt 2 ]]; then
        say "$BENCH_NAME: one CPU only: not pinning"
        PIN=0
    fi
    if [[ $PIN == 1 ]]; then
        THREADS=${BENCH_THREADS:-1}
        SRV_PIN=(taskset -c 0)
        CLI_PIN=(taskset -c 1)
        SRV_CORE=cpu0
        CLI_CORE=cpu1
    else
        THREADS=${BENCH_THREADS:-2}
        SRV_PIN=()
        CLI_PIN=()
        SRV_CORE=cpu
        CLI_CORE=cpu
    fi
}

# start_run TAG: RUN, a new run directory named after TAG; PIDS, what
# the script starts (stop_run stops only those); ok=0 until the script
# sets ok=1 at its end.  The directory is removed at exit unless the run
# failed or KEEP is 1.
start_run() {
    RUN=$(mktemp -d "${TMPDIR:-/tmp}/mcpgw-$1.XXXXXX")
    PIDS=()
    ok=0
    trap stop_run EXIT
    trap 'exit 130' INT TERM
}

stop_run() {
    local p
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null || true
    done
    if [[ ${KEEP:-0} == 1 || $ok == 0 ]]; then
        say "$BENCH_NAME: run directory kept: $RUN"
    else
        rm -rf "$RUN"
    fi
}

need() { # command package
    if ! command -v "$1" >/dev/null 2>&1; then
        missing+=("$1")
        missing_pkg+=("$2")
    fi
}

forget_pid() {
    local p keep=()
    for p in "${PIDS[@]}"; do
        [[ $p == "$1" ]] || keep+=("$p")
    done
    PIDS=("${keep[@]}")
}

signature() { "$1" -v 2>/dev/null | sed -n 's/.*build signature //p'; }

# cloudflare_build OBJS: the build signature of OBJS/mcpgw, when it has
# the cfsandbox and cloudflare modules and is neither ASan nor debug;
# otherwise what is wrong, and status 1.
cloudflare_build() {
    local sig
    if [[ ! -x $1/mcpgw || ! -f $1/modules/mod_cfsandbox.so ||
        ! -f $1/modules/mod_cloudflare.so ]]; then
        echo "$1 lacks mcpgw or the cfsandbox and cloudflare modules"
        return 1
    fi
    sig=$(signature "$1/mcpgw")
    if [[ $sig != *asan=0* || $sig != *debug=0* ]]; then
        echo "refusing to measure a build with signature '$sig' (ASan or debug)"
        return 1
    fi
    echo "$sig"
}

free_port() {
    node -e 'const s = require("net").createServer();
        s.listen(0, "127.0.0.1", () => {
            process.stdout.write(String(s.address().port)); s.close(); });'
}

wait_port() { # port pid
    for _ in $(seq 300); do
        kill -0 "$2" 2>/dev/null || return 1
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" && return 0
        sleep 0.1
    done
    return 1
}

# busy and total jiffies of all CPUs
sys_ticks() {
    awk '$1 == "cpu" { t = 0; for (i = 2; i <= 9; i++) t += $i;
        print t - $5 - $6, t }' /proc/stat
}

# "busy steal total" jiffies of one CPU line of /proc/stat ("cpu", "cpu0")
core_ticks() {
    awk -v c="$1" '$1 == c { t = 0; for (i = 2; i <= 9; i++) t += $i;
        print t - $5 - $6 - $9, $9, t }' /proc/stat
}

# percent of the ticks between two core_ticks samples: busy% steal%
core_pct() {
    local b0 s0 t0 b1 s1 t1
    read -r b0 s0 t0 <<<"$1"
    read -r b1 s1 t1 <<<"$2"
    awk -v b=$((b1 - b0)) -v s=$((s1 - s0)) -v t=$((t1 - t0)) \
        'BEGIN { if (!t) t = 1; printf "%.0f %.0f", 100 * b / t, 100 * s / t }'
}

# Busy share of the machine (percent of all CPUs) over $1 seconds while
# nothing of ours runs: the load other processes put on it.
background_load() {
    local b0 t0 b1 t1
    read -r b0 t0 <<<"$(sys_ticks)"
    sleep "$1"
    read -r b1 t1 <<<"$(sys_ticks)"
    awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) \
        'BEGIN { printf "%.0f", t ? 100 * b / t : 0 }'
}

stop_gateway() { # name pid
    local rc=0 d=$RUN/$1
    kill -TERM "$2"
    wait "$2" || rc=$?
    forget_pid "$2"
    ((rc == 0)) || die "gateway $1 exited with status $rc: $(cat "$d/stderr")"
    if grep -E '\[(alert|emerg|crit)\]' "$d/logs/error.log" >&2; then
        die "gateway $1 logged the alerts above"
    fi
}

lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }

verdict() { if "$@"; then echo met; else echo MISSED; fi; }
