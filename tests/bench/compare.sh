#!/usr/bin/env bash
# Side-by-side benchmark: Debian's memcached vs `streamlua serve` (the
# bundled memcached script), driven by `streamlua bench`. Prints a Markdown
# table of medians and streamlua/memcached ratios. See tests/bench/README.md
# for the method and how to read the figures.
#
# Environment (all optional):
#   QUICK=1        2 s runs instead of 10 s (DURATION overrides both)
#   DURATION=S     seconds per measured run
#   REPEATS=N      runs per server and workload (default 3, minimum 3)
#   BINARY=1       add binary-protocol workloads (the server must speak it)
#   SCALING=0      skip the GOMAXPROCS=2 / memcached -t 2 unpinned phase
#   SUT=memcached  measure a second memcached instead of streamlua, to check
#                  the script itself while streamlua's script is unfinished
#   WORKLOADS="name:protocol:pipeline:value_size ..." replaces the pinned set
#   CONNS, KEYS, RATIO (GET:SET)  default 50, 10000, 9:1 (the anchors)
#   SERVER_CORE, CLIENT_CORE      default 0 and 1
#   OUT=DIR        keep every run's JSON there (default: a temp dir, removed)
#   STREAMLUA_BIN  use this binary instead of building one
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
QUICK=${QUICK:-0}
if [[ -z "${DURATION:-}" ]]; then
	if [[ "$QUICK" == 1 ]]; then DURATION=2; else DURATION=10; fi
fi
REPEATS=${REPEATS:-3}
BINARY=${BINARY:-0}
SCALING=${SCALING:-1}
SUT=${SUT:-streamlua}
CONNS=${CONNS:-50}
KEYS=${KEYS:-10000}
RATIO=${RATIO:-9:1}
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}
MEMORY_MB=256 # both servers: room for 10k keys of 4 KiB without eviction

die() { echo "compare.sh: $*" >&2; exit 1; }

[[ "$REPEATS" =~ ^[0-9]+$ && "$REPEATS" -ge 3 ]] || die "REPEATS must be at least 3"
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 ]] || die "DURATION must be whole seconds >= 1"
[[ "$SUT" == streamlua || "$SUT" == memcached ]] || die "SUT must be streamlua or memcached"
for tool in memcached taskset jq timeout; do
	command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install memcached util-linux jq coreutils)"
done
[[ $(nproc --all) -ge 2 ]] || die "needs at least 2 cores to pin server and generator apart"

if [[ -n "${OUT:-}" ]]; then
	mkdir -p "$OUT"
	KEEP_OUT=1
else
	OUT=$(mktemp -d)
	KEEP_OUT=0
fi

PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [[ "$KEEP_OUT" == 0 ]]; then rm -rf "$OUT"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build ----------------------------------------------------------------
if [[ -n "${STREAMLUA_BIN:-}" ]]; then
	BIN=$STREAMLUA_BIN
else
	BIN=$OUT/streamlua
	(cd "$ROOT" && go build -o "$BIN" ./cmd/streamlua) || die "go build failed"
fi

# --- servers --------------------------------------------------------------
MC_USER=()
[[ $(id -u) == 0 ]] && MC_USER=(-u root)

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_server KIND PIN THREADS -> sets SRV_PID and SRV_PORT.
# KIND is memcached or streamlua; PIN is a core list or "" for unpinned;
# THREADS is memcached's -t or streamlua's GOMAXPROCS.
start_server() {
	local kind=$1 pin=$2 threads=$3 attempt port pid i
	local pincmd=()
	[[ -n "$pin" ]] && pincmd=(taskset -c "$pin")
	for attempt in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 40000))
		port_in_use "$port" && continue
		if [[ "$kind" == memcached ]]; then
			"${pincmd[@]}" memcached -l 127.0.0.1 -p "$port" -U 0 -t "$threads" -m "$MEMORY_MB" -c 4096 "${MC_USER[@]}" \
				>"$OUT/memcached-$port.log" 2>&1 &
		else
			GOMAXPROCS=$threads "${pincmd[@]}" "$BIN" serve --listen "127.0.0.1:$port" \
				--dict "memcached=${MEMORY_MB}m" --max-conns 4096 --log-level warn \
				>"$OUT/streamlua-$port.log" 2>&1 &
		fi
		pid=$!
		PIDS+=("$pid")
		for i in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			if port_in_use "$port"; then
				SRV_PID=$pid
				SRV_PORT=$port
				return 0
			fi
			sleep 0.05
		done
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	die "could not start $kind (logs in $OUT)"
}

