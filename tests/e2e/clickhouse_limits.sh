#!/usr/bin/env bash
# Time limits on ClickHouse (-storage-type=clickhouse, issue 20).
# Retention: whole day partitions are dropped, so "time retention may keep
# up to one extra day".
#   - profiles pushed with -tsdb.retention 0 into five days (2026-11-20, -21,
#     -28, -29, -30): one day partition each in every table (system.parts);
#   - the server restarted with -tsdb.retention 40h: its first retention
#     round (at start) drops the days before the day of (newest - 40h) =
#     2026-11-28T12:00: the partitions of 11-20 and 11-21 are gone from every
#     table, their profiles from find and by id (404); the newer stay, read
#     back equal to what was pushed, including the one of 11-28T02:00, out
#     of the window by 10 h but in its day (the extra day);
#   - a push dated in a dropped day is refused, naming the window; the log
#     names the dropped days as dates;
#   - restarted with -tsdb.retention-size 1KB: by size, the oldest days go
#     (11-28, 11-29); the day of the newest profile (11-30) stays, over the cap.
# -query.timeout: each ClickHouse statement of a find or merge carries
# max_execution_time (the seconds left) and its transfer is cut at the
# deadline. With clickhouse-server paused (SIGSTOP) no answer can come, so
# a merge and a find with -query.timeout 300ms end at the deadline with the
# embedded store's error (503 "query timed out after -query.timeout"),
# counted as refused {reason="query_timeout"}, well before
# -clickhouse.timeout (30 s, which would be a 500 naming the connection).
# A client that hangs up (issue: ClickHouse queries did not stop): with
# clickhouse-server paused, a merge waits on its first statement; its
# client closes the connection once ClickHouse holds the statement unread
# (its socket's Recv-Q, ss). The API's cancel hook, asked by libcurl's
# progress callback, aborts the transfer: counted as refused
# {reason="query_canceled"} and logged as the embedded store's ("stopped
# after finding 0 profiles (... canceled while ClickHouse ran ...)"),
# all while ClickHouse is still paused (without the hook the worker waits
# for ClickHouse: no count until it runs again). Then ClickHouse resumes and
# the server answers as before, nothing stored changed. And a server
# stopped (SIGTERM) while a client waits on such a query exits 0 within
# 10 s, ClickHouse still paused (-clickhouse.timeout is 30 s).
# Waits on /metrics (retention rounds), never on a clock.
export PROFEFE_STORAGE=clickhouse
source "$(dirname "$0")/lib.bash"

P=$FIX/pprof
ALL='from=2000-01-01T00:00:00&to=2100-01-01T00:00:00'

