#!/usr/bin/env bash
# Retention against the real binary (SPEC 10.1):
# 1. time retention drops old profiles (from blocks and from the head); the
#    WAL is checkpointed at that round, so the disk shrinks then, and after
#    kill -9 a restart without any retention still finds none of them while
#    every kept one is there;
# 2. a -tsdb.retention-size below the WAL's size: the head is cut early
#    rather than every block dropped; du -sb of the data directory is under
#    the cap after the next round, after kill -9 and a restart, and after a
#    clean stop; the newest profiles stay fetchable.
# The test waits on /metrics (rounds, drops, checkpoints), never on a clock.
source "$(dirname "$0")/lib.bash"

start=$(date -u -d 2026-11-22T00:00:00Z +%s)
ALL='from=2000-01-01T00:00:00&to=2100-01-01T00:00:00'

# (metric and wait_metric: lib.bash; the waits here allow 60 s)
# wait_rounds N: N more maintenance rounds from now (the first may have
# started before the call, the last starts after).
wait_rounds() {
	local r
	r=$(metric profefe_tsdb_maintenance_rounds_total)
	wait_metric profefe_tsdb_maintenance_rounds_total -ge $((${r:-0} + $1)) 600
}
# push_dir DIR SERVICE OUT: push every file of DIR, "id file" lines to OUT
push_dir() {
	local f r
	: >"$3"
	for f in "$1"/*.pb.gz; do
		r=$(push "$f" "service=$2&type=heap")
		[[ $r =~ \"id\":\"([A-Za-z0-9]+)\" ]] || { echo "#   push $f: $r"; return 1; }
		echo "${BASH_REMATCH[1]} $f" >>"$3"
	done
}
found_ids() { # found_ids SERVICE: sorted ids find returns
	curl -sS "$URL/api/0/profiles?service=$1&$ALL" | jq -r '.body[]?.id' | sort
}
range_ids() { # range_ids SERVICE: sorted ids query_range returns
	curl -sSG "$URL/api/v1/query_range" --data-urlencode "query=heap{service=\"$1\"}" |
		jq -r '.data[].samples[].id' | sort
}
# gone_count IDS_FILE: how many of the ids get 404 on fetch
gone_count() {
	local n=0 id
	while read -r id _; do
		[ "$(curl -sS -o /dev/null -w '%{http_code}' "$URL/api/0/profiles/$id")" = 404 ] && n=$((n + 1))
	done <"$1"
	echo $n
}
# intact_count IDS_FILE: how many read back equal to their file
intact_count() {
	local n=0 id f
	while read -r id f; do
		curl -sS -o "$TMP/got" "$URL/api/0/profiles/$id"
		same_profile "$TMP/got" "$f" && n=$((n + 1))
	done <"$1"
	echo $n
}
blocks_in() { find "$1/blocks" -mindepth 1 -maxdepth 1 -type d ! -name '*.tmp*' | wc -l; }

# ---- 1. time retention, kill -9, restart ------------------------------------
mkdir -p "$TMP/old" "$TMP/young"
# 30 old profiles 0.2 s apart (6 s: cut into 2 s blocks as they come, the
# last ones still in the head), 10 young ones 2 h later (1.8 s: all in the head)
"$TOOLS/pprof-retime" "$FIX/pprof/heap-002.pb.gz" "$TMP/old" 30 "${start}000000000" 200000000 &&
"$TOOLS/pprof-retime" "$FIX/pprof/heap-003.pb.gz" "$TMP/young" 10 "$((start + 7200))000000000" 200000000 ||
	{ notok "retime fixtures"; finish; }
data=$TMP/data1
flags=(-tsdb.retention 1h -tsdb.block-duration 2s)
start_server "$data" "${flags[@]}" || { notok "server starts"; finish; }
check "30 old profiles pushed" push_dir "$TMP/old" ret "$TMP/old.ids"
check "old profiles cut into blocks" wait_metric profefe_tsdb_head_cuts_total -ge 1 600
check "10 young profiles pushed (2 h later)" push_dir "$TMP/young" ret "$TMP/young.ids"
check "retention drops all 30 old profiles" wait_metric profefe_tsdb_retention_dropped_profiles_total -eq 30 600
check "a WAL checkpoint was written" wait_metric profefe_tsdb_checkpoint_creations_total -ge 1 600
expect "checkpoint failures" "$(metric profefe_tsdb_checkpoint_creations_failed_total)" 0
cut -d' ' -f1 "$TMP/young.ids" | sort >"$TMP/young.sorted"
expect "find returns the young profiles only" "$(found_ids ret | tr '\n' ' ')" "$(tr '\n' ' ' <"$TMP/young.sorted")"
expect "every old id is 404" "$(gone_count "$TMP/old.ids")" 30
# the disk shrank at that round: no block left (the young ones are in the
# head), and the WAL holds the young records and nothing more
expect "no block left after the drop" "$(blocks_in "$data")" 0
young_bytes=$(cat "$TMP"/young/*.pb.gz | wc -c)
old_bytes=$(cat "$TMP"/old/*.pb.gz | wc -c)
wal_du=$(du -sb "$data/wal" | cut -f1)
echo "# WAL $wal_du bytes; young bodies $young_bytes, old bodies $old_bytes"
check "the WAL holds the young profiles, not the old ones" test "$wal_du" -le $((young_bytes + 8192 + 10 * 512))
check "a checkpoint file is in the WAL" compgen -G "$data/wal/checkpoint.*"
kill9_server
# without any retention: whatever the WAL held would come back now
start_server "$data" -tsdb.retention 0 -tsdb.block-duration 2s || { notok "restart after kill -9"; finish; }
expect "after kill -9: find returns the young profiles only" "$(found_ids ret | tr '\n' ' ')" "$(tr '\n' ' ' <"$TMP/young.sorted")"
expect "after kill -9: query_range returns the young profiles only" "$(range_ids ret | tr '\n' ' ')" "$(tr '\n' ' ' <"$TMP/young.sorted")"
expect "after kill -9: every old id is 404" "$(gone_count "$TMP/old.ids")" 30
expect "after kill -9: every young profile reads back intact" "$(intact_count "$TMP/young.ids")" 10
expect "after kill -9: the WAL replayed the 10 young records, no more" \
	"$(curl -sS "$URL/api/v1/status/tsdb" | jq .data.wal.replayed)" 10
stop_server
start_server "$data" "${flags[@]}" || { notok "restart after a clean stop"; finish; }
expect "after a clean stop: find returns the young profiles only" "$(found_ids ret | tr '\n' ' ')" "$(tr '\n' ' ' <"$TMP/young.sorted")"
expect "after a clean stop: nothing replayed" "$(curl -sS "$URL/api/v1/status/tsdb" | jq .data.wal.replayed)" 0
stop_server

# ---- 2. a size cap below the WAL's size ---------------------------------------
mkdir -p "$TMP/s1" "$TMP/s2"
# 40 + 40 profiles 0.25 s apart in two 10 s spans: with 20 s blocks the head
# is never cut on its own (1.5 blocks = 30 s)
"$TOOLS/pprof-retime" "$FIX/pprof/heap-004.pb.gz" "$TMP/s1" 40 "$((start + 86400))000000000" 250000000 &&
"$TOOLS/pprof-retime" "$FIX/pprof/heap-005.pb.gz" "$TMP/s2" 40 "$((start + 86410))000000000" 250000000 ||
	{ notok "retime fixtures"; finish; }
cap=$((400 * 1024))
data=$TMP/data2
flags=(-tsdb.retention 0 -tsdb.block-duration 20s -tsdb.retention-size 400KB)
s1_bytes=$(cat "$TMP"/s1/*.pb.gz | wc -c)
check "setup: one push batch is larger than the cap ($s1_bytes > $cap)" test "$s1_bytes" -gt "$cap"
# the WAL over the cap while no maintenance runs: the server is stopped
# by kill -9 before its first round would see it
start_server "$data" -tsdb.retention 0 -tsdb.block-duration 20s || { notok "server starts"; finish; }
check "first batch pushed" push_dir "$TMP/s1" cap "$TMP/s1.ids"
kill9_server
wal_du=$(du -sb "$data/wal" | cut -f1)
check "setup: the WAL ($wal_du bytes) is over the cap" test "$wal_du" -gt "$cap"
start_server "$data" "${flags[@]}" || { notok "restart with the cap"; finish; }
du1=$(du -sb "$data" | cut -f1)
check "after the open's round: du -sb $du1 <= cap $cap" test "$du1" -le "$cap"
check "the head was cut early (blocks kept)" test "$(blocks_in "$data")" -ge 1
expect "every profile of the first batch is still there" "$(found_ids cap | wc -l)" 40
# the same while running: the next round cuts the head early again
check "second batch pushed" push_dir "$TMP/s2" cap "$TMP/s2.ids"
check "two more maintenance rounds" wait_rounds 2
du2=$(du -sb "$data" | cut -f1)
check "after the next round: du -sb $du2 <= cap $cap" test "$du2" -le "$cap"
check "a WAL checkpoint was written" wait_metric profefe_tsdb_checkpoint_creations_total -ge 1 600
check "the log says the head was cut early" grep -q 'msg="head cut early' "$TMP"/server.*.log
tail -10 "$TMP/s2.ids" >"$TMP/newest.ids"
expect "the 10 newest profiles read back intact" "$(intact_count "$TMP/newest.ids")" 10
kill9_server
start_server "$data" "${flags[@]}" || { notok "restart after kill -9"; finish; }
du3=$(du -sb "$data" | cut -f1)
check "after kill -9 and a restart: du -sb $du3 <= cap $cap" test "$du3" -le "$cap"
expect "after the restart: the 10 newest profiles read back intact" "$(intact_count "$TMP/newest.ids")" 10
stop_server
du4=$(du -sb "$data" | cut -f1)
check "after a clean stop: du -sb $du4 <= cap $cap" test "$du4" -le "$cap"

# ---- 3. kill -9 at random moments while retention drops and checkpoints ----
# Four clients push a series 0.1 s apart under a 3 s retention and 1 s
# blocks (a round every 250 ms drops, checkpoints, cuts), each one curl
# process over a kept-alive connection (push_list); the kill comes 0.2 to
# 1 s after the round's first acknowledged push. After each kill -9 and
# restart: a profile once found gone never comes back, and every
# acknowledged profile within the retention of the newest is there.
ROUNDS=${RETENTION_CRASH_ROUNDS:-5}
N=$((ROUNDS * 600))
mkdir -p "$TMP/c"
# files 0..made-1 exist; make_files K makes them up to K (a round pushes a
# few hundred at most: made as the rounds need them)
made=0
make_files() {
	local upto=$(($1 < N ? $1 : N))
	[ "$upto" -gt "$made" ] || return 0
	"$TOOLS/pprof-retime" "$FIX/pprof/heap-001.pb.gz" "$TMP/c" "$upto" "$((start + 2 * 86400))000000000" 100000000 "$made" ||
		{ notok "retime fixtures"; finish; }
	made=$upto
}
data=$TMP/data3
flags=(-tsdb.retention 3s -tsdb.block-duration 1s)
: >"$TMP/gone"
next=0
pusher() { # files next+k, next+k+4, ... below made: "id index file" for every 200
	local k=$1 i code id f
	while read -r code id f; do
		i=${f##*/}
		i=$((10#${i%.pb.gz}))
		[ "$code" = 200 ] && [ "$id" != - ] && echo "$id $i $f" >>"$TMP/cacked.$k"
	done < <(for ((i = next + k; i < made; i += 4)); do
		printf '%s/c/%06d.pb.gz service=churn&type=heap\n' "$TMP" "$i"
	done | push_list "max-time = 10")
}
back_total=0 missing_total=0
for ((round = 1; round <= ROUNDS; round++)); do
	start_server "$data" "${flags[@]}" || { notok "churn round $round: server starts"; break; }
	make_files $((next + 400))
	pids=()
	before=$(cat "$TMP"/cacked.* 2>/dev/null | wc -l)
	for k in 0 1 2 3; do pusher $k & pids+=($!); done
	# the random moment counts from the round's first acknowledged push
	for _ in $(seq 1 200); do
		[ "$(cat "$TMP"/cacked.* 2>/dev/null | wc -l)" -gt "$before" ] && break
		sleep 0.05
	done
	sleep "$(awk -v r=$RANDOM 'BEGIN{printf "%.2f", 0.2 + (r % 80) / 100}')"
	kill9_server
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	cat "$TMP"/cacked.* 2>/dev/null | sort -k2,2n >"$TMP/cacked"
	max=$(tail -1 "$TMP/cacked" | cut -d' ' -f2)
	next=$((max + 5))
	start_server "$data" "${flags[@]}" || { notok "churn round $round: restart after kill -9"; break; }
	found_ids churn >"$TMP/cfound"
	back=$(sort "$TMP/gone" | comm -12 - "$TMP/cfound" | wc -l)
	# the newest stored may be up to 8 unacknowledged pushes past max: the
	# retention window (30 steps) then starts at most at max - 22
	awk -v m="$max" '$2 >= m - 20 {print $1}' "$TMP/cacked" | sort >"$TMP/mustkeep"
	missing=$(comm -23 "$TMP/mustkeep" "$TMP/cfound" | wc -l)
	cut -d' ' -f1 "$TMP/cacked" | sort | comm -23 - "$TMP/cfound" >"$TMP/gone"
	echo "# churn round $round: $(wc -l <"$TMP/cacked") acknowledged, $(wc -l <"$TMP/cfound") found, $(wc -l <"$TMP/gone") gone, $back came back, $missing missing"
	back_total=$((back_total + back))
	missing_total=$((missing_total + missing))
	kill9_server
done
expect "over $ROUNDS kill -9 rounds: dropped profiles that came back" "$back_total" 0
expect "over $ROUNDS kill -9 rounds: kept profiles missing" "$missing_total" 0
check "retention dropped profiles during the rounds" test -s "$TMP/gone"
echo "# $(cat "$TMP"/server.*.log | grep -c 'msg="WAL checkpoint written') x WAL checkpoint written"
check "checkpoints were written during the rounds" grep -q 'msg="WAL checkpoint written' "$TMP"/server.*.log
[ -n "${KEEP_LOGS:-}" ] && cp "$TMP"/server.*.log "$KEEP_LOGS"/
finish
