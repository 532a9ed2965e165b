#!/usr/bin/env bash
# The symbolized head (issue 18): three series of 720 heap profiles (the ten
# real heap snapshots in turn, 10 s apart, at the same times).
#   cut:   bench/tsdbfill writes them through tsdb_append and closes the store
#          (the close cuts the head into a block): the cut's seconds
#   open:  the same left in the WAL ("noflush", as a crash leaves them), then
#          bench/tsdbopen: the replay (bodies are not decoded at open; the
#          maintenance rounds symbolize them afterwards)
#   merge: the same pushed to profefe (POST /api/0/profiles, bench/pushseries),
#          GET /api/0/profiles/merge of the three (2 160 profiles) and of one
#          (720) from the head, then from blocks after a restart (the close
#          flushes the head); ratio head / blocks; and profefe's RSS growth
#          over the pushes, per profile in the head
# Needs B (build dir), FIX (fixtures), tmp, start() and get_time() from run.sh.
set -euo pipefail

heaps=$(ls "$FIX"/heap-0*.pb.gz | paste -sd,)
d=$tmp/data-head
fill=$("$B/bench/tsdbfill" "$d" "$heaps" 3 720 3)
echo "# tsdbfill: $fill"
cut=$(grep -oE '\[cut [0-9.]+' <<<"$fill" | grep -oE '[0-9.]+$')
printf 'cut of the head: 2160 heap profiles in %.3f s (%.1f us each)\n' \
	"$cut" "$(awk "BEGIN{print $cut/2160*1e6}")"
rm -rf "$d"
"$B/bench/tsdbfill" "$d" "$heaps" 3 720 3 noflush >/dev/null
echo "# tsdbopen (replay of 2160 heap profiles): $("$B/bench/tsdbopen" "$d")"
rm -rf "$d"

T="from=2025-11-22T00:00:00&to=2025-11-23T00:00:00"
start "$B/profefe" -addr 127.0.0.1:0 -tsdb.dir "$d" -tsdb.block-duration 24h -tsdb.retention 0
url="http://127.0.0.1:$SRV_PORT"
rss0=$(awk '/^VmRSS/{print $2}' /proc/$SRV_PID/status)
mapfile -t hs < <(ls "$FIX"/heap-0*.pb.gz)
t0=1763769600000000000
r=$(for k in $(seq 0 719); do
	for s in 0 1 2; do
		echo "$url/api/0/profiles?service=svc-0&type=heap&labels=instance=i$s ${hs[$((k % 10))]} $((t0 + k * 10000000000))"
	done
done | "$B/bench/pushseries") || { echo "bench: push failed: $r" >&2; exit 1; }
echo "# pushed: $r"
rss1=$(awk '/^VmRSS/{print $2}' /proc/$SRV_PID/status)
merges() {
	n3=$(curl -sS "$url/api/0/profiles?service=svc-0&type=heap&$T" | grep -o '"id"' | wc -l)
	if [ "$n3" -ne 2160 ]; then echo "bench: store holds $n3 profiles, want 2160" >&2; exit 1; fi
	three=$(get_time "$url/api/0/profiles/merge?service=svc-0&type=heap&$T")
	one=$(get_time "$url/api/0/profiles/merge?service=svc-0&type=heap&labels=instance=i0&$T")
	heads=$(curl -sS "$url/metrics" | grep -E '^profefe_tsdb_head_profiles ' | awk '{print $2}')
	kill -TERM $SRV_PID; wait $SRV_PID || true
}
merges; h3=$three; h1=$one; hp=$heads
printf 'head memory: profefe RSS %d KB after the 2160 pushes, %d KB before: %.1f KB per profile\n' \
	"$rss1" "$rss0" "$(awk "BEGIN{print ($rss1-$rss0)/2160}")"
start "$B/profefe" -addr 127.0.0.1:0 -tsdb.dir "$d" -tsdb.block-duration 24h -tsdb.retention 0
url="http://127.0.0.1:$SRV_PORT"
merges; b3=$three; b1=$one; bp=$heads
printf 'merge from the head (%s profiles there): 2160 profiles %.3fs, 720 %.3fs | from blocks (%s in the head): %.3fs, %.3fs | head / blocks %.2fx, %.2fx\n' \
	"$hp" "$h3" "$h1" "$bp" "$b3" "$b1" "$(awk "BEGIN{print $h3/$b3}")" "$(awk "BEGIN{print $h1/$b1}")"
rm -rf "$d"