# one profile per (file, time): heap-00N retimed to T (UTC)
mkdir -p "$TMP/in"
i=0
for t in 2026-11-20T12:00:00 2026-11-21T12:00:00 2026-11-28T02:00:00 2026-11-29T12:00:00 2026-11-30T12:00:00; do
	i=$((i + 1))
	mkdir -p "$TMP/r$i"
	"$TOOLS/pprof-retime" "$P/heap-00$((i + 1)).pb.gz" "$TMP/r$i" 1 "$(date -u -d "${t}Z" +%s)000000000" 1 &&
		mv "$TMP/r$i"/*.pb.gz "$TMP/in/$i.pb.gz" || { notok "retime heap-00$((i + 1)) to $t"; finish; }
done

data=$TMP/ret
start_server "$data" -tsdb.retention 0 || { notok "server starts on ClickHouse"; finish; }
db=
for f in "${SFLAGS[@]}"; do [[ $f == *database=* ]] && db=${f##*database=}; done # lib.bash's DSN
ids=()
for i in 1 2 3 4 5; do
	ids[i]=$(push "$TMP/in/$i.pb.gz" "service=ret&type=heap" | jq -r '.body.id // empty')
done
expect "five profiles pushed with -tsdb.retention 0" "$(printf '%s\n' "${ids[@]}" | grep -c .)" 5
parts() { # parts TABLE: its active partitions, one line
	ch_sql "SELECT DISTINCT partition FROM system.parts WHERE database = '$db' AND table = '$1' AND active ORDER BY partition FORMAT TSV" | paste -sd' '
}
all5="2026-11-20 2026-11-21 2026-11-28 2026-11-29 2026-11-30"
expect "profiles: one partition per day" "$(parts profiles)" "$all5"
expect "stacks: one partition per day" "$(parts stacks)" "$all5"
stop_server

start_server "$data" -tsdb.retention 40h || { notok "server restarts with -tsdb.retention 40h"; finish; }
check "a retention round runs at start" wait_metric profefe_clickhouse_retention_rounds_total -ge 1
expect "it dropped two days" "$(metric profefe_clickhouse_retention_dropped_days_total)" 2
expect "no retention round failed" "$(metric profefe_clickhouse_retention_failures_total)" 0
kept="2026-11-28 2026-11-29 2026-11-30"
for t in series profiles stacks locations functions mappings; do
	expect "$t: the partitions of 11-20 and 11-21 are dropped" "$(parts "$t")" "$kept"
done
expect "find returns the three newer profiles" \
	"$(curl -sS "$URL/api/0/profiles?service=ret&type=heap&$ALL" | jq -r '.body[].id' | sort | paste -sd' ')" \
	"$(printf '%s\n' "${ids[3]}" "${ids[4]}" "${ids[5]}" | sort | paste -sd' ')"
for i in 1 2; do
	expect "a dropped profile (day $i) is 404 by id" \
		"$(curl -sS -o /dev/null -w '%{http_code}' "$URL/api/0/profiles/${ids[i]}")" 404
done
for i in 3 4 5; do
	curl -sS -o "$TMP/got.pb.gz" "$URL/api/0/profiles/${ids[i]}"
	check "a kept profile (day $i) reads back equal to what was pushed$([ $i = 3 ] && echo '; 10 h out of the window, in its day')" \
		same_profile "$TMP/got.pb.gz" "$TMP/in/$i.pb.gz"
done
out=$(req POST "/api/0/profiles?service=ret&type=heap" --data-binary @"$TMP/in/2.pb.gz")
expect_match "a push dated in a dropped day is refused, naming the window" "$out" \
	'^4[0-9][0-9] .*before the retention window'
expect "the log names the dropped days as dates" \
	"$(sed -n 's/.*msg="clickhouse retention dropped a day" day=\([^ ]*\).*/\1/p' "$TMP/server.$SERVER_N.log" | paste -sd' ')" \
	"2026-11-20 2026-11-21"
stop_server

# -tsdb.retention-size on ClickHouse: the oldest days go until the parts'
# bytes (system.parts) are under the cap; the day of the newest profile
# stays, even over the cap
start_server "$data" -tsdb.retention 0 -tsdb.retention-size 1KB || { notok "server restarts with -tsdb.retention-size 1KB"; finish; }
check "a retention round runs at start (size)" wait_metric profefe_clickhouse_retention_rounds_total -ge 1
expect "by size it dropped the two older days" "$(metric profefe_clickhouse_retention_dropped_days_total)" 2
for t in profiles stacks; do
	expect "$t: only the newest day is left, over the cap" "$(parts "$t")" "2026-11-30"
done
expect "find returns the newest profile only" \
	"$(curl -sS "$URL/api/0/profiles?service=ret&type=heap&$ALL" | jq -r '.body[].id' | paste -sd' ')" "${ids[5]}"
stop_server

# ---- -query.timeout: ClickHouse paused, the deadline ends the query ----------
start_server "$data" -tsdb.retention 0 -query.timeout 300ms || { notok "server starts with -query.timeout 300ms"; finish; }
sigstop "$CH_PID"
out=$(req GET "/api/0/profiles/merge?service=ret&type=heap&$ALL")
out2=$(req GET "/api/0/profiles?service=ret&type=heap&$ALL")
kill -CONT "$CH_PID"
echo "# the merge's reply: ${out:0:300}"
expect_match "a merge while ClickHouse does not answer: 503 at -query.timeout" "$out" \
	'^503 .*query timed out after -query.timeout 300ms \(clickhouse http://127.0.0.1:[0-9]+/: .*'
expect_match "a find too" "$out2" '^503 .*query timed out after -query.timeout 300ms'
expect_match "counted as refused (query_timeout)" "$(curl -sS "$URL/metrics")" \
	'profefe_requests_refused_total\{reason="query_timeout"\} 2'
