#!/usr/bin/env bash
# Acknowledged profiles survive: a clean restart keeps every profile (now in
# blocks), and so does kill -9 in the middle of a stream of concurrent
# pushes. Intact = byte for byte for traces, equal at the pprof level for
# pprof (SPEC 10.2).
source "$(dirname "$0")/lib.bash"

data=$TMP/data
# the fixtures (November 2026) and a trace pushed without created_at (now)
# share the store: keep everything, so neither the retention window nor a
# retention round depends on today's date
RET=(-tsdb.retention 0)
start_server "$data" "${RET[@]}" || { notok "server starts"; finish; }

# clean restart
declare -A want
for f in "$FIX"/pprof/*.pb.gz "$FIX"/pprof/trace-001.out; do
	name=$(basename "$f")
	type=${name%%-*}
	id=$(push "$f" "service=keep&type=$type" | jq -r .body.id)
	want[$id]=$f
done
stop_server
start_server "$data" "${RET[@]}" || notok "server restarts"
bad=0
for id in "${!want[@]}"; do
	curl -sS -o "$TMP/got" "$URL/api/0/profiles/$id"
	same_profile "$TMP/got" "${want[$id]}" || { bad=$((bad + 1)); echo "#   $id (${want[$id]}) differs"; }
done
expect "after a clean restart every profile reads back intact (${#want[@]})" "$bad" 0
n=$(curl -sS "$URL/api/0/profiles?service=keep&from=2000-01-01T00:00:00&to=2100-01-01T00:00:00" | jq '.body | length')
expect "after a clean restart find returns all ${#want[@]}" "$n" "${#want[@]}"

# kill -9 during concurrent pushes, three times
pusher() { # writes "id file" for every 200
	local k=$1 i=0 f r id
	while :; do
		i=$((i + 1))
		f=$FIX/pprof/heap-0$(printf %02d $(( (i + k) % 10 + 1 ))).pb.gz
		r=$(curl -sS --max-time 5 --data-binary @"$f" "$URL/api/0/profiles?service=crash&type=heap&labels=pusher=p$k" 2>/dev/null) || return 0
		id=$(jq -r '.body.id // empty' <<<"$r" 2>/dev/null)
		[ -n "$id" ] && echo "$id $f" >>"$TMP/acked.$k"
	done
}
for round in 1 2 3; do
	pids=()
	for k in 1 2 3 4; do
		pusher $k &
		pids+=($!)
	done
	sleep 1.5
	kill9_server
	for p in "${pids[@]}"; do wait $p 2>/dev/null; done
	start_server "$data" "${RET[@]}" || { notok "server restarts after kill -9 (round $round)"; break; }
	ok "server restarts after kill -9 (round $round)"
done
cat "$TMP"/acked.* >"$TMP/acked"
nack=$(wc -l <"$TMP/acked")
expect_match "pushes were acknowledged before the kills ($nack)" "$nack" '^[1-9][0-9]*$'
bad=0
while read -r id f; do
	curl -sS -o "$TMP/got" "$URL/api/0/profiles/$id"
	same_profile "$TMP/got" "$f" || { bad=$((bad + 1)); echo "#   $id ($f) missing or differs"; }
done <"$TMP/acked"
expect "after kill -9: every acknowledged profile reads back intact" "$bad" 0
n=$(curl -sS "$URL/api/0/profiles?service=crash&from=2000-01-01T00:00:00&to=2100-01-01T00:00:00" | jq '.body | length')
check "after kill -9: find returns at least every acknowledged profile ($n >= $nack)" test "$n" -ge "$nack"
cat "$TMP"/server.*.log | grep -iE 'torn|truncat' | sed 's/^/# logged: /' | head -5

stop_server
finish
