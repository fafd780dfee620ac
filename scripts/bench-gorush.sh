#!/usr/bin/env bash
# Offline push side by side, in one run: Herald's pipeline, Herald's bare
# APNs provider, and gorush's APNs path, against the same kind of APNs
# emulator (docs/benchmarks.md, "Offline push: pipeline, bare client and
# gorush"). Not part of the module graph: everything it builds lives in a
# temporary directory, removed at the end.
#
#   scripts/bench-gorush.sh [PUSHES] [ROUNDS]     (default 20000 2)
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

echo "== building the benchmark binary (a scratch export of HEAD + sideshow/apns2 $APNS2_VERSION)"
mkdir -p "$tmp/src"
git -C "$root" archive HEAD | tar -x -C "$tmp/src"
cp "$root/scripts/gorush/gorush_apns_bench_test.go.in" "$tmp/src/internal/server/gorush_apns_bench_test.go"
(cd "$tmp/src" && GOFLAGS=-mod=mod go get "github.com/sideshow/apns2@$APNS2_VERSION" >/dev/null 2>&1 &&
	GOFLAGS=-mod=mod go test -c -o "$tmp/srv.test" ./internal/server)

echo "== $ROUNDS rounds of $PUSHES pushes each; $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
for r in $(seq 1 "$ROUNDS"); do
	for b in BenchmarkPushPipeline BenchmarkPushBareClient BenchmarkPushGorushAPNs; do
		"$tmp/srv.test" -test.run '^$' -test.bench "^$b\$" -test.benchtime "${PUSHES}x" |
			awk -v r="$r" '/^Benchmark/ { for (i = 1; i <= NF; i++) if ($(i+1) == "pushes/s") print "round " r, $1, $i, "pushes/s" }'
	done
done
