#!/usr/bin/env bash
# Push cost as issue 18 measures it: `ab -k` (apache2-utils) POSTs one fixture
# to /api/0/profiles with N keep-alive clients; the server's own CPU seconds
# (utime + stime of all its threads, /proc/PID/stat) over the run, divided by
# the profiles stored, and its threads' voluntary context switches (sleeps)
# per profile. Each case runs against a fresh store.
#   bench/push_ab.sh [PROFEFE_BIN...]   (default: build/profefe)
# Several binaries are measured one after the other, case by case, so that a
# busy machine weighs on them alike. Cases: heap-001 (26 KB) at -c 8 -n 8000,
# heap-large-001 (1.26 MB) at -c 4 -n 150; PUSH_AB_N_SMALL and PUSH_AB_N_LARGE
# change the counts.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
FIX=$PWD/tests/fixtures/pprof
bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=("${BUILD:-build}/profefe")
command -v ab >/dev/null || { echo "push_ab: ab not found (apt-get install apache2-utils)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/profefe-push-ab.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

# case NAME FILE CONC N BIN
run_case() {
	local name=$1 file=$2 conc=$3 n=$4 bin=$5 port= c0 c1 w0 w1 rps failed stored
	[ "$n" -gt 0 ] || return 0 # a count of 0 skips the case
	rm -rf "$tmp/data"
	# -tsdb.retention: the fixtures' time_nanos are from 2025
	"$bin" -addr 127.0.0.1:0 -tsdb.dir "$tmp/data" -tsdb.retention 100000h >"$tmp/srv.log" 2>&1 &
	pid=$!
	port=$(bench_profefe_port "$tmp/srv.log")
	[ -n "$port" ] || { echo "push_ab: $bin did not start" >&2; cat "$tmp/srv.log" >&2; exit 1; }
	url="http://127.0.0.1:$port/api/0/profiles?service=bench&type=heap"
	curl -sSf -o /dev/null --data-binary @"$file" "$url" # one before, so startup is not counted
	c0=$(bench_proc_cpu $pid)
	w0=$(bench_proc_switches $pid)
	ab -q -k -c "$conc" -n "$n" -p "$file" -T application/octet-stream "$url" >"$tmp/ab.out" 2>&1
	c1=$(bench_proc_cpu $pid)
	w1=$(bench_proc_switches $pid)
	rps=$(awk '/^Requests per second/ {print $4}' "$tmp/ab.out")
	failed=$(awk '/^Failed requests/ {print $3}' "$tmp/ab.out")
	stored=$(curl -sS "http://127.0.0.1:$port/metrics" | awk '/^profefe_profiles_ingested_total/ {print $2}')
	kill -TERM $pid
	wait $pid || true
	pid=
	printf 'push %-16s c=%s n=%-5s %-28s %8.1f profiles/s  server CPU %6.2f s = %6.3f ms/profile  %4.1f sleeps/profile  (failed %s, stored %s)\n' \
		"$name" "$conc" "$n" "$(basename "$(dirname "$bin")")/$(basename "$bin")" "$rps" \
		"$(awk "BEGIN{print $c1 - $c0}")" "$(awk "BEGIN{print ($c1 - $c0) * 1000 / $n}")" \
		"$(awk "BEGIN{print ($w1 - $w0) / $n}")" "${failed:-?}" "${stored:-?}"
}

echo "# push_ab: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
for b in "${bins[@]}"; do run_case heap-001 "$FIX/heap-001.pb.gz" 8 "${PUSH_AB_N_SMALL:-8000}" "$b"; done
for b in "${bins[@]}"; do run_case heap-large-001 "$FIX/heap-large-001.pb.gz" 4 "${PUSH_AB_N_LARGE:-150}" "$b"; done