stop_server() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# bench PORT PID PIN OUTFILE [bench flags...]: one bounded generator run.
bench() {
	local port=$1 pid=$2 pin=$3 out=$4
	shift 4
	local pincmd=()
	[[ -n "$pin" ]] && pincmd=(taskset -c "$pin")
	# --timeout bounds the prefill and the drain; timeout(1) bounds the rest.
	timeout --kill-after=5 $((DURATION + 60)) "${pincmd[@]}" "$BIN" bench \
		--server "127.0.0.1:$port" --server-pid "$pid" --conns "$CONNS" --keys "$KEYS" \
		--ratio "$RATIO" --timeout 20s --json "$@" >"$out" 2>"$out.err" || true
	if ! jq -e .ops "$out" >/dev/null 2>&1; then
		echo "compare.sh: run failed: $(cat "$out.err")" >&2
		echo '{"ops":0,"ops_per_sec":0,"errors":-1,"gets":0,"hits":0,"latency_ms":{"p50":0,"p99":0}}' >"$out"
	fi
}

# probe LABEL PORT PID PROTOCOL: a short correctness check before measuring.
probe() {
	local label=$1 port=$2 pid=$3 proto=$4 out="$OUT/probe-$1-$4.json"
	timeout --kill-after=5 60 "$BIN" bench --server "127.0.0.1:$port" --conns 2 --pipeline 4 --keys 200 \
		--requests 2000 --duration 0 --protocol "$proto" --timeout 10s --json >"$out" 2>"$out.err" || true
	local errors
	errors=$(jq -r '.errors // "none"' "$out" 2>/dev/null || echo none)
	if [[ "$errors" != 0 ]]; then
		local why
		why=$(jq -r '.first_error // empty' "$out" 2>/dev/null || true)
		[[ -z "$why" ]] && why=$(cat "$out.err")
		die "$label does not serve the memcached $proto protocol correctly yet: $why
(rerun with SUT=memcached to check the script itself$([[ "$proto" == binary ]] && echo ", or without BINARY=1"))"
	fi
}

# --- workloads ------------------------------------------------------------
if [[ -n "${WORKLOADS:-}" ]]; then
	read -r -a PINNED <<<"$WORKLOADS"
else
	PINNED=("text-p1:text:1:32" "text-p16:text:16:32" "text-p16-4KiB:text:16:4096" "text-p1-4KiB:text:1:4096")
	if [[ "$BINARY" == 1 ]]; then
		PINNED+=("binary-p1:binary:1:32" "binary-p16:binary:16:32")
	fi
fi
SCALED=("text-p1:text:1:32" "text-p16:text:16:32")

A_LABEL=memcached
B_LABEL=$SUT
[[ "$SUT" == memcached ]] && B_LABEL="memcached#2"

