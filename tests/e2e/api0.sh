#!/usr/bin/env bash
# profefe's /api/0 against a real server: every case of
# ../shared/reference/profefe-api.md §7, as SPEC.md §3/§10 settle them.
source "$(dirname "$0")/lib.bash"

start_server "$TMP/data" || { notok "server starts"; finish; }
ok "server starts"

# 1. version
r=$(req GET /api/0/version)
expect_match "version: 200 with version, commit, build_time" "$r" '^200 \{"code":200,"body":\{"version":"[^"]+","commit":"[^"]+","build_time":"[^"]+"\}\}$'
ct=$(curl -sS -o /dev/null -w '%{content_type}' "$URL/api/0/version")
expect "version: Content-Type is application/json" "$ct" "application/json"

# 2. services on an empty store
expect "services: empty store is 404 nothing found" "$(req GET /api/0/services)" '404 {"code":404,"error":"nothing found"}'

# 3. push cpu with labels: labels sorted, time from the profile
r=$(push "$FIX/pprof/cpu-001.pb.gz" "service=svc1&type=cpu&labels=region=eu,host=be1")
expect "push cpu: meta without id" "$(command jq -c 'del(.body.id)' <<<"$r")" '{"code":200,"body":{"type":"cpu","service":"svc1","labels":[{"key":"host","value":"be1"},{"key":"region","value":"eu"}],"created_at":"2026-11-22T13:05:52Z"}}'
cpu1=$(jq -r .body.id <<<"$r")
expect_match "push cpu: id is letters and digits" "$cpu1" '^[A-Za-z0-9]+$'

# 4. the profile's own time wins over created_at
r=$(push "$FIX/pprof/cpu-002.pb.gz" "service=svc1&type=cpu&labels=region=eu,host=be2&created_at=2001-01-01T00:00:00")
expect "push cpu: time_nanos wins over created_at" "$(jq -r .body.created_at <<<"$r")" "2026-11-22T13:05:55Z"
cpu2=$(jq -r .body.id <<<"$r")
expect "two pushes get two ids" "$([ "$cpu1" != "$cpu2" ] && echo distinct)" distinct

# 5. trace with created_at; byte-identical by id
r=$(push "$FIX/pprof/trace-001.out" "service=svc1&type=trace&created_at=2026-11-22T13:06:20")
expect "push trace: created_at from the parameter" "$(jq -r .body.created_at <<<"$r")" "2026-11-22T13:06:20Z"
trace=$(jq -r .body.id <<<"$r")
curl -sS -o "$TMP/trace.out" "$URL/api/0/profiles/$trace"
check "get trace by id: identical bytes" cmp "$TMP/trace.out" "$FIX/pprof/trace-001.out"

# 6. type and service
expect "push without type: 400" "$(req POST '/api/0/profiles?service=s' --data-binary @"$FIX/pprof/cpu-001.pb.gz")" '400 {"code":400,"error":"bad request: unknown profile type"}'
expect "push with type=unknown: 400" "$(req POST '/api/0/profiles?service=s&type=unknown' --data-binary @"$FIX/pprof/cpu-001.pb.gz")" '400 {"code":400,"error":"bad request: unknown profile type"}'
expect "push with type=Bad/Type: 400" "$(req POST '/api/0/profiles?service=s&type=Bad/Type' --data-binary @"$FIX/pprof/cpu-001.pb.gz")" '400 {"code":400,"error":"bad request: unknown profile type"}'
expect "push without service: 400" "$(req POST '/api/0/profiles?type=cpu' --data-binary @"$FIX/pprof/cpu-001.pb.gz")" '400 {"code":400,"error":"bad request: missing \"service\""}'
r=$(push "$FIX/pprof/goroutine-001.pb.gz" "service=svc3&type=fgprof")
expect "push with a custom type (fgprof): 200" "$(jq -r .body.type <<<"$r")" "fgprof"
r=$(push "$FIX/pprof/allocs-001.pb.gz" "service=svc3&type=allocs")
expect "push with type allocs: 200" "$(jq -r .body.type <<<"$r")" "allocs"

