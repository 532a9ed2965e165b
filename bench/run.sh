#!/usr/bin/env bash
# make bench: prints each figure and its ratio against the named baseline.
#   merge:  profefe's merge (decode + merge + gzip encode, tests/tools/pprof-merge)
#           against `go tool pprof -proto` on the same files
#   store:  WAL append throughput, 1 and 8 threads (bench/tsdbappend)
#           bench/store.sh (merge of 360 profiles, find latency at 100k profiles)
#           bench/interleaved.sh (merge of three interleaved series against one of them)
#           bench/headmerge.sh (the symbolized head: memory per profile, cut cost, merge
#           from the head against from blocks) and bench/symbolize (CPU of decoding and
#           interning one heap profile, against pprof_decode + the old encoder)
#           bench/storage.sh (bytes on disk per gzip byte of a real program, BENCH_STORE_SECONDS)
#   reports: merges and flame graphs over bench/corpus.sh's corpus of a real program's heap
#           profiles (3 x 720, built once under build/corpus) against `go tool pprof -proto`
#           (bench/reports.sh)
#   push:   POST /api/0/profiles throughput with a concurrent client (bench/pushload)
#           against a do-nothing libmicrohttpd server (bench/nullserver)
#   scrape: pairs kept on schedule at a 10 s interval, CPU, RSS and schedule lag at
#           1 000 and 10 000 pairs (bench/scrape.sh against bench/staticd)
#           bench/merge_rss.sh (peak RSS and CPU of a merge of 1 000 heap profiles from the head
#           and from blocks, against go tool pprof -proto and tests/tools/pprof-merge)
#   import: `profefe import -addr` of 10 000 pprof files against a shell loop of curl pushes
#           (bench/import.sh)
# BENCH_ONLY=interleaved runs bench/interleaved.sh alone, BENCH_ONLY=import bench/import.sh,
# BENCH_ONLY=head bench/headmerge.sh and bench/symbolize, BENCH_ONLY=merge_rss bench/merge_rss.sh,
# BENCH_ONLY=reports bench/reports.sh, BENCH_ONLY=decode bench/inflate and bench/streamdecode,
# BENCH_ONLY=push_ab bench/push_ab.sh (issue 18: ab -k, heap-001 at -c 8 -n 8000, heap-large-001 at
# -c 4 -n 150, the server's CPU per profile; PROFEFE_BIN_BASE=<an older profefe> measures that one too),
# BENCH_ONLY=clickhouse bench/clickhouse_bench.sh (issue 20: push and merge, -storage-type=clickhouse
# against the embedded store on the same data, profefe's and clickhouse-server's CPU per profile)
# Set BENCH_SECONDS (default 5) for the push runs, BENCH_SCRAPE_SECONDS (60) for scrape.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
FIX=tests/fixtures/pprof
SECS=${BENCH_SECONDS:-5}
GOPPROF="$(go env GOTOOLDIR)/pprof"
tmp=$(mktemp -d /tmp/profefe-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

echo "# machine: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo none)"

# measure OUT CMD...: best wall time of 3 runs and the max RSS of that run
measure() {
	local out=$1 best= rss= t m
	shift
	for _ in 1 2 3; do
		/usr/bin/time -f '%e %M' -o "$tmp/time" "$@" >"$out" 2>/dev/null
		read -r t m <"$tmp/time"
		if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; rss=$m; fi
	done
	echo "$best $rss"
}

# start CMD... : runs a server in the background whose port appears in its
# output as "port=N" (profefe's start line) or "port N" (nullserver); sets
# SRV_PID and SRV_PORT.
start() {
	local log=$tmp/srv.$RANDOM
	"$@" >"$log" 2>&1 &
	SRV_PID=$!
	pids+=($SRV_PID)
	SRV_PORT=
	for _ in $(seq 1 400); do
		SRV_PORT=$(grep -soE 'port[= ][0-9]+' "$log" | head -1 | grep -oE '[0-9]+$' || true)
		[ -n "$SRV_PORT" ] && return 0
		sleep 0.05
	done
	echo "bench: server did not start: $*" >&2
	cat "$log" >&2
	return 1
}

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S; }
# best of 3 wall times of a GET (seconds)
get_time() {
	local best= t
	for _ in 1 2 3; do
		t=$(curl -sS -o "$tmp/get.out" -w '%{time_total}' "$1")
		if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
	done
	echo "$best"
}

# BENCH_ONLY=head: the symbolized head (bench/headmerge.sh, bench/symbolize)
if [ "${BENCH_ONLY:-}" = head ]; then
	"$B/bench/symbolize" "$FIX/heap-001.pb.gz" 500
	"$B/bench/tsdbappend" "$tmp/data-append" 200 100 "$FIX/heap-001.pb.gz"
	source bench/headmerge.sh
	exit 0
fi
# BENCH_ONLY=interleaved: only the merge of interleaved series (bench/interleaved.sh)
if [ "${BENCH_ONLY:-}" = interleaved ]; then
	source bench/interleaved.sh
	exit 0
fi
if [ "${BENCH_ONLY:-}" = merge_rss ]; then
	source bench/merge_rss.sh
	exit 0
