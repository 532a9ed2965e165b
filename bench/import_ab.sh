#!/usr/bin/env bash
# `profefe import -addr` CPU per file, binary against binary (issue 19): the
# 10 000 files of bench/import.sh (heap, allocs, cpu and goroutine fixtures,
# time_nanos rewritten 1 s apart) imported into a fresh server twice (the
# second run must store nothing), each binary as both server and client.
#   bench/import_ab.sh [PROFEFE_BIN...]   (default: build/profefe)
# The binaries take turns, BENCH_IMPORT_AB_ROUNDS rounds (default 2), so that
# a busy machine weighs on them alike. Prints, per run, the wall seconds, the
# server's CPU (utime + stime of all its threads, /proc/PID/stat) per file and
# the client's (/usr/bin/time) per file. BENCH_IMPORT_FILES (default 10000)
# changes the number of files.
set -euo pipefail
cd "$(dirname "$0")/.."
bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=("${BUILD:-build}/profefe")
B=${BUILD:-build}
FIX=tests/fixtures/pprof
N=${BENCH_IMPORT_FILES:-10000}
ROUNDS=${BENCH_IMPORT_AB_ROUNDS:-2}
tmp=$(mktemp -d /tmp/profefe-import-ab.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
hz=$(getconf CLK_TCK)
proc_cpu() { awk -v hz="$hz" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$1/stat"; }
ms() { echo $(($(date +%s%N) / 1000000)); }

per=$((N / 4))
now_ns=$(date +%s%N)
for ty in heap allocs cpu goroutine; do
	mkdir -p "$tmp/files/$ty"
	"$B/tests/tools/pprof-retime" "$FIX/$ty-001.pb.gz" "$tmp/files/$ty" "$per" \
		$((now_ns - (per + 60) * 1000000000)) 1000000000
done
nfiles=$(find "$tmp/files" -type f | wc -l)

# one import run: prints "wall_s server_ms_per_file client_ms_per_file imported already"
import_run() {
	local bin=$1 port=$2 out=$3 t0 t1 c0 c1
	c0=$(proc_cpu "$pid")
	t0=$(ms)
	/usr/bin/time -f '%U %S' -o "$tmp/time" \
		"$bin" import -addr "http://127.0.0.1:$port" -service bench "$tmp/files" >"$out"
	t1=$(ms)
	c1=$(proc_cpu "$pid")
	awk -v w=$((t1 - t0)) -v c0="$c0" -v c1="$c1" -v n="$nfiles" \
		-v imp="$(sed -n 's/^imported: *\([0-9]*\).*/\1/p' "$out")" \
		-v al="$(sed -n 's/^already there: *\([0-9]*\).*/\1/p' "$out")" \
		'{printf "%.1f %.2f %.2f %s %s", w / 1000, (c1 - c0) * 1000 / n, ($1 + $2) * 1000 / n, imp, al}' "$tmp/time"
}

echo "# import_ab: $nfiles files, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
printf '%-28s %-5s %8s %14s %14s %s\n' binary round wall_s server_ms/file client_ms/file "first run | second run (imported, already there)"
for round in $(seq 1 "$ROUNDS"); do
	for bin in "${bins[@]}"; do
		rm -rf "$tmp/data"
		"$bin" -addr 127.0.0.1:0 -tsdb.dir "$tmp/data" >"$tmp/srv.log" 2>&1 &
		pid=$!
		port=
		for _ in $(seq 1 400); do
			port=$(grep -soE 'port[= ][0-9]+' "$tmp/srv.log" | head -1 | grep -oE '[0-9]+$' || true)
			[ -n "$port" ] && break
			sleep 0.05
		done
		[ -n "$port" ] || { echo "import_ab: $bin did not start" >&2; cat "$tmp/srv.log" >&2; exit 1; }
		read -r w1 s1 k1 i1 a1 <<<"$(import_run "$bin" "$port" "$tmp/o1")"
		read -r w2 s2 k2 i2 a2 <<<"$(import_run "$bin" "$port" "$tmp/o2")"
		kill -TERM "$pid"
		wait "$pid" || true
		pid=
		printf '%-28s %-5s %8s %14s %14s %s\n' "$bin" "$round" "$w1 | $w2" "$s1 | $s2" "$k1 | $k2" "($i1, $a1) | ($i2, $a2)"
		[ "$i1" = "$nfiles" ] && [ "$i2" = 0 ] && [ "$a2" = "$nfiles" ] ||
			{ echo "import_ab: $bin: the counts are wrong" >&2; exit 1; }
	done
done
