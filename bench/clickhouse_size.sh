#!/usr/bin/env bash
# bench/clickhouse_size.sh: bytes in ClickHouse per gzip byte (issue 20).
# A real Go program (examples/hotapp) is profiled for BENCH_CH_SECONDS
# (default 180): heap every second, goroutine every 5 s, CPU in
# back-to-back 10 s profiles (as bench/storage.sh). The files are written
# through src/clickhouse (tests/tools/ch-store putmany: one writer, as one
# profefe node) into a clickhouse-server started by tests/e2e/clickhouse.bash
# (server-wide zstd at level CH_ZSTD_LEVEL, default 15): one database per
# type and one with the whole mix.
# Then OPTIMIZE TABLE ... FINAL on every table, and sum(bytes_on_disk) of the
# database's active parts over the sum of the files' gzip sizes.
# PROFILES_DIR=dir reuses files named TYPE-N.pb.gz instead of profiling.
#   bench/clickhouse_size.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=${BUILD:-build}
SECS=${BENCH_CH_SECONDS:-180}
TMP=$(mktemp -d /tmp/profefe-chsize.XXXXXX)
PID=
export CH_ZSTD_LEVEL=${CH_ZSTD_LEVEL:-15} # (the tests' default is 1)
source tests/e2e/clickhouse.bash
trap 'ch_stop; [ -z "${hot:-}" ] || kill $hot 2>/dev/null; rm -rf "$TMP"' EXIT
make --no-print-directory "$B/tests/tools/ch-store" >/dev/null
[ -x "$B/hotapp" ] || make --no-print-directory hotapp >/dev/null

P=${PROFILES_DIR:-}
if [ -z "$P" ]; then
	P=$TMP/prof
	mkdir -p "$P"
	"$B/hotapp" -addr 127.0.0.1:0 >"$TMP/hotapp.log" 2>&1 &
	hot=$!
	hport=
	for _ in $(seq 1 200); do
		hport=$(grep -oE '127\.0\.0\.1:[0-9]+' "$TMP/hotapp.log" | head -1 | cut -d: -f2 || true)
		[ -n "$hport" ] && break
		sleep 0.05
	done
	[ -n "$hport" ] || { echo "hotapp did not start" >&2; exit 1; }
	hurl=http://127.0.0.1:$hport/debug/pprof
	(
		n=0
		while [ $((n * 10)) -lt "$SECS" ]; do
			curl -fsS -o "$P/cpu-$(printf %06d $n).pb.gz" "$hurl/profile?seconds=10" || true
			n=$((n + 1))
		done
	) &
	cpu_loop=$!
	t0=$(date +%s)
	fetches=()
	for ((i = 0; i < SECS; i++)); do
		curl -fsS -o "$P/heap-$(printf %06d $i).pb.gz" "$hurl/heap" &
		fetches+=($!)
		if [ $((i % 5)) -eq 0 ]; then
			curl -fsS -o "$P/goroutine-$(printf %06d $i).pb.gz" "$hurl/goroutine" &
			fetches+=($!)
		fi
		while [ $(($(date +%s) - t0)) -le "$i" ]; do sleep 0.05; done
	done
	wait $cpu_loop "${fetches[@]}" || true
	kill $hot 2>/dev/null
	wait $hot 2>/dev/null || true
	hot=
fi

ch_start >&2 || { echo "clickhouse-server did not start" >&2; exit 1; }
echo "# clickhouse-server $(ch_sql 'SELECT version()'), server-wide zstd level ${CH_ZSTD_LEVEL:-15}, $(ls "$P" | wc -l) profiles of $P"
printf '| type | files | gzip bytes | bytes in ClickHouse | bytes / gzip bytes | of which column data |\n|---|---|---|---|---|---|\n'
for t in heap goroutine cpu mix; do
	if [ $t = mix ]; then files=("$P"/*.pb.gz); else files=("$P"/$t-*.pb.gz); fi
	db=size_$t
	"$B/tests/tools/ch-store" "http://127.0.0.1:$CH_HTTP/?database=$db" putmany service=hotapp -- "${files[@]}" >/dev/null
	for tab in series profiles stacks locations functions mappings; do
		ch_sql "OPTIMIZE TABLE $db.$tab FINAL" >/dev/null
	done
	gz=$(cat "${files[@]}" | wc -c)
	ch=$(ch_sql "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = '$db' AND active")
	# what the columns' compressed data take; the rest is each part's fixed
	# files (checksums, columns list, marks, indexes)
	cd=$(ch_sql "SELECT sum(data_compressed_bytes) FROM system.parts WHERE database = '$db' AND active")
	printf '| %s | %d | %d | %d | %s | %s |\n' $t ${#files[@]} "$gz" "$ch" \
		"$(echo "scale=3; $ch / $gz" | bc)" "$(echo "scale=3; $cd / $gz" | bc)"
done
echo
echo "per table (mix):"
ch_sql "SELECT table, sum(rows), sum(bytes_on_disk), sum(data_compressed_bytes) FROM system.parts WHERE database = 'size_mix' AND active GROUP BY table ORDER BY table"
