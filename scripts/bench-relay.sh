#!/usr/bin/env bash
# Herald against the minimal durable relay (herald bench relay), alternated
# in one run: docs/benchmarks.md, "The relay baseline". Every measurement
# gets a fresh process and data directory; within a round, for each of
#   throughput --pairs 8, throughput --pairs 256,
#   latency --rate 1000, latency --rate 10000 (100 pairs),
# the order is: the first server, the relay, the other servers.
#
#   scripts/bench-relay.sh OUT_DIR ROUNDS HERALD_BIN SERVER_BIN...
#
# HERALD_BIN runs the relay (herald bench relay) and the load generator; each
# SERVER_BIN is a server build (herald serve) measured beside it, e.g. old
# and new. Each run's JSON goes to OUT_DIR/<round>-<what>-<target>.json
# (target s1, s2, ... or relay), and a table (TSV) of all of them to
# OUT_DIR/summary.tsv. DURATION (default 10s) is each run's length; WHAT
# (default "tp8 tp256 lat1000 lat10000") picks the measurements; ports are
# taken from PORT_BASE+1 (default 23951) up, skipping those in use.
set -euo pipefail

out=${1:?out dir}
rounds=${2:?rounds}
bin=${3:?herald binary}
shift 3
servers=("$@")
[ ${#servers[@]} -gt 0 ] || { echo "give at least one SERVER_BIN" >&2; exit 2; }
duration=${DURATION:-10s}
mkdir -p "$out"
port=${PORT_BASE:-23950} # below the ephemeral range (32768-60999): client sockets take ports there

# free reports whether nothing listens on 127.0.0.1:$1.
free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() { # target dir -> sets pid, url
	local target=$1 dir=$2
	port=$((port + 1))
	while ! free $port; do port=$((port + 1)); done
	case $target in
	relay)
		"$bin" bench relay --data "$dir" --listen 127.0.0.1:$port >"$dir.log" 2>&1 &
		;;
	s*)
		local b=${servers[$((${target#s} - 1))]}
		"$b" serve --data "$dir" --addr 127.0.0.1:$port --user-message-rate 0 \
			--max-unauthenticated-per-ip 0 --log-level warn >"$dir.log" 2>&1 &
		;;
	esac
	pid=$!
	url=ws://127.0.0.1:$port/v1/ws
	for _ in $(seq 100); do
		if ! kill -0 "$pid" 2>/dev/null; then
			break # it exited (port taken after all?)
		fi
		if [ -f "$dir/dev-app.json" ] && curl -sf "http://127.0.0.1:$port/metrics" >/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "$target did not start: $(cat "$dir.log")" >&2
	kill "$pid" 2>/dev/null || true
	return 1
}

targets="s1 relay"
for i in $(seq 2 ${#servers[@]}); do targets="$targets s$i"; done
for r in $(seq "$rounds"); do
	for what in ${WHAT:-tp8 tp256 lat1000 lat10000}; do
		case $what in
		tp8) args="--mode throughput --pairs 8" ;;
		tp256) args="--mode throughput --pairs 256" ;;
		lat1000) args="--mode latency --rate 1000 --pairs 100" ;;
		lat10000) args="--mode latency --rate 10000 --pairs 100" ;;
		esac
		for t in $targets; do
			dir=$(mktemp -d)
			if ! start "$t" "$dir"; then
				rm -rf "$dir" "$dir.log"
				continue
			fi
			# shellcheck disable=SC2086
			"$bin" bench --server "$url" --data "$dir" $args --duration "$duration" --json \
				>"$out/$r-$what-$t.json" 2>/dev/null || true
			kill -INT "$pid" 2>/dev/null || true
			wait "$pid" || true
			rm -rf "$dir" "$dir.log"
			echo "round $r $what $t: load $(cut -d' ' -f1 /proc/loadavg)" >&2
		done
	done
done

{
	printf 'file\tpersisted/s\tdelivered/s\tp50ms\tp99ms\tp999ms\tserverCores\tclientCores\tok\n'
	for f in "$out"/*.json; do
		jq -r --arg f "$(basename "$f" .json)" '[$f,
			(.throughput.persistedPerSec // .latency.offeredPerSec // 0 | floor),
			(.throughput.deliveredPerSec // 0 | floor),
			(.latency.latency.p50Ms // ""), (.latency.latency.p99Ms // ""), (.latency.latency.p999Ms // ""),
			(.usage.serverCores * 100 | floor / 100), (.usage.clientCores * 100 | floor / 100), .ok] | @tsv' "$f" || echo "$f unreadable"
	done
} >"$out/summary.tsv"
column -t -s $'\t' "$out/summary.tsv"
