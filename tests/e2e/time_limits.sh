#!/usr/bin/env bash
# Profile times outside what the store keeps are refused (SPEC 10.1): one
# dated more than -tsdb.max-future after the server's clock (by created_at
# or by its own time_nanos), and one older than the retention window, each
# with a 400 that names the times and the limit. Time retention counts back
# from min(newest profile, now + max-future), so a store that already holds
# a 2262 profile keeps everything else. Maintenance runs every second (block
# duration 4 s); the script waits on profefe_tsdb_maintenance_rounds_total.
source "$(dirname "$0")/lib.bash"

# bodies: heap-001 without time_nanos, and with time_nanos in 2262
y2262=$(date -u -d 2262-04-11T00:00:00Z +%s)
mkdir -p "$TMP/notime" "$TMP/future"
"$TOOLS/pprof-retime" "$FIX/pprof/heap-001.pb.gz" "$TMP/notime" 1 0 0 &&
	"$TOOLS/pprof-retime" "$FIX/pprof/heap-001.pb.gz" "$TMP/future" 1 "${y2262}000000000" 0 ||
	{ notok "retime heap-001"; finish; }
expect "the body without time_nanos has none" "$("$TOOLS/pprof-info" "$TMP/notime/000000.pb.gz" | grep -o 'time=[0-9]*')" "time=0"
expect "the 2262 body has time_nanos in 2262" "$("$TOOLS/pprof-info" "$TMP/future/000000.pb.gz" | grep -o 'time=[0-9]*')" "time=${y2262}000000000"

metric() { curl -sS "$URL/metrics" | sed -n "s/^$1 \([0-9]*\)$/\1/p"; }
# wait_rounds N: until N more maintenance rounds (each ends with retention)
# have run; at most 60 s (a hang guard, nothing is timed)
wait_rounds() {
	local want=$(($(metric profefe_tsdb_maintenance_rounds_total) + $1)) i
	for i in $(seq 1 600); do
		[ "$(metric profefe_tsdb_maintenance_rounds_total)" -ge $want ] && return 0
		sleep 0.1
	done
	return 1
}
ALL='from=1900-01-01T00:00:00&to=2262-04-11T23:00:00'
count() { curl -sS "$URL/api/0/profiles?service=$1&$ALL" | jq '.body | length'; }
push_shop() {
	local n=0 i
	for i in 01 02 03 04 05 06 07 08 09 10; do
		[ "$(push "$FIX/pprof/heap-0$i.pb.gz" "service=shop&type=heap" | jq -r .code)" = 200 ] && n=$((n + 1))
	done
	echo $n
}
FUTURE_RE='^400 \{"code":400,"error":"bad request: profile time 2262-04-11T00:00:00Z is more than -tsdb.max-future 10m after the server'"'"'s time [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"\}$'

# ---- the issue's reproduction, default retention and max-future ----------
start_server "$TMP/data" -tsdb.block-duration 4s || { notok "server starts"; finish; }
expect "10 shop heap profiles pushed" "$(push_shop)" 10
expect_match "created_at=2262 on a body without time_nanos: 400 naming both times and the limit" \
	"$(req POST '/api/0/profiles?service=evil&type=heap&created_at=2262-04-11T00:00:00' --data-binary @"$TMP/notime/000000.pb.gz")" "$FUTURE_RE"
expect_match "time_nanos in 2262: 400 naming both times and the limit" \
	"$(req POST '/api/0/profiles?service=evil&type=heap' --data-binary @"$TMP/future/000000.pb.gz")" "$FUTURE_RE"
expect_match "a trace with created_at=2262: 400" \
	"$(req POST '/api/0/profiles?service=evil&type=trace&created_at=2262-04-11T00:00:00' --data-binary @"$FIX/pprof/trace-001.out")" "$FUTURE_RE"
expect "refusals counted: reason future" "$(metric 'profefe_requests_refused_total{reason="future"}')" 3
expect "nothing of evil stored" "$(req GET "/api/0/profiles?service=evil&$ALL")" '404 {"code":404,"error":"nothing found"}'
check "three maintenance rounds run" wait_rounds 3
expect "shop's 10 profiles are still found after the rounds" "$(count shop)" 10
expect "services: shop only" "$(curl -sS "$URL/api/0/services" | jq -c .body)" '["shop"]'
check "shop's profiles were cut into blocks ($(metric profefe_tsdb_head_cuts_total) cuts)" test "$(metric profefe_tsdb_head_cuts_total)" -ge 1
expect "no block dropped by retention" "$(metric profefe_tsdb_retention_drops_total)" 0

