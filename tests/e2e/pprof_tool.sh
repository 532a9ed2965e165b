#!/usr/bin/env bash
# Real `go tool pprof` as the client: every fixture comes back equal at the
# pprof level (-raw and -traces), and a merge URL of the ten heap snapshots
# shows the same total and rows as `go tool pprof -top` of the ten files.
source "$(dirname "$0")/lib.bash"

start_server "$TMP/data" || { notok "server starts"; finish; }

# strip the lines naming the source (File/Build ID) which differ by path
norm() { grep -vE '^(File|Build ID|Main binary filename|Showing nodes accounting|Dropped|Saved profile in|Fetching profile)' ; }

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
	for mode in -raw -traces; do
		want=$(go tool pprof $mode "$f" 2>/dev/null | norm | md5sum)
		got=$(go tool pprof $mode "$URL/api/0/profiles/$id" 2>/dev/null | norm | md5sum)
		expect "get $name by id: go tool pprof $mode equal" "$got" "$want"
	done
done

# the ten heap snapshots, merged by the server
for i in 01 02 03 04 05 06 07 08 09 10; do
	push "$FIX/pprof/heap-0$i.pb.gz" "service=S&type=heap" >/dev/null
done
heap=("$FIX"/pprof/heap-0[01]?.pb.gz)
murl="$URL/api/0/profiles/merge?service=S&type=heap&from=2026-11-22T13:06:00&to=2026-11-22T13:07:00"
for si in inuse_space alloc_space inuse_objects alloc_objects; do
	want=$(go tool pprof -top -nodecount=1000000 -sample_index=$si "${heap[@]}" 2>/dev/null | sed -n '/^Type:/,$p')
	got=$(go tool pprof -top -nodecount=1000000 -sample_index=$si "$murl" 2>/dev/null | sed -n '/^Type:/,$p')
	expect "merge of the ten heap snapshots: -top -sample_index=$si total and rows equal" "$(md5sum <<<"$got")" "$(md5sum <<<"$want")"
done
want_total=$(go tool pprof -top "${heap[@]}" 2>/dev/null | grep -E '^Showing nodes accounting' | sed 's/.* of //')
expect "merge total line equals Go's" "$(go tool pprof -top "$murl" 2>/dev/null | grep -E '^Showing nodes accounting' | sed 's/.* of //')" "$want_total"

stop_server
finish
