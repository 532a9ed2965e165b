#!/usr/bin/env bash
# The store across block cuts: four series of 240 profiles, one per second
# (time_nanos rewritten by tests/tools/pprof-retime), pushed concurrently into
# a server cutting 30 s blocks, compacting and flushing at shutdown. Every
# query is checked against what the script pushed, before and after a clean
# restart: find counts per range and label, get by id, merges against
# `go tool pprof -top` of the same files, services, metrics.
source "$(dirname "$0")/lib.bash"

N=240
start=$(date -u -d 2026-11-22T00:00:00Z +%s)
series=("a:heap:heap-001:" "a:allocs:allocs-001:" "b:heap:heap-002:&labels=region=eu"
	"b:heap:heap-003:&labels=region=ap")
: >"$TMP/list"
for s in "${series[@]}"; do
	IFS=: read -r svc type fx extra <<<"$s"
	d=$TMP/$svc-$type${extra:+-${extra##*=}}
	mkdir -p "$d"
	"$TOOLS/pprof-retime" "$FIX/pprof/$fx.pb.gz" "$d" $N "${start}000000000" 1000000000 ||
		{ notok "retime $fx"; finish; }
	for f in "$d"/*.pb.gz; do echo "$f service=$svc&type=$type$extra"; done >>"$TMP/list"
done

start_server "$TMP/data" -tsdb.block-duration 30s || { notok "server starts"; finish; }

# four concurrent pushers; each acknowledged push is logged "id file"
pusher() {
	local k=$1 code id f
	while read -r code id f; do
		if [ "$code" = 200 ] && [ "$id" != - ]; then echo "$id $f" >>"$TMP/acked.$k"; else echo "# push $f: HTTP $code"; fi
	done < <(awk -v k=$k 'NR % 4 == k' "$TMP/list" | push_list)
}
pids=()
for k in 0 1 2 3; do pusher $k & pids+=($!); done
wait "${pids[@]}"
cat "$TMP"/acked.* >"$TMP/acked"
expect "all $((4 * N)) pushes acknowledged" "$(wc -l <"$TMP/acked")" $((4 * N))
sleep 8 # one maintenance round (block duration / 4) after the last push

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S; }
count() { curl -sS "$URL/api/0/profiles?$1" | jq '.body | length'; }
after_type() { sed -n '/^Type:/,$p'; }

check_queries() {
	local where=$1 bad=0 id f
	expect "$where: find a/heap over the whole day" "$(count "service=a&type=heap&from=$(iso $start)&to=$(iso $((start + 86400)))")" $N
	expect "$where: find a (both types)" "$(count "service=a&from=$(iso $start)&to=$(iso $((start + 86400)))")" $((2 * N))
	# both ends inclusive: seconds 100..199
	expect "$where: find a/heap in [100 s, 199 s]" "$(count "service=a&type=heap&from=$(iso $((start + 100)))&to=$(iso $((start + 199)))")" 100
	expect "$where: find b/heap by label region=eu in [140 s, 239 s]" "$(count "service=b&type=heap&labels=region=eu&from=$(iso $((start + 140)))&to=$(iso $((start + 239)))")" 100
	expect "$where: find with a label nobody has" "$(curl -sS -o /dev/null -w '%{http_code}' "$URL/api/0/profiles?service=b&type=heap&labels=region=us&from=$(iso $start)&to=$(iso $((start + 86400)))")" 404
	expect "$where: limit keeps the newest" "$(curl -sS "$URL/api/0/profiles?service=a&type=allocs&limit=3&from=$(iso $start)&to=$(iso $((start + 86400)))" | jq -r '[.body[].created_at] | join(" ")')" \
		"2026-11-22T00:03:57Z 2026-11-22T00:03:58Z 2026-11-22T00:03:59Z"
	local times
	times=$(curl -sS "$URL/api/0/profiles?service=a&type=heap&from=$(iso $start)&to=$(iso $((start + 86400)))" | jq -r '[.body[].created_at] | . == sort')
	expect "$where: find lists ascending by time" "$times" true
	expect "$where: services" "$(curl -sS "$URL/api/0/services" | jq -c .body)" '["a","b"]'
	while read -r id f; do
		curl -sS -o "$TMP/got" "$URL/api/0/profiles/$id"
		same_profile "$TMP/got" "$f" || { bad=$((bad + 1)); echo "#   $id ($f) differs"; }
	done < <(awk 'NR % 25 == 0' "$TMP/acked")
	expect "$where: every 25th acknowledged profile reads back intact by id" "$bad" 0
	# merges: 100 s of a/heap across block boundaries, 60 s of b/heap region=eu,
	# and 60 s of both b/heap series (interleaved in time, merged from blocks
	# by block, series and chunk)
	local files=() i
	for ((i = 100; i < 200; i++)); do files+=("$TMP/a-heap/$(printf %06d $i).pb.gz"); done
	expect_pprof "$where: merge of a/heap [100 s, 199 s] equals go tool pprof -top of the 100 files" after_type \
		-top -nodecount=100000 "$URL/api/0/profiles/merge?service=a&type=heap&from=$(iso $((start + 100)))&to=$(iso $((start + 199)))" -- \
		-top -nodecount=100000 "${files[@]}"
	files=()
	for ((i = 30; i < 90; i++)); do files+=("$TMP/b-heap-eu/$(printf %06d $i).pb.gz"); done
	expect_pprof "$where: merge of b/heap region=eu [30 s, 89 s] equals go tool pprof -top of the 60 files" after_type \
		-top -nodecount=100000 "$URL/api/0/profiles/merge?service=b&type=heap&labels=region=eu&from=$(iso $((start + 30)))&to=$(iso $((start + 89)))" -- \
		-top -nodecount=100000 "${files[@]}"
	for ((i = 30; i < 90; i++)); do files+=("$TMP/b-heap-ap/$(printf %06d $i).pb.gz"); done
	expect_pprof "$where: merge of both b/heap series [30 s, 89 s] equals go tool pprof -top of the 120 files" after_type \
		-top -nodecount=100000 "$URL/api/0/profiles/merge?service=b&type=heap&from=$(iso $((start + 30)))&to=$(iso $((start + 89)))" -- \
		-top -nodecount=100000 "${files[@]}"
}

check_queries "live"
m=$(curl -sS "$URL/metrics")
metric() { sed -n "s/^$1 \([0-9]*\)$/\1/p" <<<"$m"; }
check "live: blocks were cut while pushing ($(metric profefe_tsdb_head_cuts_total) cuts)" test "$(metric profefe_tsdb_head_cuts_total)" -ge 2
stop_server
start_server "$TMP/data" -tsdb.block-duration 30s || { notok "server restarts"; finish; }
m=$(curl -sS "$URL/metrics")
expect "restart: the head is empty (flushed at shutdown)" "$(metric profefe_tsdb_head_profiles)" 0
check "restart: blocks were compacted ($(metric profefe_tsdb_blocks) blocks)" test "$(metric profefe_tsdb_blocks)" -lt $((N / 30))
expect "restart: no temporary files left" "$(find "$TMP/data" -name '*.tmp' | wc -l)" 0
check_queries "restart"
raw=$(cat "$TMP"/*-*/*.pb.gz | wc -c)
disk=$(du -sb "$TMP/data" | cut -f1)
echo "# data directory $disk bytes for $raw bytes of gzip profiles: ratio $(awk "BEGIN{printf \"%.3f\", $disk/$raw}")"
stop_server
finish
