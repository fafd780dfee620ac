#!/usr/bin/env bash
# One node vs three nodes on this machine, alternated in one run, on the
# same PostgreSQL server and NATS server (docs/benchmarks.md, "Cluster: one
# node vs three"). Each round starts the nodes on a fresh database and a
# fresh bus prefix, runs herald bench (throughput, then latency at a fixed
# rate) with the sessions spread over the nodes (each pair's sender and
# receiver on different nodes when there are several), and stops them.
# The herald processes' CPU time (utime+stime from /proc) is summed over
# the nodes for each measurement.
#
#   HERALD_TEST_POSTGRES=postgres://... HERALD_TEST_NATS=nats://... \
#     scripts/bench-cluster.sh [ROUNDS] [PAIRS] [RATE] [DURATION]
#     (default 2 64 2000 10s)
set -euo pipefail

ROUNDS=${1:-2}
PAIRS=${2:-64}
RATE=${3:-2000}
DURATION=${4:-10s}
PG=${HERALD_TEST_POSTGRES:?set HERALD_TEST_POSTGRES to a PostgreSQL server URL}
NATS=${HERALD_TEST_NATS:?set HERALD_TEST_NATS to a NATS server URL}
export PATH=/usr/local/go/bin:$PATH

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
pids=()
dbs=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	for d in "${dbs[@]}"; do psql "$PG" -qc "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

(cd "$root" && go build -o "$tmp/herald" ./cmd/herald)
key="k1:$(head -c 32 /dev/urandom | base64 -w0)"
opkey="op-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# cpu PID...: the processes' utime+stime in clock ticks.
cpu() {
	local sum=0 p
	for p in "$@"; do
		sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$sum"
}

# run NODES ROUND: one measurement set on NODES fresh nodes.
run() {
	local n=$1 round=$2 db="herald_bench_$$_${1}_$2" prefix="hb$$n${1}r$2"
	psql "$PG" -qc "CREATE DATABASE $db" >/dev/null
	dbs+=("$db")
	local url="${PG%%\?*}" query=""
	[[ $PG == *\?* ]] && query="?${PG#*\?}"
	url="${url%/*}/$db$query"
	local node=() addrs=() servers=""
	for i in $(seq 1 "$n"); do
		local port=$((18400 + 10 * n + i)) dir="$tmp/n$n-r$round-$i"
		mkdir -p "$dir"
		"$tmp/herald" serve --data "$dir" --addr "127.0.0.1:$port" --store "$url" --bus "$NATS" \
			--bus-prefix "$prefix" --node-id "bench-$n-$i" --master-keys "$key" --operator-key "$opkey" \
			--user-message-rate 0 --log-level warn >"$dir/out" 2>&1 &
		node+=($!)
		pids+=($!)
		until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.1; done
		addrs+=("ws://127.0.0.1:$port/v1/ws")
	done
	servers=$(IFS=,; echo "${addrs[*]}")
	local data="$tmp/n$n-r$round-1"
	local c0 c1
	c0=$(cpu "${node[@]}")
	"$tmp/herald" bench --server "$servers" --data "$data" --mode throughput --pairs "$PAIRS" --duration "$DURATION" --json >"$tmp/tp.json"
	c1=$(cpu "${node[@]}")
	python3 - "$tmp/tp.json" "$n" "$round" "$((c1 - c0))" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); n, rnd, ticks = sys.argv[2], sys.argv[3], int(sys.argv[4])
t = r["throughput"]
msgs = t["check"]["received"]
print(f"nodes={n} round={rnd} throughput: persisted {t['persistedPerSec']:.0f}/s delivered {t['deliveredPerSec']:.0f}/s "
      f"(per core of 2: {t['deliveredPerSec']/2:.0f}/s) herald CPU {ticks/100:.1f}s = {ticks*10000/max(msgs,1):.0f} us/msg ok={r['ok']}")
EOF
	c0=$(cpu "${node[@]}")
	"$tmp/herald" bench --server "$servers" --data "$data" --mode latency --pairs "$PAIRS" --rate "$RATE" --duration "$DURATION" --json >"$tmp/lat.json"
	c1=$(cpu "${node[@]}")
	python3 - "$tmp/lat.json" "$n" "$round" "$((c1 - c0))" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); n, rnd, ticks = sys.argv[2], sys.argv[3], int(sys.argv[4])
l = r["latency"]; h = l["latency"]
print(f"nodes={n} round={rnd} latency at {l['offeredPerSec']:.0f}/s offered: p50 {h['p50Ms']:.2f} ms p99 {h['p99Ms']:.2f} ms "
      f"p99.9 {h['p999Ms']:.2f} ms max {h['maxMs']:.2f} ms herald CPU {ticks/100:.1f}s ok={r['ok']}")
EOF
	for p in "${node[@]}"; do kill "$p"; done
	for p in "${node[@]}"; do wait "$p" 2>/dev/null || true; done
}

for round in $(seq 1 "$ROUNDS"); do
	run 1 "$round"
	run 3 "$round"
done
