#!/usr/bin/env bash
# Folded merges and the query limits (issue 15): the ten heap fixtures pushed
# as two series at the same times (their hits interleave), merged from the
# head and, after a clean restart, from blocks, by range and by ids (an id
# named twice counts twice, ids interleaving the series), each against
# `go tool pprof -proto` of the same files at the pprof level; head and
# block merges equal. Then -query.max-profiles (400 naming the count and the
# cap, on blocks, on the head and for ids) and -query.timeout (a 1ns
# deadline has always passed: 503), counted in the refusals.
source "$(dirname "$0")/lib.bash"

heaps=()
for i in 01 02 03 04 05 06 07 08 09 10; do heaps+=("$FIX/pprof/heap-0$i.pb.gz"); done
F="from=2026-11-01T00:00:00&to=2026-12-01T00:00:00"
after_type() { sed -n '/^Type:/,$p'; }

start_server "$TMP/data" || { notok "server starts"; finish; }
ida=() idb=()
for f in "${heaps[@]}"; do
	ida+=("$(push "$f" "service=m&type=heap&labels=host=a" | jq -r .body.id)")
	idb+=("$(push "$f" "service=m&type=heap&labels=host=b" | jq -r .body.id)")
done
expect "20 pushes acknowledged" "$(printf '%s\n' "${ida[@]}" "${idb[@]}" | grep -cE '^[A-Za-z0-9]{27}$')" 20

# want FILE FILES...: go tool pprof -proto of FILES into FILE (Go must succeed)
want() {
	local out=$1
	shift
	gopprof "$out" -proto "$@" && [ -s "$out" ]
}
# same WHAT GOT WANT: equal at the pprof level (sample count, time, every
# total) and by `go tool pprof -top` for two sample indexes
same() {
	check "$1: equal at the pprof level (pprof-info)" same_profile "$2" "$3"
	for si in alloc_space inuse_objects; do
		expect_pprof "$1: -top -sample_index=$si" after_type -top -nodecount=100000 -sample_index=$si "$2" -- \
			-top -nodecount=100000 -sample_index=$si "$3"
	done
}
want "$TMP/go-all.pb.gz" "${heaps[@]}" "${heaps[@]}" || notok "go tool pprof -proto of the 20 files"
# ids interleaving the series, one named twice: a1 b2 a3 b1 a1 b10
ids="${ida[0]}+${idb[1]}+${ida[2]}+${idb[0]}+${ida[0]}+${idb[9]}"
want "$TMP/go-ids.pb.gz" "${heaps[0]}" "${heaps[1]}" "${heaps[2]}" "${heaps[0]}" "${heaps[0]}" "${heaps[9]}" ||
	notok "go tool pprof -proto of the id files"

# 1. from the head
curl -sS -o "$TMP/head-all.pb.gz" "$URL/api/0/profiles/merge?service=m&type=heap&$F"
same "head: range merge of both series" "$TMP/head-all.pb.gz" "$TMP/go-all.pb.gz"
curl -sS -o "$TMP/head-ids.pb.gz" "$URL/api/0/profiles/$ids"
same "head: id merge (one id twice)" "$TMP/head-ids.pb.gz" "$TMP/go-ids.pb.gz"
stop_server

# 2. after a clean restart: everything is in blocks
start_server "$TMP/data" || { notok "server restarts"; finish; }
embedded_only "head and blocks are the embedded store's (the merges below run on ClickHouse's rows)" ||
	expect "restart: nothing in the head" "$(curl -sS "$URL/api/v1/status/tsdb" | jq -c '[.data.head.profiles, .data.blocks.profiles]')" '[0,20]'