# ---- too old: before the retention window (15d before heap-010's time) ----
expect "created_at 15 days before the newest: 400 naming the window" \
	"$(req POST '/api/0/profiles?service=late&type=heap&created_at=2026-11-07T13:06:00' --data-binary @"$TMP/notime/000000.pb.gz")" \
	'400 {"code":400,"error":"bad request: profile time 2026-11-07T13:06:00Z is before the retention window, which starts at 2026-11-07T13:06:17Z (-tsdb.retention 15d before 2026-11-22T13:06:17Z, the newest profile'"'"'s time)"}'
expect "refusals counted: reason too_old" "$(metric 'profefe_requests_refused_total{reason="too_old"}')" 1
expect "a profile just inside the window: 200" \
	"$(push "$TMP/notime/000000.pb.gz" "service=late&type=heap&created_at=2026-11-07T13:06:30" | jq -c '[.code, .body.created_at]')" \
	'[200,"2026-11-07T13:06:30Z"]'
check "a round after it" wait_rounds 2
expect "the profile inside the window is kept" "$(count late)" 1
stop_server

# ---- a store that already holds a 2262 profile ------------------------------
# shop's profiles are dated now (heap-001 retimed: 10 profiles from 10 min
# ago, 1 s apart), the 2262 profile is written with a far -tsdb.max-future,
# then the store is opened with the defaults (360h, 10m)
mkdir -p "$TMP/now"
"$TOOLS/pprof-retime" "$FIX/pprof/heap-001.pb.gz" "$TMP/now" 10 "$(($(date +%s) - 600))000000000" 1000000000 ||
	{ notok "retime heap-001 to now"; finish; }
start_server "$TMP/data2" -tsdb.block-duration 4s -tsdb.max-future 240y -tsdb.retention 0 ||
	{ notok "server starts with -tsdb.max-future 240y"; finish; }
n=0
for f in "$TMP"/now/*.pb.gz; do
	[ "$(push "$f" "service=shop&type=heap" | jq -r .code)" = 200 ] && n=$((n + 1))
done
expect "10 shop heap profiles of now pushed" "$n" 10
expect "with -tsdb.max-future 240y the 2262 profile is accepted" \
	"$(push "$TMP/notime/000000.pb.gz" "service=evil&type=heap&created_at=2262-04-11T00:00:00" | jq -c '[.code, .body.created_at]')" \
	'[200,"2262-04-11T00:00:00Z"]'
stop_server
start_server "$TMP/data2" -tsdb.block-duration 4s || { notok "server restarts with the defaults"; finish; }
check "three maintenance rounds run" wait_rounds 3
expect "shop's 10 profiles survive retention" "$(count shop)" 10
expect "the 2262 profile is still there" "$(count evil)" 1
expect "no block dropped by retention" "$(metric profefe_tsdb_retention_drops_total)" 0
expect_match "a new 2262 push is refused" \
	"$(req POST '/api/0/profiles?service=evil&type=heap&created_at=2262-04-11T00:00:00' --data-binary @"$TMP/notime/000000.pb.gz")" "$FUTURE_RE"
expect "a trace pushed now (no created_at): 200" "$(push "$FIX/pprof/trace-001.out" "service=shop&type=trace" | jq -r .code)" 200
expect_match "too old counts back from now + max-future, not from 2262" \
	"$(req POST '/api/0/profiles?service=late&type=heap&created_at=1926-01-01T00:00:00' --data-binary @"$TMP/notime/000000.pb.gz")" \
	'^400 \{"code":400,"error":"bad request: profile time 1926-01-01T00:00:00Z is before the retention window, which starts at 2[0-9]{3}-[^ ]* \(-tsdb.retention 15d before 2[0-9]{3}-[^ ]*, the server'"'"'s time plus -tsdb.max-future\)"\}$'
stop_server
start_server "$TMP/data2" -tsdb.block-duration 4s || { notok "server restarts again"; finish; }
expect "after a restart: shop's 10 heap profiles and the trace" "$(count shop)" 11
stop_server
# without the cap (-tsdb.max-future 0: no limit) retention counts back from
# 2262, as before: the same store loses shop; this shows what the cap prevents
start_server "$TMP/data2" -tsdb.block-duration 4s -tsdb.max-future 0 ||
	{ notok "server starts with -tsdb.max-future 0"; finish; }
expect "-tsdb.max-future 0: shop dropped by retention counted from 2262" "$(req GET "/api/0/profiles?service=shop&$ALL")" '404 {"code":404,"error":"nothing found"}'
check "blocks dropped by retention at open" test "$(metric profefe_tsdb_retention_drops_total)" -ge 1

expect "a bad -tsdb.max-future: exit 2" "$("$PROFEFE_BIN" -tsdb.dir "$TMP/data3" -tsdb.max-future 10x >/dev/null 2>"$TMP/err"; echo $?)" 2
expect_match "it names the flag" "$(cat "$TMP/err")" 'invalid -tsdb.max-future "10x"'
finish
