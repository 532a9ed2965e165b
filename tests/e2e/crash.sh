#!/usr/bin/env bash
# Crash safety: 20 times, kill -9 the server at a random moment (0.1 to
# 0.5 s after the round's first acknowledged push) while four clients push (each one curl process over a
# kept-alive connection; profiles 0.1 s apart, so a round spans blocks) and the store cuts 2 s blocks, compacts and deletes WAL
# segments; restart it and check that every profile it acknowledged, in
# this round and every earlier one, is found by find, that 25 of them
# picked at random read back intact, and that a merge of everything found
# decodes (nothing returned is corrupt). When no round lived until the
# store cut its head into a block, the last round waits for a cut before
# its kill. CRASH_ROUNDS changes the 20 (make test runs 5 under the
# sanitizers, 20 as built).
source "$(dirname "$0")/lib.bash"

ROUNDS=${CRASH_ROUNDS:-20}
N=2000
start=$(date -u -d 2026-11-22T00:00:00Z +%s)
mkdir -p "$TMP/heap" "$TMP/allocs"
# files 0..made-1 of each series exist; make_files K makes them up to K
# (a round pushes a few hundred at most: made as the rounds need them)
made=0
make_files() {
	local upto=$(($1 < N ? $1 : N))
	[ "$upto" -gt "$made" ] || return 0
	# 0.1 s apart: a 2 s block fills every 20 pushes of a series
	"$TOOLS/pprof-retime" "$FIX/pprof/heap-003.pb.gz" "$TMP/heap" "$upto" "${start}000000000" 100000000 "$made" &&
		"$TOOLS/pprof-retime" "$FIX/pprof/allocs-001.pb.gz" "$TMP/allocs" "$upto" "${start}000000000" 100000000 "$made" ||
		{ notok "retime fixtures"; finish; }
	made=$upto
}
data=$TMP/data
flags=(-tsdb.block-duration 2s)
next=0 # next file index to push

pusher() { # files k, k+4, ... from $next; "id file" for every 200
	local k=$1 i type code id f
	while read -r code id f; do
		[ "$code" = 200 ] && [ "$id" != - ] && echo "$id $f" >>"$TMP/acked.$k"
	done < <(for ((i = next + k; i < made; i += 4)); do
		for type in heap allocs; do
			printf '%s/%s/%06d.pb.gz service=crash&type=%s\n' "$TMP" "$type" "$i" "$type"
		done
	done | push_list "max-time = 10")
}

lost_total=0
corrupt_total=0
for ((round = 1; round <= ROUNDS; round++)); do
	make_files $((next + 250))
	start_server "$data" "${flags[@]}" || { notok "round $round: server starts"; break; }
	pids=()
	before=$(cat "$TMP"/acked.* 2>/dev/null | wc -l)
	for k in 0 1 2 3; do pusher $k & pids+=($!); done
	# the random moment counts from the round's first acknowledged push
	# (on a loaded machine the pushers take a while to start)
	for _ in $(seq 1 200); do
		[ "$(cat "$TMP"/acked.* 2>/dev/null | wc -l)" -gt "$before" ] && break
		sleep 0.05
	done
	sleep "$(awk -v r=$RANDOM 'BEGIN{printf "%.2f", 0.1 + (r % 40) / 100}')"
	if [ "$round" -eq "$ROUNDS" ] && ! grep -q "head cut" "$TMP"/server.*.log; then
		# no round lived until a cut (short rounds on a slow build): the
		# last one waits for one, so that a kill -9 after a cut is tested
		for _ in $(seq 1 300); do
			grep -q "head cut" "$TMP"/server.*.log && break
			sleep 0.1
		done
	fi
	kill9_server
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	cat "$TMP"/acked.* 2>/dev/null | sort -u >"$TMP/acked"
	next=$(( $(wc -l <"$TMP/acked") / 2 + 4 ))
	start_server "$data" "${flags[@]}" || { notok "round $round: server restarts after kill -9"; break; }
	# every acknowledged id is found by find and reads back intact
	curl -sS "$URL/api/0/profiles?service=crash&from=2000-01-01T00:00:00&to=2100-01-01T00:00:00" |
		jq -r '.body[].id' | sort >"$TMP/found"
	lost=$(cut -d' ' -f1 "$TMP/acked" | sort | comm -23 - "$TMP/found" | wc -l)
	corrupt=0
	while read -r id f; do
		curl -sS -o "$TMP/got" "$URL/api/0/profiles/$id"
		same_profile "$TMP/got" "$f" || { corrupt=$((corrupt + 1)); echo "#   $id ($f) differs"; }
	done < <(shuf -n 25 --random-source=<(yes $round) "$TMP/acked")
	# everything found decodes (nothing returned is corrupt): merge all of it
	code=$(curl -sS -o "$TMP/merged" -w '%{http_code}' "$URL/api/0/profiles/merge?service=crash&type=heap&from=2000-01-01T00:00:00&to=2100-01-01T00:00:00")
	if [ "$code" != 200 ] || ! "$TOOLS/pprof-info" "$TMP/merged" >/dev/null; then
		corrupt=$((corrupt + 1))
		echo "#   merge of everything: HTTP $code"
	fi
	echo "# round $round: $(wc -l <"$TMP/acked") acknowledged, $(wc -l <"$TMP/found") found, $lost lost, $corrupt corrupt"
	lost_total=$((lost_total + lost))
	corrupt_total=$((corrupt_total + corrupt))
	if [ "$lost" -ne 0 ] || [ "$corrupt" -ne 0 ]; then notok "round $round: nothing lost, nothing corrupt"; else ok "round $round: nothing lost, nothing corrupt"; fi
	kill9_server
done
for what in "head cut into a block" "blocks compacted" "removing leftover temporary file" "removing a block already compacted"; do
	echo "# $(cat "$TMP"/server.*.log | grep -c "msg=\"$what") x $what"
done
check "blocks were cut during the rounds" grep -q "head cut" "$TMP"/server.*.log
expect "over $ROUNDS rounds: acknowledged profiles lost" "$lost_total" 0
expect "over $ROUNDS rounds: corrupt reads" "$corrupt_total" 0
finish