curl -sS -o "$TMP/block-all.pb.gz" "$URL/api/0/profiles/merge?service=m&type=heap&$F"
same "blocks: range merge of both series" "$TMP/block-all.pb.gz" "$TMP/go-all.pb.gz"
same "blocks: range merge equals the head's" "$TMP/block-all.pb.gz" "$TMP/head-all.pb.gz"
curl -sS -o "$TMP/block-ids.pb.gz" "$URL/api/0/profiles/$ids"
same "blocks: id merge (one id twice)" "$TMP/block-ids.pb.gz" "$TMP/go-ids.pb.gz"
expect "blocks: a missing id among several is skipped; none found is 404" \
	"$(req GET "/api/0/profiles/000000000000000000000000000+000000000000000000000000001")" '404 {"code":404,"error":"nothing found"}'
stop_server

# 3. -query.max-profiles 5: on blocks, on the head, for ids
start_server "$TMP/data" -query.max-profiles 5 || { notok "server starts with -query.max-profiles"; finish; }
expect "max-profiles: range merge of 20" "$(req GET "/api/0/profiles/merge?service=m&type=heap&$F")" \
	'400 {"code":400,"error":"bad request: the query selects 20 profiles, over the cap of 5 (-query.max-profiles)"}'
expect "max-profiles: find of 10" "$(req GET "/api/0/profiles?service=m&type=heap&labels=host=a&$F")" \
	'400 {"code":400,"error":"bad request: the query selects 10 profiles, over the cap of 5 (-query.max-profiles)"}'
expect "max-profiles: find with limit=5 is within it" "$(curl -sS "$URL/api/0/profiles?service=m&type=heap&limit=5&$F" | jq '.body | length')" 5
expect "max-profiles: id merge of 6" "$(req GET "/api/0/profiles/$ids")" \
	'400 {"code":400,"error":"bad request: the query selects 6 profiles, over the cap of 5 (-query.max-profiles)"}'
curl -sS -o "$TMP/five.pb.gz" "$URL/api/0/profiles/${ida[0]}+${idb[1]}+${ida[2]}+${idb[0]}+${ida[0]}"
want "$TMP/go-five.pb.gz" "${heaps[0]}" "${heaps[1]}" "${heaps[2]}" "${heaps[0]}" "${heaps[0]}" ||
	notok "go tool pprof -proto of five files"
check "max-profiles: an id merge of 5 is served" same_profile "$TMP/five.pb.gz" "$TMP/go-five.pb.gz"
idc=()
for f in "${heaps[@]:0:6}"; do idc+=("$(push "$f" "service=m&type=heap&labels=host=c" | jq -r .body.id)"); done
expect "max-profiles: range merge of 6 in the head" "$(req GET "/api/0/profiles/merge?service=m&type=heap&labels=host=c&$F")" \
	'400 {"code":400,"error":"bad request: the query selects 6 profiles, over the cap of 5 (-query.max-profiles)"}'
V1Q='query=%7Bservice%3D%22m%22%2Ctype%3D%22heap%22%7D'
expect "max-profiles: /api/v1/merge of 26" "$(req GET "/api/v1/merge?$V1Q&report=top")" \
	'400 {"status":"error","errorType":"bad_data","error":"the query selects 26 profiles, over the cap of 5 (-query.max-profiles)"}'
expect "max-profiles: /api/v1/query_range of 26" "$(req GET "/api/v1/query_range?$V1Q")" \
	'400 {"status":"error","errorType":"bad_data","error":"the query selects 26 profiles, over the cap of 5 (-query.max-profiles)"}'
expect_match "max-profiles: refusals counted" "$(curl -sS "$URL/metrics")" \
	'profefe_requests_refused_total\{reason="max_profiles"\} 6'
# query_range's limit=N keeps the newest N of each series in the store:
# only those count against the cap (the Services page asks all time with
# limit=1); host=a gets one more profile (the newest, heap-large-001), in the head while its others
# are in blocks
ida+=("$(push "$FIX/pprof/heap-large-001.pb.gz" "service=m&type=heap&labels=host=a" | jq -r .body.id)")
qr_ids() { curl -sS "$URL/api/v1/query_range?$V1Q&$1" | jq -c '[.data[] | [.labels.host, [.samples[].id]]]'; }
expect "max-profiles: /api/v1/query_range of 27 with limit=1: the newest of each of the 3 series" \
	"$(qr_ids limit=1)" "[[\"a\",[\"${ida[10]}\"]],[\"b\",[\"${idb[9]}\"]],[\"c\",[\"${idc[5]}\"]]]"
