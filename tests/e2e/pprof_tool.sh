#!/usr/bin/env bash
# Real `go tool pprof` as the client: every fixture comes back equal at the
# pprof level (-raw and -traces), and a merge URL of the ten heap snapshots
# shows the same total and rows as `go tool pprof -top` of the ten files.
# Checked twice: from the head (WAL), and after a clean restart, when the
# store has rebuilt every profile from its symbolized, compressed blocks.
source "$(dirname "$0")/lib.bash"

start_server "$TMP/data" || { notok "server starts"; finish; }

# strip the lines naming the source (File/Build ID) which differ by path
norm() { grep -vE '^(File|Build ID|Main binary filename|Showing nodes accounting|Dropped|Saved profile in|Fetching profile)' ; }

declare -A ids
for f in "$FIX"/pprof/*.pb.gz; do
	name=$(basename "$f" .pb.gz)
	type=${name%%-*}
	r=$(push "$f" "service=fx&type=$type&labels=file=$name")
	id=$(jq -r .body.id <<<"$r")
	if [ -z "$id" ] || [ "$id" = null ]; then
		notok "push $name"
		echo "#   $r"
		continue
	fi
	ids[$f]=$id
done
# the ten heap snapshots, merged by the server
for i in 01 02 03 04 05 06 07 08 09 10; do
	push "$FIX/pprof/heap-0$i.pb.gz" "service=S&type=heap" >/dev/null
done

# under the sanitizers (PROFEFE_TEST_SUBSET, tests/run.sh) every fixture is
# read back with -raw only, and the merge checked for 2 of 4 sample indexes
modes=(-raw -traces)
indexes=(inuse_space alloc_space inuse_objects alloc_objects)
if [ -n "${PROFEFE_TEST_SUBSET:-}" ]; then
	modes=(-raw)
	indexes=(inuse_space alloc_objects)
fi
after_type() { sed -n '/^Type:/,$p'; }
total_line() { grep -E '^Showing nodes accounting' | sed 's/.* of //'; }
# go tool pprof fetches heap-001, cpu-001 and goroutine-001 (and every
# merge below) by URL itself; the other fixtures are fetched by curl and
# read from the file: Go's outputs are cached by content (gopprof), so the
# same bytes (the head's are the pushed ones; a restart rebuilds the same
# bytes in both builds) cost Go's time once per run (heap-large-001: about
# 3 s of Go's CPU per table)
check_all() {
	local where=$1 f name mode si src
	for f in "${!ids[@]}"; do
		name=$(basename "$f" .pb.gz)
		src=$URL/api/0/profiles/${ids[$f]}
		case $name in
		heap-001 | cpu-001 | goroutine-001) ;;
		*)
			curl -sS -o "$TMP/got.$name.pb.gz" "$src" || notok "$where: get $name by id with curl"
			src=$TMP/got.$name.pb.gz
			;;
		esac
		for mode in "${modes[@]}"; do
			expect_pprof "$where: get $name by id: go tool pprof $mode equal" norm \
				$mode "$src" -- $mode "$f"
		done
	done
	local heap=("$FIX"/pprof/heap-0[01]?.pb.gz)
	local murl="$URL/api/0/profiles/merge?service=S&type=heap&from=2026-11-22T13:06:00&to=2026-11-22T13:07:00"
	for si in "${indexes[@]}"; do
		expect_pprof "$where: merge of the ten heap snapshots: -top -sample_index=$si total and rows equal" after_type \
			-top -nodecount=1000000 -sample_index=$si "$murl" -- -top -nodecount=1000000 -sample_index=$si "${heap[@]}"
	done
	expect_pprof "$where: merge total line equals Go's" total_line -top "$murl" -- -top "${heap[@]}"
}

check_all "head"
stop_server
start_server "$TMP/data" || { notok "server restarts"; finish; }
embedded_only "blocks and head are the embedded store's (ClickHouse: the same checks after a restart)" || {
	blocks=$(curl -sS "$URL/metrics" | sed -n 's/^profefe_tsdb_blocks \([0-9]*\)$/\1/p')
	check "after a clean restart the profiles are in blocks ($blocks)" test "${blocks:-0}" -ge 1
	head=$(curl -sS "$URL/metrics" | sed -n 's/^profefe_tsdb_head_profiles \([0-9]*\)$/\1/p')
	expect "after a clean restart the head is empty" "$head" 0
}
check_all "blocks"

stop_server
finish