stop_server

# ---- a client that hangs up on a ClickHouse-backed merge ---------------------
start_server "$data" -tsdb.retention 0 -query.timeout 60s || { notok "server starts with -query.timeout 60s"; finish; }
canceled() { metric 'profefe_requests_refused_total{reason="query_canceled"}'; }
# whether ClickHouse holds a statement it has not read (Recv-Q of one of its
# connections): the query's transfer is in flight. Only a point to wait for
# before the hang-up (ss has missed it on a loaded machine): that the
# transfer was aborted in flight is the log line's "canceled while
# ClickHouse ran", checked below
ch_unread() { ss -Htn state established "( sport = :$CH_HTTP )" | awk '$1 > 0 {n++} END {exit !n}'; }
wait_unread() {
	for _ in $(seq 1 200); do ch_unread && return 0; sleep 0.05; done
	echo "# $1: no unread statement seen in ss after 10 s; going on"
}
ids0=$(curl -sS "$URL/api/0/profiles?service=ret&type=heap&$ALL" | jq -c '[.body[].id] | sort')
getcode() { curl -sS -o "$2" -w '%{http_code}' "$URL$1"; } # PATH FILE: status, body in FILE
merge0=$(getcode "/api/0/profiles/merge?service=ret&type=heap&$ALL" "$TMP/merge0.pb.gz")
expect "a merge of the three profiles kept: 200" "$merge0" 200
c0=$(canceled)
sigstop "$CH_PID"
if exec 3<>"/dev/tcp/127.0.0.1/$PORT"; then
	printf 'GET /api/0/profiles/merge?service=ret&type=heap&%s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$ALL" >&3
	wait_unread "the hung-up merge"
	exec 3>&-
else
	notok "connect to the server"
fi
t0=$(date +%s%N)
wait_metric 'profefe_requests_refused_total{reason="query_canceled"}' -gt "${c0:-0}"
c1=$(canceled)
echo "# counted $(( ($(date +%s%N) - t0) / 1000000 )) ms after the hang-up"
l=$(grep 'msg="query canceled"' "$TMP/server.$SERVER_N.log" | tail -1)
echo "# its log line: ${l:0:400}"
expect "a merge whose client hung up, ClickHouse still paused: one query_canceled refusal" \
	"$((${c1:-0} - ${c0:-0}))" 1
expect_match "... logged as stopped after finding 0 profiles, the transfer aborted" "$l" \
	'stopped after finding 0 profiles \(clickhouse http://127\.0\.0\.1:[0-9]+/: canceled while ClickHouse ran .{0,2}SELECT series_id'
kill -CONT "$CH_PID"
expect "ClickHouse running again: a merge whose client waits is answered as before, not canceled" \
	"$(getcode "/api/0/profiles/merge?service=ret&type=heap&$ALL" "$TMP/merge1.pb.gz")/$(canceled)" "200/$c1"
check "... the same profile" same_profile "$TMP/merge1.pb.gz" "$TMP/merge0.pb.gz"
expect "... and find lists what it listed before" \
	"$(curl -sS "$URL/api/0/profiles?service=ret&type=heap&$ALL" | jq -c '[.body[].id] | sort')" "$ids0"

# ---- the server stopped while a client waits on a ClickHouse-backed query ----
sigstop "$CH_PID"
curl -sS -o /dev/null --max-time 60 "$URL/api/0/profiles/merge?service=ret&type=heap&$ALL" 2>/dev/null &
cpid=$!
wait_unread "the waiting merge"
server_cpu
kill -TERM "$PID"
gone=
for _ in $(seq 1 200); do
	kill -0 "$PID" 2>/dev/null || { gone=1; break; }
	sleep 0.05
done
kill -CONT "$CH_PID"
expect "SIGTERM with a merge waiting on the paused ClickHouse: the server exits within 10 s" "${gone:-still running}" 1
wait "$PID"
expect "... with 0" "$?" 0
PID=
wait "$cpid" 2>/dev/null
expect_match "... the merge logged as canceled" \
	"$(grep 'msg="query canceled"' "$TMP/server.$SERVER_N.log" | tail -1)" 'canceled while ClickHouse ran'
finish
