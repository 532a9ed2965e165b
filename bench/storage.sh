#!/usr/bin/env bash
# Storage ratio of the store (issue 3), called by bench/run.sh: a real Go
# program (examples/hotapp) is profiled for BENCH_STORE_SECONDS (default
# 600): heap every second, goroutine every 5 s, CPU in back-to-back 10 s
# profiles. Each profile is pushed to a profefe of its own type; after a
# clean shutdown (the head is written into blocks, the WAL emptied) the
# bytes of each data directory are compared with the sum of the gzip
# sizes of the profiles it was sent. Goal: at most 0.10 of the gzip bytes.
# Needs B (build dir), tmp, start() from run.sh.
set -euo pipefail

SECS=${BENCH_STORE_SECONDS:-600}
"$B/hotapp" -addr 127.0.0.1:0 >"$tmp/hotapp.log" 2>&1 &
hot=$!
pids+=($hot)
hport=
for _ in $(seq 1 200); do
	hport=$(grep -oE '127\.0\.0\.1:[0-9]+' "$tmp/hotapp.log" | head -1 | cut -d: -f2 || true)
	[ -n "$hport" ] && break
	sleep 0.05
done
[ -n "$hport" ] || { echo "bench: hotapp did not start" >&2; cat "$tmp/hotapp.log" >&2; exit 1; }
hurl=http://127.0.0.1:$hport/debug/pprof

declare -A port spid
for type in heap goroutine cpu; do
	start "$B/profefe" -addr 127.0.0.1:0 -tsdb.dir "$tmp/store-$type"
	port[$type]=$SRV_PORT
	spid[$type]=$SRV_PID
	mkdir -p "$tmp/prof-$type"
done

# fetch TYPE PATH N: one profile into the type's directory and its store
fetch() {
	local f=$tmp/prof-$1/$(printf %06d "$3").pb.gz
	if curl -fsS -o "$f" "$hurl/$2"; then
		curl -sS -o /dev/null --data-binary @"$f" "http://127.0.0.1:${port[$1]}/api/0/profiles?service=hotapp&type=$1&instance_id=127.0.0.1:$hport"
	fi
}
(
	n=0
	while [ $((n * 10)) -lt "$SECS" ]; do fetch cpu "profile?seconds=10" $n; n=$((n + 1)); done
) &
cpu_loop=$!
t0=$(date +%s)
fetches=()
for ((i = 0; i < SECS; i++)); do
	fetch heap heap $i &
	fetches+=($!)
	if [ $((i % 5)) -eq 0 ]; then
		fetch goroutine goroutine $i &
		fetches+=($!)
	fi
	# one per second, on the second
	sleep "$(awk -v t0="$t0" -v i="$i" -v now="$(date +%s.%N)" 'BEGIN{d = t0 + i + 1 - now; print (d > 0) ? d : 0}')"
done
wait "$cpu_loop" "${fetches[@]}" || true
kill "$hot" 2>/dev/null || true

total_raw=0
total_disk=0
line="storage ($SECS s of examples/hotapp):"
for type in heap goroutine cpu; do
	kill -TERM "${spid[$type]}"
	wait "${spid[$type]}" || true
	n=$(ls "$tmp/prof-$type" | wc -l)
	raw=$(cat "$tmp/prof-$type"/*.pb.gz | wc -c)
	disk=$(find "$tmp/store-$type" -type f -printf "%s\n" | awk "{s+=\$1} END{print s+0}")
	total_raw=$((total_raw + raw))
	total_disk=$((total_disk + disk))
	line="$line $type $n profiles $raw -> $disk bytes ($(awk "BEGIN{printf \"%.3f\", $disk/$raw}")) |"
done
echo "$line mix $total_raw -> $total_disk bytes: ratio $(awk "BEGIN{printf \"%.3f\", $total_disk/$total_raw}") (goal <= 0.10)"
echo "#   bytes of the files in each data directory after a clean shutdown (blocks, WAL, lock)"
