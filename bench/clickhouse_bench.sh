#!/usr/bin/env bash
# bench/clickhouse_bench.sh (BENCH_ONLY=clickhouse bench/run.sh; issue 20): the ClickHouse
# store (-storage-type=clickhouse) against the embedded store (-storage-type=tsdb) on the same
# data, in one run, into a clickhouse-server started by tests/e2e/clickhouse.bash (loopback,
# server-wide zstd level CH_ZSTD_LEVEL, default 15):
#   push:  `ab -k` POSTs of one fixture to /api/0/profiles (as bench/push_ab.sh): heap-001
#          (26 KB) at -c 8 -n BENCH_CH_N_SMALL (default 600) and heap-large-001 (1.26 MB) at
#          -c 4 -n BENCH_CH_N_LARGE (default 12); profiles/s, and CPU seconds per profile of
#          profefe and of clickhouse-server (utime + stime, /proc/PID/stat) over the run, and
#          of clickhouse-server again including the 3 s after it (background part merges).
#          Each case into a fresh store (a fresh database).
#   merge: BENCH_CH_MERGE (default 1000) distinct heap profiles (the ten snapshots
#          heap-001..010 retimed by tests/tools/pprof-retime, 1 s apart) pushed to both by
#          eight curl processes at once, then GET /api/0/profiles/merge over all of them: best
#          of 3 wall times, and the CPU of both processes per merge; the two merges' totals
#          must be equal.
# BENCH_CH_PARTS (default "push merge") picks the parts, BENCH_CH_C_SMALL (8) heap-001's -c; CH_ZSTD_LEVEL=1 measures ClickHouse's
# default compression level. Needs ab (apache2-utils) and clickhouse-server (make deps).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ROOT=$PWD
B=${BUILD:-build}
FIX=$ROOT/tests/fixtures/pprof
NS=${BENCH_CH_N_SMALL:-600}
NL=${BENCH_CH_N_LARGE:-12}
NM=${BENCH_CH_MERGE:-1000}
command -v ab >/dev/null || { echo "clickhouse_bench: ab not found (apt-get install apache2-utils)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/profefe-chbench.XXXXXX)
PID=
export CH_ZSTD_LEVEL=${CH_ZSTD_LEVEL:-15} # (the tests' default is 1)
source tests/e2e/clickhouse.bash
trap 'ch_stop; [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$TMP"' EXIT
make --no-print-directory "$B/profefe" "$B/tests/tools/pprof-retime" "$B/tests/tools/pprof-info" >/dev/null
ms() { echo $(($(date +%s%N) / 1000000)); }

ch_start >&2 || { echo "clickhouse-server did not start" >&2; exit 1; }
echo "# clickhouse_bench: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo none), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# clickhouse-server $(ch_sql 'SELECT version()') (pid $CH_PID), zstd level ${CH_ZSTD_LEVEL:-15}"

# serve STORE DB: start profefe on that store (DB: the ClickHouse database, or the
# directory's name under $TMP); sets PID and URL
serve() {
	local store=$1 db=$2 port=
	local args=(-addr 127.0.0.1:0 -tsdb.retention 100000h)
	if [ "$store" = clickhouse ]; then
		args+=(-storage-type clickhouse -clickhouse.dsn "http://127.0.0.1:$CH_HTTP/?database=$db")
	else
		args+=(-tsdb.dir "$TMP/$db")
	fi
	"$B/profefe" "${args[@]}" >"$TMP/srv.log" 2>&1 &
	PID=$!
	port=$(bench_profefe_port "$TMP/srv.log")
	[ -n "$port" ] || { echo "clickhouse_bench: profefe did not start" >&2; cat "$TMP/srv.log" >&2; exit 1; }
	URL=http://127.0.0.1:$port
}
stop() { kill -TERM "$PID"; wait "$PID" || true; PID=; }

# push NAME FILE CONC N STORE
push() {
	local name=$1 file=$2 conc=$3 n=$4 store=$5 p0 p1 c0 c1 c2 rps failed stored
	serve "$store" "push_${name//-/_}_$store"
	local u="$URL/api/0/profiles?service=bench&type=heap"
	curl -sSf -o /dev/null --data-binary @"$file" "$u" # one before: the schema and startup not counted
	sleep 1
	p0=$(bench_proc_cpu "$PID"); c0=$(bench_proc_cpu "$CH_PID")
	ab -q -k -c "$conc" -n "$n" -p "$file" -T application/octet-stream "$u" >"$TMP/ab.out" 2>&1
	p1=$(bench_proc_cpu "$PID"); c1=$(bench_proc_cpu "$CH_PID")
	sleep 3
	c2=$(bench_proc_cpu "$CH_PID")
	rps=$(awk '/^Requests per second/ {print $4}' "$TMP/ab.out")
	failed=$(awk '/^Failed requests/ {print $3}' "$TMP/ab.out")
	curl -sS "$URL/metrics" >"$TMP/metrics"
	stored=$(awk '/^profefe_profiles_ingested_total/ {print $2}' "$TMP/metrics")
	stop
	# the writer's batches: profiles per insert, seconds per insert
	[ "$store" = tsdb ] || awk -v n="$n" '/^profefe_clickhouse_inserts_total/ {b = $2}
		/^profefe_clickhouse_insert_seconds_total/ {t = $2}
		END {if (b > 0) printf "# %d batch inserts: %.1f profiles per batch, %.1f ms per batch insert\n", b, (n + 1) / b, t * 1000 / b}' "$TMP/metrics"
	grep -E '^(Non-2xx|   \(Connect)' "$TMP/ab.out" | sed 's/^ */# ab: /' || true
	printf 'push %-14s c=%s n=%-5s %-10s %7.1f profiles/s | profefe CPU %7.3f ms/profile | clickhouse-server CPU %7.3f ms/profile (%7.3f with the 3 s after) | failed %s, stored %s\n' \
		"$name" "$conc" "$n" "$store" "$rps" \
		"$(awk "BEGIN{print ($p1 - $p0) * 1000 / $n}")" \
		"$(awk "BEGIN{print ($c1 - $c0) * 1000 / $n}")" "$(awk "BEGIN{print ($c2 - $c0) * 1000 / $n}")" \
		"${failed:-?}" "${stored:-?}"
}

# clickhouse-server's CPU when nothing is sent (its background threads), for scale
c0=$(bench_proc_cpu "$CH_PID"); sleep 3; c1=$(bench_proc_cpu "$CH_PID")
echo "# clickhouse-server idle: $(awk "BEGIN{print ($c1 - $c0) / 3}") CPU s/s"
PARTS=" ${BENCH_CH_PARTS:-push merge} "
if [[ $PARTS == *" push "* ]]; then
	for st in tsdb clickhouse; do push heap-001 "$FIX/heap-001.pb.gz" "${BENCH_CH_C_SMALL:-8}" "$NS" $st; done
	for st in tsdb clickhouse; do push heap-large-001 "$FIX/heap-large-001.pb.gz" 4 "$NL" $st; done
fi
[[ $PARTS == *" merge "* ]] || exit 0

# ---- merge of NM distinct heap profiles ----
per=$((NM / 10))
base=$(( $(date +%s) - 2 * NM - 3600 ))
mkdir -p "$TMP/merge"
for i in 0 1 2 3 4 5 6 7 8 9; do
	mkdir -p "$TMP/m.$i"
	"$B/tests/tools/pprof-retime" "$FIX/heap-0$(printf %02d $((i + 1))).pb.gz" "$TMP/m.$i" "$per" \
		"$((base + i))000000000" 10000000000
	for f in "$TMP/m.$i"/*.pb.gz; do mv "$f" "$TMP/merge/$i-$(basename "$f")"; done
done
from=$(date -u -d "@$base" +%Y-%m-%dT%H:%M:%S)
to=$(date -u -d "@$((base + 10 * per + 10))" +%Y-%m-%dT%H:%M:%S)
declare -A best
for st in tsdb clickhouse; do
	serve $st merge_$st
	t0=$(ms); p0=$(bench_proc_cpu "$PID"); c0=$(bench_proc_cpu "$CH_PID")
	# eight curl pushes in flight (profefe import would also read back what is there)
	find "$TMP/merge" -name '*.pb.gz' | xargs -P 8 -I{} \
		curl -sSf -o /dev/null --data-binary @{} "$URL/api/0/profiles?service=bench&type=heap"
	t1=$(ms); p1=$(bench_proc_cpu "$PID"); c1=$(bench_proc_cpu "$CH_PID")
	printf 'load %d heap profiles %-10s (curl x8) %6.2f s, %6.1f profiles/s | profefe CPU %6.3f ms/profile | clickhouse-server CPU %6.3f ms/profile\n' \
		"$NM" $st "$(awk "BEGIN{print ($t1 - $t0) / 1000}")" "$(awk "BEGIN{print $NM * 1000 / ($t1 - $t0)}")" \
		"$(awk "BEGIN{print ($p1 - $p0) * 1000 / $NM}")" "$(awk "BEGIN{print ($c1 - $c0) * 1000 / $NM}")"
	sleep 3 # let ClickHouse's background merges of the imported parts settle
	mu="$URL/api/0/profiles/merge?service=bench&type=heap&from=$from&to=$to"
	b=
	p0=$(bench_proc_cpu "$PID"); c0=$(bench_proc_cpu "$CH_PID")
	for _ in 1 2 3; do
		t=$(curl -sSf -o "$TMP/merge-$st.pb.gz" -w '%{time_total}' "$mu")
		if [ -z "$b" ] || awk "BEGIN{exit !($t < $b)}"; then b=$t; fi
	done
	p1=$(bench_proc_cpu "$PID"); c1=$(bench_proc_cpu "$CH_PID")
	best[$st]=$b
	printf 'merge %d heap profiles %-10s best of 3 %6.3f s | per merge: profefe CPU %6.3f s, clickhouse-server CPU %6.3f s | %s\n' \
		"$NM" $st "$b" "$(awk "BEGIN{print ($p1 - $p0) / 3}")" "$(awk "BEGIN{print ($c1 - $c0) / 3}")" \
		"$("$B/tests/tools/pprof-info" "$TMP/merge-$st.pb.gz")"
	stop
done
a=$("$B/tests/tools/pprof-info" "$TMP/merge-tsdb.pb.gz" | sed 's/.*totals=//')
c=$("$B/tests/tools/pprof-info" "$TMP/merge-clickhouse.pb.gz" | sed 's/.*totals=//')
[ "$a" = "$c" ] && echo "# the two merges' totals are equal ($a)" || echo "# MERGES DIFFER: tsdb $a, clickhouse $c"
printf 'merge latency ratio clickhouse / tsdb: %.2f\n' "$(awk "BEGIN{print ${best[clickhouse]} / ${best[tsdb]}}")"
echo "# sizes of the merge databases:"
ch_sql "SELECT database, sum(rows), sum(bytes_on_disk) FROM system.parts WHERE active AND database LIKE 'merge_%' AND table = 'profiles' GROUP BY database"
