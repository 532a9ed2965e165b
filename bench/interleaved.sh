#!/usr/bin/env bash
# Merge of interleaved series from blocks (issue 14): three series of 720
# heap profiles (the ten real heap snapshots in turn), 10 s apart and at the
# same times, written by bench/tsdbfill and cut into blocks. The merge of
# the three (2 160 profiles, their hits interleaved in time) against the
# merge of one of them (720): seconds, and the cost per profile of each.
# The ratio is (three per profile) / (one per profile); at most 2 is the goal.
# Needs B (build dir), FIX (fixtures), tmp, start() and get_time() from run.sh.
set -euo pipefail

heaps=$(ls "$FIX"/heap-0*.pb.gz | paste -sd,)
fill=$("$B/bench/tsdbfill" "$tmp/data-inter" "$heaps" 3 720 3)
echo "# tsdbfill: $fill"
start "$B/profefe" -addr 127.0.0.1:0 -tsdb.dir "$tmp/data-inter"
url="http://127.0.0.1:$SRV_PORT"
T="from=2025-11-22T00:00:00&to=2025-11-23T00:00:00"
# every profile is in a block (nothing in the head): the figure is the block path
n3=$(curl -sS "$url/api/0/profiles?service=svc-0&type=goroutine&$T" | grep -o '"id"' | wc -l)
n1=$(curl -sS "$url/api/0/profiles?service=svc-0&type=goroutine&labels=instance=10.0.0.1:6060&$T" | grep -o '"id"' | wc -l)
if [ "$n3" -ne 2160 ] || [ "$n1" -ne 720 ]; then
	echo "bench: interleaved store holds $n3 and $n1 profiles, want 2160 and 720" >&2
	exit 1
fi
three=$(get_time "$url/api/0/profiles/merge?service=svc-0&type=goroutine&$T")
one=$(get_time "$url/api/0/profiles/merge?service=svc-0&type=goroutine&labels=instance=10.0.0.1:6060&$T")
kill -TERM $SRV_PID; wait $SRV_PID || true
printf 'merge of 3 interleaved heap series from blocks: 2160 profiles %.3fs (%.1f us each) | one series, 720 profiles %.3fs (%.1f us each) | cost per profile ratio %.2fx\n' \
	"$three" "$(awk "BEGIN{print $three/2160*1e6}")" "$one" "$(awk "BEGIN{print $one/720*1e6}")" \
	"$(awk "BEGIN{print ($one>0)?($three/2160)/($one/720):0}")"
rm -rf "$tmp/data-inter"
