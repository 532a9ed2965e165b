# bench/import.sh (sourced by bench/run.sh, BENCH_ONLY=import): `profefe import -addr` of a
# directory of 10 000 distinct pprof files (heap-001, allocs-001, cpu-001 and goroutine-001,
# 2 500 each, time_nanos rewritten 1 s apart by tests/tools/pprof-retime) into an empty
# server, against a shell loop of `curl --data-binary` pushes (POST /api/0/profiles) of the
# same files into another empty server, one curl process per file as a script would do it.
# The loop sends BENCH_IMPORT_CURL_FILES of them (default 500: every 20th file, all four
# types; 10000 for all), so its figure is per file; the ratio is of seconds per file.
# Then the same import again, which must store nothing. Prints wall seconds, files/s, the
# servers' CPU seconds (/proc/PID/stat) and per file, and the import client's own CPU per file.
IMP_N=${BENCH_IMPORT_FILES:-10000}
IMP_CURL=${BENCH_IMPORT_CURL_FILES:-500}
imp=$tmp/import-files
per=$((IMP_N / 4))
now_ns=$(date +%s%N)
for ty in heap allocs cpu goroutine; do
	mkdir -p "$imp/$ty"
	"$B/tests/tools/pprof-retime" "$FIX/$ty-001.pb.gz" "$imp/$ty" "$per" \
		$((now_ns - (per + 60) * 1000000000)) 1000000000
done
nfiles=$(find "$imp" -type f | wc -l)
mb=$(du -sm "$imp" | cut -f1)
cpu_s() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; }
ms() { echo $(($(date +%s%N) / 1000000)); }

start "$B/profefe" -addr 127.0.0.1:0 -tsdb.dir "$tmp/import-a"
t0=$(ms)
/usr/bin/time -f '%U %S' -o "$tmp/import.time" \
	"$B/profefe" import -addr "http://127.0.0.1:$SRV_PORT" -service bench "$imp" >"$tmp/import.out"
t1=$(ms)
c1=$(cpu_s $SRV_PID)
"$B/profefe" import -addr "http://127.0.0.1:$SRV_PORT" -service bench "$imp" >"$tmp/import2.out"
t2=$(ms)
c2=$(cpu_s $SRV_PID)
imported=$(sed -n 's/^imported: *\([0-9]*\).*/\1/p' "$tmp/import.out")
again=$(sed -n 's/^imported: *\([0-9]*\).*/\1/p' "$tmp/import2.out")
there=$(sed -n 's/^already there: *\([0-9]*\).*/\1/p' "$tmp/import2.out")
kill -TERM $SRV_PID
wait $SRV_PID || true

# the shell loop: every (nfiles / IMP_CURL)-th file, its type from its directory
start "$B/profefe" -addr 127.0.0.1:0 -tsdb.dir "$tmp/import-b"
step=$((nfiles / IMP_CURL))
[ "$step" -ge 1 ] || step=1
find "$imp" -type f | LC_ALL=C sort | awk -v s="$step" 'NR % s == 0' >"$tmp/curl-files"
ncurl=$(wc -l <"$tmp/curl-files")
u="http://127.0.0.1:$SRV_PORT/api/0/profiles?service=bench"
t3=$(ms)
while read -r f; do
	ty=${f%/*}
	ty=${ty##*/}
	curl -sS -o /dev/null --data-binary @"$f" "$u&type=$ty"
done <"$tmp/curl-files"
t4=$(ms)
c4=$(cpu_s $SRV_PID)
stored_b=$(curl -s "http://127.0.0.1:$SRV_PORT/api/v1/status/tsdb" | jq .data.profiles)
kill -TERM $SRV_PID
wait $SRV_PID || true

imp_s=$(awk "BEGIN{print ($t1 - $t0) / 1000}")
client_ms=$(awk -v n="$nfiles" '{printf "%.2f", ($1 + $2) * 1000 / n}' "$tmp/import.time")
rep_s=$(awk "BEGIN{print ($t2 - $t1) / 1000}")
curl_s=$(awk "BEGIN{print ($t4 - $t3) / 1000}")
printf 'import %d files (%d MB): profefe import -addr %.1fs (%.0f files/s, server CPU %.1fs, %.2f ms a file) | curl loop of %d files %.1fs (%.1f files/s, server CPU %.1fs, %.2f ms a file) | ratio %.1fx per file\n' \
	"$nfiles" "$mb" "$imp_s" "$(awk "BEGIN{print $nfiles / $imp_s}")" "$c1" \
	"$(awk "BEGIN{print $c1 * 1000 / $nfiles}")" \
	"$ncurl" "$curl_s" "$(awk "BEGIN{print $ncurl / $curl_s}")" "$c4" \
	"$(awk "BEGIN{print $c4 * 1000 / $ncurl}")" \
	"$(awk "BEGIN{print ($curl_s / $ncurl) / ($imp_s / $nfiles)}")"
printf 'import again: %.1fs (%.0f files/s, server CPU %.1fs, %.2f ms a file): %s imported, %s already there\n' \
	"$rep_s" "$(awk "BEGIN{print $nfiles / $rep_s}")" "$(awk "BEGIN{print $c2 - $c1}")" \
	"$(awk "BEGIN{print ($c2 - $c1) * 1000 / $nfiles}")" "$again" "$there"
echo "#   first run: imported $imported of $nfiles (profefe import's own CPU $client_ms ms a file); curl loop stored $stored_b of $ncurl"
[ "$imported" = "$nfiles" ] && [ "$again" = 0 ] && [ "$there" = "$nfiles" ] && [ "$stored_b" = "$ncurl" ] ||
	{ echo "bench import: the counts are wrong" >&2; exit 1; }