fi
# BENCH_ONLY=decode: only inflate (zlib against libdeflate, bench/inflate) and decode
# (pprof_decode against the streaming decoder, bench/streamdecode) CPU per profile (issue 18)
if [ "${BENCH_ONLY:-}" = decode ]; then
	"$B"/bench/inflate "$FIX"/*.pb.gz
	"$B"/bench/streamdecode "$FIX"/heap-001.pb.gz "$FIX"/heap-large-001.pb.gz "$FIX"/cpu-001.pb.gz
	exit 0
fi
# BENCH_ONLY=import: only `profefe import -addr` of 10 000 pprof files against a shell loop
# of curl pushes (bench/import.sh)
if [ "${BENCH_ONLY:-}" = import ]; then
	source bench/import.sh
	exit 0
fi
# BENCH_ONLY=push_ab: only the push cost as issue 18 measures it (bench/push_ab.sh)
if [ "${BENCH_ONLY:-}" = push_ab ]; then
	bench/push_ab.sh ${PROFEFE_BIN_BASE:+"$PROFEFE_BIN_BASE"} "$B/profefe"
	exit 0
fi
# BENCH_ONLY=clickhouse: the ClickHouse store against the embedded store (bench/clickhouse_bench.sh)
if [ "${BENCH_ONLY:-}" = clickhouse ]; then
	BUILD=$B bench/clickhouse_bench.sh
	exit 0
fi

# BENCH_ONLY=reports: only the reports over the corpus (bench/reports.sh)
if [ "${BENCH_ONLY:-}" = reports ]; then
	source bench/reports.sh
	exit 0
fi

heap10=("$FIX"/heap-0[01]?.pb.gz)
merge_case() {
	local name=$1
	shift
	read -r ot om < <(measure "$tmp/ours.pb.gz" "$B/tests/tools/pprof-merge" "$@")
	read -r gt gm < <(measure "$tmp/go.pb.gz" "$GOPPROF" -proto "$@")
	printf 'merge %-22s profefe %6.2fs %7.1f MB | go tool pprof -proto %6.2fs %7.1f MB | speed ratio %5.2fx, memory ratio %5.2fx | output %d vs %d bytes\n' \
		"$name" "$ot" "$(awk "BEGIN{print $om/1024}")" "$gt" "$(awk "BEGIN{print $gm/1024}")" \
		"$(awk "BEGIN{print ($ot>0)?$gt/$ot:0}")" "$(awk "BEGIN{print ($om>0)?$gm/$om:0}")" \
		"$(stat -c %s "$tmp/ours.pb.gz")" "$(stat -c %s "$tmp/go.pb.gz")"
}
many() { local n=$1 i; for ((i = 0; i < n; i++)); do echo "${heap10[i % 10]}"; done; }
mapfile -t heap100 < <(many 100)
mapfile -t heap1000 < <(many 1000)
merge_case "heap x10 (10 files)" "${heap10[@]}"
merge_case "heap x100" "${heap100[@]}"
merge_case "heap x1000" "${heap1000[@]}"
merge_case "heap-large-001 (1)" "$FIX/heap-large-001.pb.gz"

push_case() {
	local name=$1 file=$2 conc=$3 r n
	start "$B/profefe" -addr 127.0.0.1:0 -tsdb.dir "$tmp/data-$name"
	r=$("$B/bench/pushload" "http://127.0.0.1:$SRV_PORT/api/0/profiles?service=bench&type=heap" "$file" "$conc" "$SECS")
	kill -TERM $SRV_PID
	wait $SRV_PID || true
	start "$B/bench/nullserver" 0
	n=$("$B/bench/pushload" "http://127.0.0.1:$SRV_PORT/api/0/profiles?service=bench&type=heap" "$file" "$conc" "$SECS")
	kill -TERM $SRV_PID
	wait $SRV_PID || true
	local pr nr pm nm
	pr=$(sed 's/.*profiles_per_s=\([0-9.]*\).*/\1/' <<<"$r")
	pm=$(sed 's/.*mb_per_s=\([0-9.]*\).*/\1/' <<<"$r")
	nr=$(sed 's/.*profiles_per_s=\([0-9.]*\).*/\1/' <<<"$n")
	nm=$(sed 's/.*mb_per_s=\([0-9.]*\).*/\1/' <<<"$n")
	printf 'push %-28s profefe %8.1f profiles/s %7.2f MB/s | null MHD handler %8.1f/s %7.2f MB/s | ratio %.3f\n' \
		"$name (c=$conc)" "$pr" "$pm" "$nr" "$nm" "$(awk "BEGIN{print ($nr>0)?$pr/$nr:0}")"
	echo "#   profefe: $r"
	echo "#   null:    $n"
}
push_case heap-001-30KB "$FIX/heap-001.pb.gz" 8
push_case heap-large-1.2MB "$FIX/heap-large-001.pb.gz" 4
# the same pushes as issue 18 counts them: ab -k, a fixed number, the server's CPU per profile
bench/push_ab.sh ${PROFEFE_BIN_BASE:+"$PROFEFE_BIN_BASE"} "$B/profefe"

# profefe import of 10 000 files against a shell loop of curl pushes (issue 19)
source bench/import.sh

# the store (issue 3)
# WAL append throughput, 1 and 8 threads, 4 KiB bodies (bench/tsdbappend)
"$B/bench/tsdbappend" "$tmp/data-append"
source bench/store.sh
source bench/interleaved.sh
"$B/bench/symbolize" "$FIX/heap-001.pb.gz" 500
"$B/bench/tsdbappend" "$tmp/data-append" 200 100 "$FIX/heap-001.pb.gz"
source bench/headmerge.sh
source bench/merge_rss.sh
source bench/reports.sh
source bench/storage.sh

# scrape: (target, type) pairs kept on schedule at 10 s against static
# files on many loopback ports (bench/scrape.sh; BENCH_SCRAPE_SECONDS)
BUILD=$B bench/scrape.sh
