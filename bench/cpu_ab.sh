#!/usr/bin/env bash
# CPU seconds (user + sys) of two builds on the same workloads, measured in
# one run with A and B alternated, so that a busy machine slows both alike:
#   bench/cpu_ab.sh A_BUILD B_BUILD [ROUNDS]
# A_BUILD and B_BUILD are build directories (each from `make all unit
# bench-bins`, e.g. build/ of this tree and of a `git archive` of an older
# commit). Prints the least CPU time of ROUNDS (default 5) for each and the
# ratio B/A. Workloads: pprof merges of the heap fixtures (tests/tools/
# pprof-merge), the codec (tests/tools/tsdb-codec: series, merge, compact,
# round trip), ingest and cut of three series of 720 heap profiles
# (bench/tsdbfill, once per build), merges of that store by a profefe
# (its CPU time from /proc, 3 rounds), and WAL appends (bench/tsdbappend).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
A=$1 B=$2 R=${3:-5}
FIX=$PWD/tests/fixtures/pprof
tmp=$(mktemp -d /tmp/profefe-cpu-ab.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
heap10=("$FIX"/heap-0[01]?.pb.gz)
heap1000=()
for ((i = 0; i < 1000; i++)); do heap1000+=("${heap10[i % 10]}"); done
heap100=("${heap1000[@]:0:100}")
heap300=("${heap1000[@]:0:300}")
heaps=$(IFS=,; echo "${heap10[*]}")
T="from=2025-11-22T00:00:00&to=2025-11-23T00:00:00"
declare -A best

cpu() {
	/usr/bin/time -f '%U %S' -o "$tmp/t" "$@" >/dev/null 2>&1 || { echo "cpu_ab: failed: $*" >&2; exit 1; }
	awk '{print $1 + $2}' "$tmp/t"
}
keep() {
	if [ -z "${best[$1]:-}" ] || awk "BEGIN{exit !($2 < ${best[$1]})}"; then best[$1]=$2; fi
}

echo "# machine: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ); A=$A B=$B, least of $R rounds"
for X in A B; do
	d=${!X}
	keep "tsdbfill 3 series x 720 heap (append + cut)/$X" \
		"$(cpu "$d/bench/tsdbfill" "$tmp/inter-$X" "$heaps" 3 720 2)"
done
for ((r = 0; r < R; r++)); do
	for X in A B; do
		d=${!X}
		keep "pprof-merge heap x100/$X" "$(cpu "$d/tests/tools/pprof-merge" "${heap100[@]}")"
		keep "pprof-merge heap x1000/$X" "$(cpu "$d/tests/tools/pprof-merge" "${heap1000[@]}")"
		keep "pprof-merge heap-large-001/$X" "$(cpu "$d/tests/tools/pprof-merge" "$FIX/heap-large-001.pb.gz")"
		rm -rf "$tmp/s" "$tmp/c"
		mkdir -p "$tmp/s" "$tmp/c"
		keep "tsdb-codec series heap x300/$X" "$(cpu "$d/tests/tools/tsdb-codec" series "$tmp/s" "${heap300[@]}")"
		keep "tsdb-codec merge heap x1000/$X" "$(cpu "$d/tests/tools/tsdb-codec" merge "$tmp/m.pb.gz" "${heap1000[@]}")"
		keep "tsdb-codec -c 10 compact heap x300/$X" "$(cpu "$d/tests/tools/tsdb-codec" -c 10 compact "$tmp/c" "${heap300[@]}")"
		keep "tsdb-codec roundtrip heap-large-001/$X" "$(cpu "$d/tests/tools/tsdb-codec" roundtrip "$FIX/heap-large-001.pb.gz" "$tmp/rt.pb.gz")"
		rm -rf "$tmp/app"
		keep "tsdbappend 2000 + 8 x 500/$X" "$(cpu "$d/bench/tsdbappend" "$tmp/app" 2000 500)"
		[ "$r" -lt 3 ] || continue
		"$d/profefe" -addr 127.0.0.1:0 -tsdb.dir "$tmp/inter-$X" >"$tmp/srv.log" 2>&1 &
		pid=$!
		port=$(bench_profefe_port "$tmp/srv.log")
		url="http://127.0.0.1:$port/api/0/profiles/merge?service=svc-0&type=goroutine&$T"
		curl -sSf -o /dev/null "$url" # warm the page cache
		c0=$(bench_proc_cpu $pid)
		for _ in 1 2 3; do curl -sSf -o /dev/null "$url"; done
		c1=$(bench_proc_cpu $pid)
		for _ in 1 2 3 4 5 6 7 8 9; do curl -sSf -o /dev/null "$url&labels=instance=10.0.0.1:6060"; done
		c2=$(bench_proc_cpu $pid)
		kill -TERM $pid
		wait $pid || true
		pid=
		keep "profefe merge of 3 interleaved series (2160) x 3/$X" "$(awk "BEGIN{print $c1 - $c0}")"
		keep "profefe merge of one series (720) x 9/$X" "$(awk "BEGIN{print $c2 - $c1}")"
	done
done
printf '%-52s %7s %7s %6s\n' workload A B B/A
for k in "${!best[@]}"; do echo "${k%/*}"; done | sort -u | while read -r w; do
	a=${best["$w/A"]} b=${best["$w/B"]}
	printf '%-52s %7.2f %7.2f %6.3f\n' "$w" "$a" "$b" "$(awk "BEGIN{print ($a > 0) ? $b / $a : 0}")"
done
