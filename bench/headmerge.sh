#!/usr/bin/env bash
# The symbolized head (issue 18): three series of 720 heap profiles (the ten
# real heap snapshots in turn, 10 s apart, at the same times) written by
# bench/tsdbfill and left in the WAL ("noflush", as a crash leaves them).
#   open:  bench/tsdbopen replays the WAL into the symbolized head (every body
#          decoded once); its max RSS against an empty store's gives the head's
#          memory per profile
#   merge: GET /api/0/profiles/merge of the three (2 160 profiles) and of one
#          (720) from the head, then the same after the head is cut into a
#          block (profefe stopped: the close flushes); ratio head / blocks
#   cut:   the flush of bench/tsdbopen DIR flush (the cut of 2 160 profiles)
# Needs B (build dir), FIX (fixtures), tmp, start() and get_time() from run.sh.
set -euo pipefail

heaps=$(ls "$FIX"/heap-0*.pb.gz | paste -sd,)
d=$tmp/data-head
"$B/bench/tsdbfill" "$d" "$heaps" 3 720 3 noflush >/dev/null
mkdir -p "$tmp/empty-head"
/usr/bin/time -f '%M' -o "$tmp/rss0" "$B/bench/tsdbopen" "$tmp/empty-head" >/dev/null
cp -a "$d" "$d.cut"
open=$(/usr/bin/time -f '%M' -o "$tmp/rss1" "$B/bench/tsdbopen" "$d")
rss0=$(cat "$tmp/rss0"); rss1=$(cat "$tmp/rss1")
echo "# tsdbopen: $open"
printf 'head memory: max RSS %d KB with 2160 heap profiles in the head, %d KB empty: %.1f KB per profile\n' \
	"$rss1" "$rss0" "$(awk "BEGIN{print ($rss1-$rss0)/2160}")"
cut=$("$B/bench/tsdbopen" "$d.cut" flush | tail -1 | grep -oE '[0-9.]+ s' | grep -oE '[0-9.]+')
printf 'cut of the head: 2160 heap profiles in %.3f s (%.1f us each, open and close included)\n' \
	"$cut" "$(awk "BEGIN{print $cut/2160*1e6}")"
rm -rf "$d.cut" "$tmp/empty-head"
T="from=2025-11-22T00:00:00&to=2025-11-23T00:00:00"
merges() {
	start "$B/profefe" -addr 127.0.0.1:0 -tsdb.dir "$d" -tsdb.block-duration 24h
	url="http://127.0.0.1:$SRV_PORT"
	n3=$(curl -sS "$url/api/0/profiles?service=svc-0&type=goroutine&$T" | grep -o '"id"' | wc -l)
	if [ "$n3" -ne 2160 ]; then echo "bench: store holds $n3 profiles, want 2160" >&2; exit 1; fi
	three=$(get_time "$url/api/0/profiles/merge?service=svc-0&type=goroutine&$T")
	one=$(get_time "$url/api/0/profiles/merge?service=svc-0&type=goroutine&labels=instance=10.0.0.1:6060&$T")
	heads=$(curl -sS "$url/metrics" | grep -E '^profefe_tsdb_head_profiles ' | awk '{print $2}')
	kill -TERM $SRV_PID; wait $SRV_PID || true
}
merges; h3=$three; h1=$one; hp=$heads
merges; b3=$three; b1=$one; bp=$heads
printf 'merge from the head (%s profiles there): 2160 profiles %.3fs, 720 %.3fs | from blocks (%s in the head): %.3fs, %.3fs | head / blocks %.2fx, %.2fx\n' \
	"$hp" "$h3" "$h1" "$bp" "$b3" "$b1" "$(awk "BEGIN{print $h3/$b3}")" "$(awk "BEGIN{print $h1/$b1}")"
rm -rf "$d"