expect "max-profiles: ... and a one-series selector with limit=5 its newest five, across head and blocks" \
	"$(curl -sS "$URL/api/v1/query_range?query=%7Bservice%3D%22m%22%2Chost%3D%22a%22%7D&limit=5" | jq -c '[.data[].samples[].id]')" \
	"$(printf '%s\n' "${ida[@]:6:5}" | jq -R . | jq -sc .)"
expect "max-profiles: ... limit=2 keeps 6, over the cap: 400 naming 6" "$(req GET "/api/v1/query_range?$V1Q&limit=2")" \
	'400 {"status":"error","errorType":"bad_data","error":"the query selects 6 profiles, over the cap of 5 (-query.max-profiles)"}'
stop_server

# 4. -query.timeout 1ns: a deadline that has passed when the merge starts
start_server "$TMP/data" -query.timeout 1ns || { notok "server starts with -query.timeout 1ns"; finish; }
if [ "$STORAGE" = clickhouse ]; then
	# ClickHouse runs a statement to its end: the deadline is checked
	# before the query is sent (src/store)
	ch_to='query timed out after -query.timeout 1ns (stopped before asking ClickHouse)'
	expect "timeout: range merge" "$(req GET "/api/0/profiles/merge?service=m&type=heap&$F")" \
		"503 {\"code\":503,\"error\":\"$ch_to\"}"
	expect "timeout: id merge" "$(req GET "/api/0/profiles/$ids")" "503 {\"code\":503,\"error\":\"$ch_to\"}"
else
expect "timeout: range merge (blocks and head)" "$(req GET "/api/0/profiles/merge?service=m&type=heap&$F")" \
	'503 {"code":503,"error":"query timed out after -query.timeout 1ns (stopped after finding 27 profiles)"}'
expect "timeout: id merge" "$(req GET "/api/0/profiles/$ids")" \
	'503 {"code":503,"error":"query timed out after -query.timeout 1ns (stopped after looking up 6 ids)"}'
fi
curl -sS -o "$TMP/one.pb.gz" "$URL/api/0/profiles/${ida[0]}"
check "timeout: a get by one id is no query" same_profile "$TMP/one.pb.gz" "${heaps[0]}"
if [ "$STORAGE" = clickhouse ]; then
	expect "timeout: /api/v1/merge" "$(req GET "/api/v1/merge?query=%7Bservice%3D%22m%22%7D&report=flamegraph")" \
		"503 {\"status\":\"error\",\"errorType\":\"timeout\",\"error\":\"$ch_to\"}"
else
expect "timeout: /api/v1/merge" "$(req GET "/api/v1/merge?query=%7Bservice%3D%22m%22%7D&report=flamegraph")" \
	'503 {"status":"error","errorType":"timeout","error":"query timed out after -query.timeout 1ns (stopped after finding 27 profiles)"}'
fi
expect_match "timeout: refusals counted" "$(curl -sS "$URL/metrics")" \
	'profefe_requests_refused_total\{reason="query_timeout"\} 3'
stop_server

# 5. bad flag values stop the start
"$PROFEFE_BIN" -tsdb.dir "$TMP/data" -query.timeout 5x >/dev/null 2>"$TMP/err"
expect "-query.timeout 5x: exit 2" "$?" 2
expect "-query.timeout 5x: says why" "$(cat "$TMP/err")" 'profefe: invalid value "5x" for -query.timeout: want a duration such as 2m (0 = none)'
"$PROFEFE_BIN" -tsdb.dir "$TMP/data" -query.max-profiles -1 >/dev/null 2>"$TMP/err"
expect "-query.max-profiles -1: exit 2" "$?" 2
finish