# 7. malformed bodies
expect "empty body: 400 empty input file" "$(req POST '/api/0/profiles?service=s&type=cpu' --data-binary '')" '400 {"code":400,"error":"malformed profile (could not parse pprof profile: parsing profile: empty input file)"}'
expect "hello world: 400 unrecognized profile format" "$(req POST '/api/0/profiles?service=s&type=cpu' --data-binary 'hello world')" '400 {"code":400,"error":"malformed profile (could not parse pprof profile: parsing profile: unrecognized profile format)"}'
printf '\x0a\x04\x08\x01\x10\x02\x32\x00\x32\x07samples\x32\x05count' >"$TMP/nosamples.pb"
expect "profile without samples: 400 no samples" "$(req POST '/api/0/profiles?service=s&type=cpu' --data-binary @"$TMP/nosamples.pb")" '400 {"code":400,"error":"malformed profile (could not parse pprof profile: profile is empty: no samples)"}'

# 8. uncompressed protobuf accepted and returned as gzip pprof, equal at the pprof level
r=$(push "$FIX/bad/heap-plain.pb" "service=svc2&type=heap")
plain=$(jq -r .body.id <<<"$r")
expect_match "uncompressed protobuf accepted" "$plain" '^[A-Za-z0-9]+$'
curl -sS -o "$TMP/plain.pb.gz" "$URL/api/0/profiles/$plain"
expect "uncompressed upload comes back gzip" "$(head -c2 "$TMP/plain.pb.gz" | od -An -tx1 | tr -d ' ')" "1f8b"
expect_pprof "uncompressed upload: go tool pprof -raw equal" cat -raw "$TMP/plain.pb.gz" -- -raw "$FIX/bad/heap-plain.pb"
r=$(req POST '/api/0/profiles?service=s&type=heap' --data-binary @"$FIX/bad/heap-debug1.txt")
expect_match "legacy text heap: 400 naming debug=0" "$r" '^400 .*debug=0'

