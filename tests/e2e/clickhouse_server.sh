#!/usr/bin/env bash
# profefe servers on one ClickHouse (-storage-type=clickhouse, issue 20):
#   - two servers A and B on one database: a profile pushed to A is fetched
#     by id, found and merged through B, pprof-level equal to what was
#     pushed; a merge over both servers' pushes equals go tool pprof -top of
#     the same files; the same file pushed to A and to B gets two ids, both
#     fetchable from either;
#   - a full writer queue (-clickhouse.queue-size 1, ClickHouse stopped
#     with SIGSTOP so the writer waits): the push is a 503 in profefe's
#     JSON envelope, counted in profefe_requests_refused_total
#     {reason="store_queue_full"}; the pushes that were queued are stored
#     once ClickHouse runs again (SIGCONT);
#   - /metrics has the writer's queue depth, retries and insert time;
#   - ClickHouse stopped: a push is a 503 (after the writer's retries),
#     counted as store_unavailable; what was acknowledged stays, and pushes
#     are acknowledged again once it is back;
#   - a node killed with -9 loses nothing it acknowledged.
# A real clickhouse-server on loopback (tests/e2e/clickhouse.bash).
export PROFEFE_STORAGE=clickhouse
source "$(dirname "$0")/lib.bash"

P=$FIX/pprof
F='from=2026-11-22T00:00:00&to=2026-11-23T00:00:00'
after_duration() { sed -n '/^Duration/,$p'; }

# ---- two servers, one database (the same DATADIR: the same database)
start_server "$TMP/shared" || { notok "server A starts on ClickHouse"; finish; }
PID_A=$PID URL_A=$URL
start_server "$TMP/shared" || { notok "server B starts on ClickHouse"; PID=$PID_A; finish; }
PID_B=$PID URL_B=$URL
ok "two servers started on one ClickHouse database"

URL=$URL_A
ida=$(push "$P/cpu-001.pb.gz" "service=two&type=cpu&labels=node=a" | jq -r '.body.id // empty')
URL=$URL_B
idb=$(push "$P/cpu-002.pb.gz" "service=two&type=cpu&labels=node=b" | jq -r '.body.id // empty')
expect "pushes to A and B acknowledged with ids" "${#ida}/${#idb}" "27/27"

URL=$URL_B
curl -sS -o "$TMP/a-via-b.pb.gz" "$URL_B/api/0/profiles/$ida"
check "A's profile fetched by id through B equals what was pushed (pprof level)" \
	same_profile "$TMP/a-via-b.pb.gz" "$P/cpu-001.pb.gz"
curl -sS -o "$TMP/b-via-a.pb.gz" "$URL_A/api/0/profiles/$idb"
check "B's profile fetched by id through A equals what was pushed (pprof level)" \
	same_profile "$TMP/b-via-a.pb.gz" "$P/cpu-002.pb.gz"
expect "find through B lists both servers' profiles" \
	"$(curl -sS "$URL_B/api/0/profiles?service=two&type=cpu&$F" | jq -c '[.body[].id] | sort')" \
	"$(jq -nc --arg a "$ida" --arg b "$idb" '[$a, $b] | sort')"
expect "find through A lists both too" \
	"$(curl -sS "$URL_A/api/0/profiles?service=two&type=cpu&$F" | jq -c '[.body[].id] | sort')" \
	"$(jq -nc --arg a "$ida" --arg b "$idb" '[$a, $b] | sort')"
expect_pprof "merge through B of both servers' pushes: go tool pprof -top equals -top of the two files" \
	after_duration \
	-top -nodecount=1000000 "$URL_B/api/0/profiles/merge?service=two&type=cpu&$F" -- \
	-top -nodecount=1000000 "$P/cpu-001.pb.gz" "$P/cpu-002.pb.gz"
curl -sS -o "$TMP/one.pb.gz" "$URL_B/api/0/profiles/merge?service=two&type=cpu&$F&labels=node=a"
check "merge through B of A's one profile equals it (pprof level)" same_profile "$TMP/one.pb.gz" "$P/cpu-001.pb.gz"

URL=$URL_A
s1=$(push "$P/heap-001.pb.gz" "service=same&type=heap" | jq -r '.body.id // empty')
URL=$URL_B
s2=$(push "$P/heap-001.pb.gz" "service=same&type=heap" | jq -r '.body.id // empty')
expect "the same file pushed to A and to B gets two ids" "$([ -n "$s1" ] && [ -n "$s2" ] && [ "$s1" != "$s2" ] && echo two)" two
n=0
for id in "$s1" "$s2"; do
	for u in "$URL_A" "$URL_B"; do
		curl -sS -o "$TMP/s.pb.gz" "$u/api/0/profiles/$id"
		same_profile "$TMP/s.pb.gz" "$P/heap-001.pb.gz" && n=$((n + 1))
	done
done
expect "both ids fetchable from either server" "$n" 4
expect "/api/v1/series through A sees B's series" \
	"$(curl -sG "$URL_A/api/v1/series" --data-urlencode 'match[]={service="two"}' | jq -c '[.data[].node] | sort')" \
	'["a","b"]'

