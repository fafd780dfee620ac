#!/usr/bin/env bash
# Offline push side by side, in one run: Herald's pipeline, Herald's bare
# APNs provider, and gorush's APNs path, against the same kind of APNs
# emulator (docs/benchmarks.md, "Offline push: pipeline, bare client and
# gorush"). Not part of the module graph: everything it builds lives in a
# temporary directory, removed at the end.
#
#   scripts/bench-gorush.sh [PUSHES] [ROUNDS]     (default 20000 2)
#   REVS="main HEAD" scripts/bench-gorush.sh ...  (old/new pipelines alternated)
#   SKIP_GORUSH=1                                 (pipeline and bare client only)
#
# 1. It tries to build gorush itself at GORUSH_VERSION from the Go module
#    proxy. gorush cannot be pointed at another APNs host (its client's host
#    is apns2.HostDevelopment or HostProduction; only core.http_proxy
#    changes the route), so even a built binary would need a CONNECT proxy
#    and an emulator certificate for api.sandbox.push.apple.com; the script
#    only reports whether the build was possible.
# 2. It measures gorush's APNs path: the sideshow/apns2 client at the
#    version gorush's go.mod pins (APNS2_VERSION), used as gorush uses it
#    (scripts/gorush/gorush_apns_bench_test.go.in), in the same test binary
#    as BenchmarkPushPipeline and BenchmarkPushBareClient, alternated.
set -euo pipefail

PUSHES=${1:-20000}
ROUNDS=${2:-2}
GORUSH_VERSION=${GORUSH_VERSION:-latest}
APNS2_VERSION=${APNS2_VERSION:-v0.25.0}
export PATH=/usr/local/go/bin:$PATH

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

echo "== gorush $GORUSH_VERSION from the module proxy"
if GOPATH=$tmp/gopath GOBIN=$tmp/bin GOFLAGS=-mod=mod \
	go install "github.com/appleboy/gorush@$GORUSH_VERSION" 2>"$tmp/gorush.err"; then
	echo "built $tmp/bin/gorush (not driven: see the header of this script)"
else
	echo "gorush could not be built here:"
	sed 's/^/  /' "$tmp/gorush.err"
fi

# REVS: the commits to build, each its own benchmark binary, their
# pipelines alternated within every round (old/new in one run); the bare
# provider and gorush's path run once per round, from the last one's.
REVS=${REVS:-HEAD}
bins=()
for rev in $REVS; do
	name=$(git -C "$root" rev-parse --short "$rev")
	echo "== building the benchmark binary of $rev ($name: a scratch export + sideshow/apns2 $APNS2_VERSION)"
	mkdir -p "$tmp/src-$name"
	git -C "$root" archive "$rev" | tar -x -C "$tmp/src-$name"
	cp "$root/scripts/gorush/gorush_apns_bench_test.go.in" "$tmp/src-$name/internal/server/gorush_apns_bench_test.go"
	(cd "$tmp/src-$name" && GOFLAGS=-mod=mod go get "github.com/sideshow/apns2@$APNS2_VERSION" >/dev/null 2>&1 &&
		GOFLAGS=-mod=mod go test -c -o "$tmp/srv-$name.test" ./internal/server)
	bins+=("$name")
done
last=${bins[${#bins[@]}-1]}

bench() { # bench ROUND NAME BENCHMARK
	"$tmp/srv-$2.test" -test.run '^$' -test.bench "^$3\$" -test.benchtime "${PUSHES}x" |
		awk -v r="$1" -v n="$2" '/^Benchmark/ { for (i = 1; i <= NF; i++) if ($(i+1) == "pushes/s") print "round " r, n, $1, $i, "pushes/s" }'
}

echo "== $ROUNDS rounds of $PUSHES pushes each; $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
for r in $(seq 1 "$ROUNDS"); do
	for name in "${bins[@]}"; do
		bench "$r" "$name" BenchmarkPushPipeline
	done
	bench "$r" "$last" BenchmarkPushBareClient
	if [ -z "${SKIP_GORUSH:-}" ]; then
		bench "$r" "$last" BenchmarkPushGorushAPNs
	fi
done