# 9. find
F='from=2026-11-22T00:00:00&to=2026-11-23T00:00:00'
r=$(req GET "/api/0/profiles?service=svc1&$F")
expect "find svc1: all types, ascending" "$(jq -c '[.body[] | .type]' <<<"${r#* }")" '["cpu","cpu","trace"]'
expect "find svc1: Content-Type json" "$(curl -sS -o /dev/null -w '%{content_type}' "$URL/api/0/profiles?service=svc1&$F")" "application/json"
r=$(req GET "/api/0/profiles?service=svc1&$F&type=cpu&labels=host=be2")
expect "find type=cpu labels=host=be2: only be2" "$(jq -c '[.body[] | .id]' <<<"${r#* }")" "[\"$cpu2\"]"
r=$(req GET "/api/0/profiles?service=svc1&$F&type=unknown")
expect "find with type=unknown: no type filter" "$(jq '.body | length' <<<"${r#* }")" 3
r=$(req GET "/api/0/profiles?service=svc1&$F&limit=1")
expect "find limit=1 keeps the newest" "$(jq -c '[.body[] | .id]' <<<"${r#* }")" "[\"$trace\"]"
r=$(req GET "/api/0/profiles?service=svc1&from=2026-11-22T13:05:52Z&to=1795400000")
expect "find with RFC 3339 and Unix seconds" "$(jq '.body | length' <<<"${r#* }")" 3
r=$(req GET "/api/0/profiles?service=svc1&from=1795352752000&to=1795352753000")
expect "find with Unix milliseconds, both ends included" "$(jq -c '[.body[] | .id]' <<<"${r#* }")" "[\"$cpu1\"]"

# 10. find errors
expect "find without from: 400" "$(req GET '/api/0/profiles?service=svc1&to=2026-11-23T00:00:00')" '400 {"code":400,"error":"bad request: missing \"from\""}'
expect "find with a bad from: 400" "$(req GET '/api/0/profiles?service=svc1&from=yesterday&to=2026-11-23T00:00:00')" '400 {"code":400,"error":"bad request: bad \"from\" timestamp \"yesterday\": time in unsupported format \"yesterday\""}'
expect "find with from after to: 400" "$(req GET '/api/0/profiles?service=svc1&from=2019-05-31T00:00:00&to=2019-05-30T00:00:00')" '400 {"code":400,"error":"bad request: CreatedAtMin after CreatedAtMax: 2019-05-31 00:00:00 +0000 UTC, 2019-05-30 00:00:00 +0000 UTC"}'
expect "find with limit=x: 400" "$(req GET "/api/0/profiles?service=svc1&$F&limit=x")" '400 {"code":400,"error":"bad request: bad \"limit\" \"x\": strconv.Atoi: parsing \"x\": invalid syntax"}'
expect "find with no match: 404" "$(req GET "/api/0/profiles?service=nosuch&$F")" '404 {"code":404,"error":"nothing found"}'

# 11. merge by query
curl -sS -D "$TMP/h" -o "$TMP/m.pb.gz" "$URL/api/0/profiles/merge?service=svc1&type=cpu&$F"
expect "merge: 200" "$(head -1 "$TMP/h" | tr -d '\r' | cut -d' ' -f2)" 200
expect "merge: octet-stream" "$(grep -i '^content-type:' "$TMP/h" | tr -d '\r' | cut -d' ' -f2)" "application/octet-stream"
expect "merge: Content-Disposition filename=cpu" "$(grep -i '^content-disposition:' "$TMP/h" | tr -d '\r' | cut -d' ' -f2-)" 'attachment; filename="cpu"'
expect "merge: gzip" "$(head -c2 "$TMP/m.pb.gz" | od -An -tx1 | tr -d ' ')" "1f8b"
after_duration() { sed -n '/^Duration/,$p'; }
expect_pprof "merge: go tool pprof -top of the URL equals -top of the two files" after_duration \
	-top -nodecount=1000000 "$URL/api/0/profiles/merge?service=svc1&type=cpu&$F" -- \
	-top -nodecount=1000000 "$FIX/pprof/cpu-001.pb.gz" "$FIX/pprof/cpu-002.pb.gz"
curl -sS -o "$TMP/one.pb.gz" "$URL/api/0/profiles/merge?service=svc1&type=cpu&$F&labels=host=be1"
stored_bytes "merge of one match: the stored bytes" "$TMP/one.pb.gz" "$FIX/pprof/cpu-001.pb.gz"

# 12. merge errors
expect "merge without type: 400" "$(req GET "/api/0/profiles/merge?service=svc1&$F")" '400 {"code":400,"error":"bad request: unknown profile type"}'
expect "merge of trace: 405" "$(req GET "/api/0/profiles/merge?service=svc1&type=trace&$F")" '405 {"code":405,"error":"can'"'"'t merge profiles of trace type"}'
expect "merge with no match: 404" "$(req GET "/api/0/profiles/merge?service=svc1&type=heap&$F")" '404 {"code":404,"error":"nothing found"}'

# 13. get by id
curl -sS -D "$TMP/h" -o "$TMP/id.pb.gz" "$URL/api/0/profiles/$cpu1"
stored_bytes "get by id: the stored bytes" "$TMP/id.pb.gz" "$FIX/pprof/cpu-001.pb.gz"
expect "get by id: filename is the id" "$(grep -i '^content-disposition:' "$TMP/h" | tr -d '\r' | cut -d' ' -f2-)" "attachment; filename=\"$cpu1\""
expect "get by unknown id: 404" "$(req GET /api/0/profiles/000000000000000000000000000)" '404 {"code":404,"error":"nothing found"}'
expect "get by malformed id: 404" "$(req GET '/api/0/profiles/not-an-id')" '404 {"code":404,"error":"nothing found"}'

# 14. get by several ids
curl -sS -D "$TMP/h" -o "$TMP/ids.pb.gz" "$URL/api/0/profiles/$cpu1+$cpu2"
expect "id1+id2: filename" "$(grep -i '^content-disposition:' "$TMP/h" | tr -d '\r' | cut -d' ' -f2-)" "attachment; filename=\"$cpu1+$cpu2\""
expect_pprof "id1+id2: the merge of both" after_duration -top -nodecount=1000000 "$TMP/ids.pb.gz" -- \
	-top -nodecount=1000000 "$FIX/pprof/cpu-001.pb.gz" "$FIX/pprof/cpu-002.pb.gz"
curl -sS -o "$TMP/ids2.pb.gz" "$URL/api/0/profiles/$cpu1%2B$cpu2"
check "id1%2Bid2 works like +" cmp "$TMP/ids.pb.gz" "$TMP/ids2.pb.gz"
r=$(req GET "/api/0/profiles/$cpu1+$plain")
expect_match "cpu+heap: 400 naming both sample types" "$r" '^400 .*cpu/nanoseconds.*inuse_space/bytes|^400 .*inuse_space/bytes.*cpu/nanoseconds'
expect "cpu+trace: 405" "$(req GET "/api/0/profiles/$cpu1+$trace")" '405 {"code":405,"error":"can'"'"'t merge profiles of trace type"}'
expect "a++b: 500" "$(req GET "/api/0/profiles/$cpu1++$cpu2")" '500 {"code":500,"error":"internal server error"}'
curl -sS -o "$TMP/skip.pb.gz" "$URL/api/0/profiles/$cpu1+000000000000000000000000000"
expect_pprof "a missing id among several is skipped" cat -raw "$TMP/skip.pb.gz" -- -raw "$FIX/pprof/cpu-001.pb.gz"

# 15. other paths
expect "GET /api/0/profiles/ is find: 400 missing service" "$(req GET /api/0/profiles/)" '400 {"code":400,"error":"bad request: missing \"service\""}'
expect "legacy /api/0/profile: 404 JSON" "$(req GET "/api/0/profile?service=svc1")" '404 {"code":404,"error":"nothing found"}'
expect "/api/0/foo: 404 JSON" "$(req GET /api/0/foo)" '404 {"code":404,"error":"nothing found"}'
expect "unknown path: 404 text" "$(req GET /nosuch)" '404 404 page not found'

# 16. labels
r=$(push "$FIX/pprof/mutex-001.pb.gz" "service=lab&type=mutex&labels=k1%3Dv%252C1%2Ck2%3Dv2")
expect "labels: double-encoded comma" "$(jq -c .body.labels <<<"$r")" '[{"key":"k1","value":"v,1"},{"key":"k2","value":"v2"}]'
r=$(push "$FIX/pprof/mutex-001.pb.gz" "service=lab&type=mutex&labels=k=a+b")
expect "labels: + is a space" "$(jq -c .body.labels <<<"$r")" '[{"key":"k","value":"a b"}]'
r=$(push "$FIX/pprof/mutex-001.pb.gz" "service=lab&type=mutex&labels=%20b%20=%20x%20,=novalue,a=1,a=2,c")
expect "labels: trimmed, last value wins, empty values dropped" "$(jq -c .body.labels <<<"$r")" '[{"key":"a","value":"2"},{"key":"b","value":"x"}]'
r=$(push "$FIX/pprof/mutex-001.pb.gz" "service=lab&type=mutex&labels=,namespace=x,from=kube-profefe")
expect "labels: leading comma accepted" "$(jq -c .body.labels <<<"$r")" '[{"key":"from","value":"kube-profefe"},{"key":"namespace","value":"x"}]'
expect "labels: bad escape: 400" "$(req POST '/api/0/profiles?service=lab&type=mutex&labels=k=%25zz' --data-binary @"$FIX/pprof/mutex-001.pb.gz")" '400 {"code":400,"error":"bad request: bad \"labels\" \"k=%zz\": invalid URL escape \"%zz\""}'
r=$(req POST '/api/0/profiles?service=lab&type=mutex&labels=1a=x' --data-binary @"$FIX/pprof/mutex-001.pb.gz")
expect_match "labels: bad name: 400" "$r" '^400 .*bad \\"labels\\" \\"1a=x\\": invalid label name'
r=$(req POST '/api/0/profiles?service=lab&type=mutex&labels=service=x' --data-binary @"$FIX/pprof/mutex-001.pb.gz")
expect_match "labels: service cannot be set: 400" "$r" '^400 .*bad \\"labels\\" \\"service=x\\"'
many=$(for i in $(seq 1 100); do printf 'a=%d,' $i; done)
r=$(push "$FIX/pprof/mutex-001.pb.gz" "service=lab&type=mutex&labels=$many")
expect "labels: a name repeated 100 times is one label, the last value" "$(jq -c .body.labels <<<"$r")" '[{"key":"a","value":"100"}]'
many=$(for i in $(seq 1 63); do printf 'l%d=v,' $i; done)
r=$(req POST "/api/0/profiles?service=lab&type=mutex&labels=$many" --data-binary @"$FIX/pprof/mutex-001.pb.gz")
expect_match "labels: more than 64 with service and type: 400" "$r" '^400 .*more than 64 labels'

# 17. clients as they send
r=$(curl -sS -H 'Content-Type:' -H 'User-Agent: Go-http-client/1.1' --data-binary @"$FIX/pprof/heap-001.pb.gz" "$URL/api/0/profiles?labels=&service=agent&type=heap")
expect "Go agent style (no Content-Type, labels=)" "$(jq -r .code <<<"$r")" 200
r=$(curl -sS -H 'Content-Type: application/octet-stream' --data-binary @"$FIX/pprof/goroutine-001.pb.gz" "$URL/api/0/profiles?service=kube&type=goroutine&instance_id=pod-1&labels=instance=x")
expect "kube-profefe style: instance_id becomes the instance label and wins" "$(jq -c .body.labels <<<"$r")" '[{"key":"instance","value":"pod-1"}]'
r=$(curl -sS -XPOST "$URL/api/0/profiles?service=imp&type=block&labels=k=v" --data-binary @"$FIX/pprof/block-001.pb.gz")
expect "pprof_import.sh style (urlencoded Content-Type)" "$(jq -r .code <<<"$r")" 200

# 18. services
expect "services: sorted" "$(req GET /api/0/services)" '200 {"code":200,"body":["agent","imp","kube","lab","svc1","svc2","svc3"]}'

# 19. other methods
expect "PUT /api/0/profiles: 200 with an empty body" "$(req PUT /api/0/profiles)" "200 "

# admin
expect "/-/healthy" "$(req GET /-/healthy | cut -c1-3)" 200
expect "/-/ready" "$(req GET /-/ready | cut -c1-3)" 200
m=$(curl -sS "$URL/metrics")
expect_match "metrics: requests by route and code" "$m" 'profefe_http_requests_total\{route="/api/0/profiles",method="POST",code="200"\} [0-9]+'
expect_match "metrics: profiles ingested" "$m" 'profefe_profiles_ingested_total [1-9][0-9]*'
if [ "$STORAGE" = clickhouse ]; then
	expect_match "metrics: ClickHouse inserts" "$m" 'profefe_clickhouse_inserts_total [1-9][0-9]*'
	expect_match "metrics: ClickHouse queue depth" "$m" 'profefe_clickhouse_queue_depth [0-9]+'
	expect_match "metrics: ClickHouse retries" "$m" 'profefe_clickhouse_insert_retries_total [0-9]+'
else
	expect_match "metrics: WAL fsyncs" "$m" 'profefe_tsdb_wal_fsyncs_total [1-9][0-9]*'
fi

stop_server

# body limit
start_server "$TMP/data2" -max-body-size 100KB || notok "server starts with -max-body-size"
r=$(req POST '/api/0/profiles?service=big&type=heap' --data-binary @"$FIX/pprof/heap-large-001.pb.gz")
expect_match "body over -max-body-size: 413" "$r" '^413 \{"code":413,"error":"request body larger than -max-body-size'
r=$(req POST '/api/0/profiles?service=big&type=heap' -H 'Transfer-Encoding: chunked' --data-binary @"$FIX/pprof/heap-large-001.pb.gz")
expect_match "chunked body over -max-body-size: 413" "$r" '^413 '
# /api/v1's bodies: the 413 in Prometheus's envelope, as their other errors
r=$(req POST '/api/v1/profiles?service=big&type=heap' --data-binary @"$FIX/pprof/heap-large-001.pb.gz")
expect "/api/v1/profiles: body over -max-body-size: 413 in /api/v1's envelope" "$r" \
	'413 {"status":"error","errorType":"bad_data","error":"request body larger than -max-body-size (102400 bytes)"}'
r=$(req POST '/api/v1/bundles' -H 'Transfer-Encoding: chunked' --data-binary @"$FIX/pprof/heap-large-001.pb.gz")
expect "/api/v1/bundles: chunked body over -max-body-size: 413 in /api/v1's envelope" "$r" \
	'413 {"status":"error","errorType":"bad_data","error":"request body larger than -max-body-size (102400 bytes)"}'
expect "nothing stored after 413" "$(req GET /api/0/services)" '404 {"code":404,"error":"nothing found"}'
r=$(req POST '/api/0/profiles?service=small&type=heap' --data-binary @"$FIX/pprof/heap-001.pb.gz")
expect "server still serves after 413" "${r:0:3}" 200
stop_server

finish