m=$(curl -sS "$URL_A/metrics")
expect_match "metrics: queue depth" "$m" 'profefe_clickhouse_queue_depth [0-9]+'
expect_match "metrics: inserts and insert time" "$m" 'profefe_clickhouse_insert_seconds_total [0-9.]+'
expect_match "metrics: retries" "$m" 'profefe_clickhouse_insert_retries_total [0-9]+'
expect "metrics: no tsdb figures on ClickHouse" "$(grep -c '^profefe_tsdb_' <<<"$m")" 0
st=$(curl -sS "$URL_B/api/v1/status/tsdb")
expect "status/tsdb through B: storage, series and profiles of both servers" \
	"$(jq -c '.data | [.storage, .series, .profiles]' <<<"$st")" '["clickhouse",3,4]'

kill -TERM "$PID_B"; wait "$PID_B"; expect "server B exits 0" "$?" 0
PID=$PID_A
stop_server

# ---- a full queue: 503, counted; what was queued is stored afterwards
start_server "$TMP/q" -clickhouse.queue-size 1 || { notok "server with -clickhouse.queue-size 1 starts"; finish; }
sigstop "$CH_PID"
pids=()
for i in 1 2; do
	curl -sS -o "$TMP/bg.$i" --max-time 60 --data-binary @"$P/heap-001.pb.gz" \
		"$URL/api/0/profiles?service=q&type=heap&labels=i=$i" &
	pids+=($!)
	sleep 0.5
done
r=$(req POST '/api/0/profiles?service=q&type=heap&labels=i=3' --data-binary @"$P/heap-001.pb.gz")
kill -CONT "$CH_PID"
expect_match "a push past the full queue: 503 in the JSON envelope naming the queue" "$r" \
	'^503 \{"code":503,"error":"service unavailable \(the ClickHouse write queue is full \(1 profiles waiting\): try again later\)"\}$'
for p in "${pids[@]}"; do wait "$p"; done
expect "the pushes that were queued are acknowledged once ClickHouse runs again" \
	"$(cat "$TMP/bg.1" "$TMP/bg.2" | jq -r '.code' | tr '\n' ' ')" "200 200 "
expect "...and stored" \
	"$(curl -sS "$URL/api/0/profiles?service=q&type=heap&$F" | jq -c '[.body[].labels[] | select(.key == "i") | .value] | sort')" '["1","2"]'
m=$(curl -sS "$URL/metrics")
expect_match "the refusal is counted: store_queue_full" "$m" 'profefe_requests_refused_total\{reason="store_queue_full"\} 1'
expect_match "...and in the writer's figures" "$m" 'profefe_clickhouse_queue_full_total 1'
stop_server

# ---- ClickHouse stopped mid-stream: 503 after the writer's retries,
# nothing acknowledged lost, writes resume when it is back
start_server "$TMP/down" || { notok "server starts"; finish; }
r=$(push "$P/heap-001.pb.gz" "service=down&type=heap&labels=n=1")
before=$(jq -r '.body.id // empty' <<<"$r")
ch_stop
r=$(req POST '/api/0/profiles?service=down&type=heap&labels=n=2' --data-binary @"$P/heap-001.pb.gz")
expect_match "ClickHouse stopped: the push is a 503 naming ClickHouse's error" "$r" \
	'^503 \{"code":503,"error":"service unavailable \(.*clickhouse http://127\.0\.0\.1:[0-9]+/: .*\)"\}$'
expect_match "...counted as store_unavailable" "$(curl -sS "$URL/metrics")" \
	'profefe_requests_refused_total\{reason="store_unavailable"\} 1'
ch__launch || notok "clickhouse-server starts again"
r=$(push "$P/heap-002.pb.gz" "service=down&type=heap&labels=n=3")
after=$(jq -r '.body.id // empty' <<<"$r")
expect "ClickHouse back: pushes are acknowledged again" "$(jq -r .code <<<"$r")" 200
expect "what was acknowledged before the stop and after it is there, the refused push is not" \
	"$(curl -sS "$URL/api/0/profiles?service=down&type=heap&$F" | jq -c '[.body[].labels[] | select(.key == "n") | .value] | sort')" '["1","3"]'
curl -sS -o "$TMP/before.pb.gz" "$URL/api/0/profiles/$before"
check "the profile acknowledged before the stop equals what was pushed" same_profile "$TMP/before.pb.gz" "$P/heap-001.pb.gz"

# ---- a node killed with -9 loses nothing it acknowledged
ids=()
for i in 1 2 3 4 5; do
	ids+=("$(push "$P/heap-00$i.pb.gz" "service=k9&type=heap" | jq -r '.body.id // empty')")
done
kill9_server
start_server "$TMP/down" || { notok "server restarts after kill -9"; finish; }
n=0
for i in 1 2 3 4 5; do
	curl -sS -o "$TMP/k.pb.gz" "$URL/api/0/profiles/${ids[$((i - 1))]}"
	same_profile "$TMP/k.pb.gz" "$P/heap-00$i.pb.gz" && n=$((n + 1))
done
expect "after kill -9: every acknowledged push is there, equal to what was pushed" "$n" 5
stop_server

finish
