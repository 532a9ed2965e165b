#!/usr/bin/env bash
# The store's benchmarks (issue 3), called by bench/run.sh:
#   merge:   one hour of a 10 s heap series (360 profiles, the ten real heap
#            snapshots in turn, time-shifted) through /api/0/profiles/merge,
#            from the head and from blocks, against `go tool pprof -proto`
#            of the same 360 files
#   queries: find latency over 100 000 stored profiles in 1 000 series
#            (bench/tsdbfill writes them through the store API)
#   compaction: 2 000 heap profiles (20 series, 10 s apart) cut into 100 s
#            blocks, which compact into 300 s and 900 s ones: time per
#            profile rewritten (chunks transcoded between symbol tables)
# Needs B (build dir), FIX (fixtures), tmp, start(), measure(), iso() and
# get_time() from run.sh.
set -euo pipefail

# ---- merge of 360 profiles ----
start_s=$(date -u -d 2026-11-22T12:00:00Z +%s)
mkdir -p "$tmp/h360"
for i in 0 1 2 3 4 5 6 7 8 9; do
	mkdir -p "$tmp/h360.$i"
	# snapshot i at 10*i s, then every 100 s: 36 each, 360 in all, 10 s apart
	"$B/tests/tools/pprof-retime" "$FIX/heap-0$(printf %02d $((i + 1))).pb.gz" "$tmp/h360.$i" 36 \
		"$(( (start_s + 10 * i) ))000000000" 100000000000
	for f in "$tmp/h360.$i"/*.pb.gz; do mv "$f" "$tmp/h360/$i-$(basename "$f")"; done
done
files=("$tmp"/h360/*.pb.gz)
start "$B/profefe" -addr 127.0.0.1:0 -tsdb.dir "$tmp/data-merge"
url="http://127.0.0.1:$SRV_PORT"
for f in "${files[@]}"; do
	curl -sS -o /dev/null --data-binary @"$f" "$url/api/0/profiles?service=bench&type=heap"
done
murl="$url/api/0/profiles/merge?service=bench&type=heap&from=$(iso $start_s)&to=$(iso $((start_s + 3599)))"
head_t=$(get_time "$murl")
kill -TERM $SRV_PID; wait $SRV_PID || true
start "$B/profefe" -addr 127.0.0.1:0 -tsdb.dir "$tmp/data-merge"
url="http://127.0.0.1:$SRV_PORT"
murl="$url/api/0/profiles/merge?service=bench&type=heap&from=$(iso $start_s)&to=$(iso $((start_s + 3599)))"
block_t=$(get_time "$murl")
kill -TERM $SRV_PID; wait $SRV_PID || true
read -r gt gm < <(measure "$tmp/go360.pb.gz" "$GOPPROF" -proto "${files[@]}")
printf 'merge 360 heap profiles (1 h at 10 s) via /api/0/profiles/merge: from blocks %.3fs, from the head %.3fs | go tool pprof -proto of the files %.2fs %.1f MB | ratio (blocks) %.1fx\n' \
	"$block_t" "$head_t" "$gt" "$(awk "BEGIN{print $gm/1024}")" "$(awk "BEGIN{print ($block_t>0)?$gt/$block_t:0}")"

# ---- find latency over 100 000 profiles in 1 000 series ----
fill=$("$B/bench/tsdbfill" "$tmp/data-fill" "$FIX/goroutine-001.pb.gz" 1000 100 16)
echo "# tsdbfill: $fill"
start "$B/profefe" -addr 127.0.0.1:0 -tsdb.dir "$tmp/data-fill"
url="http://127.0.0.1:$SRV_PORT"
T="from=2025-11-22T00:00:00&to=2025-11-23T00:00:00"
one=$(get_time "$url/api/0/profiles?service=svc-7&type=goroutine&labels=instance=10.0.0.77:6060&$T")
ten=$(get_time "$url/api/0/profiles?service=svc-7&type=goroutine&$T")
lim=$(get_time "$url/api/0/profiles?service=svc-7&type=goroutine&limit=10&$T")
mer=$(get_time "$url/api/0/profiles/merge?service=svc-7&type=goroutine&$T")
ser=$(get_time "$url/api/v1/series?match%5B%5D=%7Bservice%3D~%22svc-.%2A%22%7D")
lvs=$(get_time "$url/api/v1/label/instance/values?match%5B%5D=%7Bservice%3D%22svc-7%22%7D")
printf 'find over 100000 profiles in 1000 series: one series (100 profiles) %.1f ms | one service (10 series, 1000 profiles) %.1f ms | limit=10 %.1f ms | merge of the 1000 %.1f ms\n' \
	"$(awk "BEGIN{print $one*1000}")" "$(awk "BEGIN{print $ten*1000}")" "$(awk "BEGIN{print $lim*1000}")" "$(awk "BEGIN{print $mer*1000}")"
printf 'series and labels over the same store: /api/v1/series of all 1000 series %.1f ms | instance values of one service %.1f ms\n' \
	"$(awk "BEGIN{print $ser*1000}")" "$(awk "BEGIN{print $lvs*1000}")"
kill -TERM $SRV_PID; wait $SRV_PID || true
echo "# store on disk: $(du -sb "$tmp/data-fill" | cut -f1) bytes for 100000 copies of a $(stat -c %s "$FIX/goroutine-001.pb.gz")-byte profile"

# ---- compaction ----
heaps=$(ls "$FIX"/heap-0*.pb.gz | paste -sd,)
comp=$("$B/bench/tsdbfill" "$tmp/data-comp" "$heaps" 20 100 2 100)
echo "# tsdbfill: $comp"
printf 'compaction of 2000 heap profiles from 100 s blocks: %s\n' \
	"$(printf %s "$comp" | sed -n 's/.*\[cut \(.*\)\]$/cut \1/p')"
rm -rf "$tmp/data-comp"