# run_phase NAME PIN_SERVER PIN_CLIENT THREADS WORKLOAD...: start both
# servers, interleave them within every repeat, stop them.
run_phase() {
	local phase=$1 spin=$2 cpin=$3 threads=$4
	shift 4
	local a_pid a_port b_pid b_port rep w name proto pipe size
	start_server memcached "$spin" "$threads"
	a_pid=$SRV_PID a_port=$SRV_PORT
	start_server "$SUT" "$spin" "$threads"
	b_pid=$SRV_PID b_port=$SRV_PORT
	probe "$A_LABEL" "$a_port" "$a_pid" text
	probe "$B_LABEL" "$b_port" "$b_pid" text
	if [[ "$BINARY" == 1 ]]; then
		probe "$A_LABEL" "$a_port" "$a_pid" binary
		probe "$B_LABEL" "$b_port" "$b_pid" binary
	fi
	for rep in $(seq 1 "$REPEATS"); do
		for w in "$@"; do
			IFS=: read -r name proto pipe size <<<"$w"
			local flags=(--protocol "$proto" --pipeline "$pipe" --data-size "$size" --duration "${DURATION}s")
			# Alternate which server goes first, so neither always runs on
			# a machine warmed (or disturbed) by the other.
			if (((rep + ${#name}) % 2)); then
				echo "  [$phase $rep/$REPEATS] $name $A_LABEL" >&2
				bench "$a_port" "$a_pid" "$cpin" "$OUT/$phase.$name.a.$rep.json" "${flags[@]}"
				echo "  [$phase $rep/$REPEATS] $name $B_LABEL" >&2
				bench "$b_port" "$b_pid" "$cpin" "$OUT/$phase.$name.b.$rep.json" "${flags[@]}"
			else
				echo "  [$phase $rep/$REPEATS] $name $B_LABEL" >&2
				bench "$b_port" "$b_pid" "$cpin" "$OUT/$phase.$name.b.$rep.json" "${flags[@]}"
				echo "  [$phase $rep/$REPEATS] $name $A_LABEL" >&2
				bench "$a_port" "$a_pid" "$cpin" "$OUT/$phase.$name.a.$rep.json" "${flags[@]}"
			fi
		done
	done
	stop_server "$a_pid"
	stop_server "$b_pid"
}

# --- statistics -----------------------------------------------------------
# group N: N rounded, with thousands separators.
group() { LC_NUMERIC=C printf '%.0f' "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'; }

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "nan"; exit} if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# field PHASE NAME SIDE JQ: one number per repeat.
field() {
	local rep
	for rep in $(seq 1 "$REPEATS"); do
		jq -r "$4 // 0" "$OUT/$1.$2.$3.$rep.json"
	done
}

# ratio PHASE NAME JQ: median over repeats of the paired b/a ratio.
ratio() {
	local rep a b
	for rep in $(seq 1 "$REPEATS"); do
		a=$(jq -r "$3 // 0" "$OUT/$1.$2.a.$rep.json")
		b=$(jq -r "$3 // 0" "$OUT/$1.$2.b.$rep.json")
		awk -v a="$a" -v b="$b" 'BEGIN { if (a > 0) printf "%.4f\n", b / a }'
	done | median
}

M_OPS='.ops_per_sec'
M_P50='.latency_ms.p50'
M_P99='.latency_ms.p99'
M_CPU='.server_cpu_us_per_op'
M_SPCT='.server_cpu_percent'
M_CPCT='.client_cpu_percent'
M_HIT='(if .gets > 0 then 100 * .hits / .gets else 0 end)'
M_ERR='.errors'

row() { # PHASE NAME SIDE LABEL
	local ops p50 p99 cpu spct cpct hit err
	ops=$(field "$1" "$2" "$3" "$M_OPS" | median)
	p50=$(field "$1" "$2" "$3" "$M_P50" | median)
	p99=$(field "$1" "$2" "$3" "$M_P99" | median)
	cpu=$(field "$1" "$2" "$3" "$M_CPU" | median)
	spct=$(field "$1" "$2" "$3" "$M_SPCT" | median)
	cpct=$(field "$1" "$2" "$3" "$M_CPCT" | median)
	hit=$(field "$1" "$2" "$3" "$M_HIT" | median)
	err=$(field "$1" "$2" "$3" "$M_ERR" | awk '{s += $1} END {print s + 0}')
	LC_NUMERIC=C printf '| %s | %s | %s | %.3f | %.3f | %.2f | %.0f | %.0f | %.1f | %d |\n' \
		"$2" "$4" "$(group "$ops")" "$p50" "$p99" "$cpu" "$spct" "$cpct" "$hit" "$err"
}

ratio_row() { # PHASE NAME
	local ops p50 p99 cpu
	ops=$(ratio "$1" "$2" "$M_OPS")
	p50=$(ratio "$1" "$2" "$M_P50")
	p99=$(ratio "$1" "$2" "$M_P99")
	cpu=$(ratio "$1" "$2" "$M_CPU")
	LC_NUMERIC=C printf '| %s | **%s / %s** | **%.2f** | %.2f | %.2f | **%.2f** | | | | |\n' \
		"$2" "$B_LABEL" "$A_LABEL" "$ops" "$p50" "$p99" "$cpu"
}

table() { # PHASE WORKLOAD...
	local phase=$1 w name
	shift
	echo "| workload | server | ops/s | p50 ms | p99 ms | server CPU µs/op | server CPU % | client CPU % | hit % | errors |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	for w in "$@"; do
		name=${w%%:*}
		row "$phase" "$name" a "$A_LABEL"
		row "$phase" "$name" b "$B_LABEL"
		ratio_row "$phase" "$name"
	done
}

# has_run PHASE NAME: whether every repeat of that workload left its JSON.
has_run() { [[ -f "$OUT/$1.$2.b.1.json" ]]; }

# scaling_summary: the two-core throughput of the server under test against
# its pinned one-core throughput at 16 in flight, and the most that ratio can
# be on this machine while the generator shares both cores: with the server
# costing on two cores what it costs on one (s1 µs of CPU a request) and the
# generator what it costs on its own core (g1), two fully busy cores serve
# 2 / (s1 + g1) requests a µs, so two-core / one-core <= 2 s1 / (s1 + g1).
scaling_summary() {
	has_run pinned text-p16 && has_run scaled text-p16 || return 0
	local one two s1 g1 ratio ceiling
	one=$(field pinned text-p16 b "$M_OPS" | median)
	two=$(field scaled text-p16 b "$M_OPS" | median)
	s1=$(field pinned text-p16 b "$M_CPU" | median)
	g1=$(field pinned text-p16 b '.client_cpu_us_per_op' | median)
	ratio=$(LC_NUMERIC=C awk -v a="$one" -v b="$two" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "nan" }')
	ceiling=$(LC_NUMERIC=C awk -v s="$s1" -v g="$g1" 'BEGIN { if (s + g > 0) printf "%.2f", 2 * s / (s + g); else print "nan" }')
	echo
	LC_NUMERIC=C printf 'text-p16, %s on two cores / on one: **%s×** (%s / %s ops/s). ' \
		"$B_LABEL" "$ratio" "$(group "$two")" "$(group "$one")"
	LC_NUMERIC=C printf 'Ceiling while the generator shares the cores: 2 × %.2f / (%.2f + %.2f) = %s× ' \
		"$s1" "$s1" "$g1" "$ceiling"
	echo "(server CPU/op as on one core, the generator's as on its own core, both cores always busy)."
}

# --- run ------------------------------------------------------------------
START=$(date +%s)
echo "compare.sh: $B_LABEL vs $A_LABEL, ${DURATION} s × $REPEATS runs per workload" >&2
run_phase pinned "$SERVER_CORE" "$CLIENT_CORE" 1 "${PINNED[@]}"
if [[ "$SCALING" == 1 ]]; then
	run_phase scaled "" "" 2 "${SCALED[@]}"
fi
ELAPSED=$(($(date +%s) - START))

echo
echo "## $B_LABEL vs $A_LABEL"
echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc --all) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(memcached -V), $("$BIN" version)."
echo "$CONNS connections, get:set $RATIO, $KEYS prefilled keys; ${DURATION} s per run, median of $REPEATS interleaved runs; whole script ${ELAPSED} s."
echo
echo "### Pinned: server on core $SERVER_CORE (memcached -t 1, streamlua GOMAXPROCS=1), generator on core $CLIENT_CORE"
echo
table pinned "${PINNED[@]}"
if [[ "$SCALING" == 1 ]]; then
	echo
	echo "### Scaling: memcached -t 2 vs streamlua GOMAXPROCS=2, nothing pinned (generator shares both cores)"
	echo
	table scaled "${SCALED[@]}"
	scaling_summary
fi
echo
echo "Ratios are $B_LABEL / $A_LABEL: the median of the per-repeat ratios (each repeat runs both servers back to back)."
echo "For CPU/op and latency lower is better; for ops/s higher. Server CPU is utime+stime from /proc/PID/stat over the measured phase only."
echo "client CPU % near 100 on a pinned core means the generator, not the server, set the ops/s: compare CPU/op then."
if [[ "$KEEP_OUT" == 1 ]]; then echo; echo "Raw JSON: $OUT"; fi
