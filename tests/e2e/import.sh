#!/usr/bin/env bash
# `profefe import` against real servers (SPEC §2, §6, §10.1): the autoprof
# fixture bundles land whole (every entry that unzip and go tool pprof say
# has data), the empty ones are listed as skipped, a second run stores
# nothing; a tree of the runtime's pprof files gets its types from the
# sample types (block and mutex from the file names); bad files fail with
# their reason and exit 1; -tsdb.dir stores the same into a directory; an
# export (GET /api/v1/bundle) imported into an empty server gives the same
# series, times and profiles; profiles older than the retention window are
# skipped with the server's reason; the progress bar shows on a terminal.
source "$(dirname "$0")/lib.bash"

A=$FIX/autoprof
IMP() { "$PROFEFE_BIN" import "$@"; }
series() { curl -sG "$URL/api/v1/series" --data-urlencode "match[]=$1" | jq -c '.data | sort_by(tostring)'; }
nprofiles() { curl -s "$URL/api/v1/status/tsdb" | jq .data.profiles; }
# summary FILE NAME: the count on the summary line "NAME: N ..."
summary() { sed -n "s/^$2: *\([0-9]*\).*/\1/p" "$1"; }
# go_ms FILE: a pprof's time in Unix ms, from go tool pprof -raw
go_ms() {
	local t
	gopprof "$TMP/gm.raw" -raw "$1" || return 1
	t=$(sed -n 's/^Time: \([0-9-]* [0-9:]*\)\.\([0-9]*\) .*/\1 \2/p' "$TMP/gm.raw")
	[ -n "$t" ] || return 1
	echo $(($(date -u -d "${t% *}" +%s) * 1000 + 10#$(printf %.3s "${t##* }000")))
}

# ---- what the bundles hold, as unzip and go tool pprof say
want_stored=0 want_skipped=0 bad=0
: >"$TMP/want-skips"
mkdir -p "$TMP/x"
for z in "$A"/*.zip; do
	b=$(basename "$z")
	for e in $(unzip -Z1 "$z" | grep '^pprof/'); do
		f=$TMP/x/${b%.zip}.${e#pprof/}
		unzip -p "$z" "$e" >"$f"
		if [ ! -s "$f" ]; then
			echo "skipped $A/$b $e: empty entry (0 bytes)" >>"$TMP/want-skips"
			want_skipped=$((want_skipped + 1))
		elif [ "$e" = pprof/trace ]; then
			want_stored=$((want_stored + 1))
		elif go tool pprof -raw "$f" >"$TMP/raw" 2>/dev/null; then
			if awk '/^Locations/ { exit } f && /: / { r = 1; exit } /^Samples:/ { f = 1 } END { exit !r }' "$TMP/raw"; then
				want_stored=$((want_stored + 1))
			else
				echo "skipped $A/$b $e: profile has no samples" >>"$TMP/want-skips"
				want_skipped=$((want_skipped + 1))
			fi
		else
			bad=1
		fi
	done
done
expect "go tool pprof read every bundle entry" "$bad" 0
check "the bundles hold profiles to store ($want_stored) and empty entries ($want_skipped)" test "$want_stored" -gt 20 -a "$want_skipped" -gt 0

mkdir -p "$TMP/d1" "$TMP/d2" "$TMP/d3" "$TMP/d4" "$TMP/t1"
start_server "$TMP/d1" || { notok "server starts"; finish; }
URL1=$URL

# ---- the acceptance run: every non-empty entry of all five bundles
IMP -addr "$URL" "$A/" >"$TMP/out1" 2>"$TMP/err1"
expect "import of the autoprof fixtures exits 0" "$?" 0
expect "nothing on stderr without a terminal (no progress bar)" "$(cat "$TMP/err1")" ""
expect "imported: every non-empty entry" "$(summary "$TMP/out1" imported)" "$want_stored"
expect "skipped: every empty entry" "$(summary "$TMP/out1" skipped)" "$want_skipped"
expect "failed: none" "$(summary "$TMP/out1" failed)" 0
expect "files: the five bundles" "$(summary "$TMP/out1" files)" 5
expect "each skipped entry is listed with its reason" "$(grep "^skipped " "$TMP/out1" | sed "s/  */ /" | LC_ALL=C sort)" "$(LC_ALL=C sort "$TMP/want-skips")"
expect "the store holds them" "$(nprofiles)" "$want_stored"
expect "/api/v1/series: both services" "$(curl -sG "$URL/api/v1/label/service/values" | jq -c .data)" '["apedge","shopd"]'
expect_match "a shopd series carries the bundle's labels" "$(series '{service="shopd",type="heap"}')" \
	'^\[\{"go_version":"go1.19.8","instance":"vm","proc_id":"1-6b02e8ab-22151175a9c00910b4e15094-10239","revision":"\(devel\)","service":"shopd","type":"heap"\}\]$'
# the same as POST /api/v1/bundles of each gives (tests/e2e/bundles.sh checks those against go tool pprof)
PID1=$PID
PID=
start_server "$TMP/d0" || { notok "server starts"; PID=$PID1; finish; }
for z in "$A"/*.zip; do curl -sS -o /dev/null --data-binary @"$z" "$URL/api/v1/bundles"; done
posted=$(curl -sG "$URL/api/v1/query_range" --data-urlencode 'query={service=~".+"}' | jq -c '[.data[] | {labels, t: [.samples[].t]}]')
stop_server
URL=$URL1 PID=$PID1
expect "the same series and times as posting each bundle" \
	"$(curl -sG "$URL/api/v1/query_range" --data-urlencode 'query={service=~".+"}' | jq -c '[.data[] | {labels, t: [.samples[].t]}]')" "$posted"

# ---- again: nothing stored
IMP -addr "$URL" "$A/" >"$TMP/out2"
expect "the second run exits 0" "$?" 0
expect "the second run imports nothing" "$(summary "$TMP/out2" imported)" 0
expect "the second run finds every profile there" "$(summary "$TMP/out2" "already there")" "$want_stored"
expect "the store holds as many as before" "$(nprofiles)" "$want_stored"

# ---- a tree of pprof files: types from the sample types, block and mutex from the names
P=$FIX/pprof
mkdir -p "$TMP/tree/a/b" "$TMP/tree/c" "$TMP/tree/.hidden"
cp "$P/heap-002.pb.gz" "$TMP/tree/a/one.pb.gz"
cp "$P/allocs-001.pb.gz" "$TMP/tree/a/two.pb.gz"
cp "$P/cpu-001.pb.gz" "$TMP/tree/a/b/three"
cp "$P/goroutine-001.pb.gz" "$TMP/tree/c/four.pb.gz"
cp "$P/threadcreate-001.pb.gz" "$TMP/tree/c/five.pb.gz"
cp "$P/block-001.pb.gz" "$TMP/tree/c/app-block.pb.gz"
cp "$P/mutex-001.pb.gz" "$TMP/tree/c/app-mutex.pb.gz"
cp "$P/mutex-001.pb.gz" "$TMP/tree/c/contention.pb.gz"
cp "$P/trace-001.out" "$TMP/tree/c/trace.out"
cp "$FIX/bad/heap-plain.pb" "$TMP/tree/a/b/plain.pb"
cp "$P/cpu-002.pb.gz" "$TMP/tree/.hidden/cpu.pb.gz"
touch -d '2026-11-22T13:06:20.5Z' "$TMP/tree/c/trace.out"
IMP -addr "$URL" -service tree -label env=test -label team=a,b "$TMP/tree" >"$TMP/out3"
expect "the tree imports with exit 0 (a skipped file is no failure)" "$?" 0
expect "the tree: 9 imported, 1 skipped, 0 failed" \
	"$(summary "$TMP/out3" imported) $(summary "$TMP/out3" skipped) $(summary "$TMP/out3" failed)" "9 1 0"
expect_match "the contention file without a name that tells is skipped, saying why" "$(cat "$TMP/out3")" \
	"skipped +$TMP/tree/c/contention.pb.gz: block and mutex profiles have the same sample types .*give -type block or -type mutex"
got=$(curl -sG "$URL/api/v1/query_range" --data-urlencode 'query={service="tree"}' | jq -c '[.data[] | [.labels.type, .labels.env, .labels.team, (.samples | length)]]')
expect "one profile of each type, with the labels" "$got" \
	'[["allocs","test","a,b",1],["block","test","a,b",1],["cpu","test","a,b",1],["goroutine","test","a,b",1],["heap","test","a,b",2],["mutex","test","a,b",1],["threadcreate","test","a,b",1],["trace","test","a,b",1]]'
# each comes back equal to its file (pprof level; the trace byte for byte), at its time
n=0
for pair in allocs:a/two.pb.gz cpu:a/b/three goroutine:c/four.pb.gz threadcreate:c/five.pb.gz \
	block:c/app-block.pb.gz mutex:c/app-mutex.pb.gz; do
	ty=${pair%%:*} f=$TMP/tree/${pair#*:}
	r=$(curl -sG "$URL/api/v1/query_range" --data-urlencode "query={service=\"tree\",type=\"$ty\"}" | jq -r '.data[0].samples[0] | .id + " " + (.t | tostring)')
	curl -sS -o "$TMP/got.pb.gz" "$URL/api/0/profiles/${r% *}"
	cp "$f" "$TMP/want.pb.gz"
	if same_profile "$TMP/got.pb.gz" "$TMP/want.pb.gz" && [ "${r#* }" = "$(go_ms "$f")" ]; then n=$((n + 1)); else echo "# $ty: $r"; fi
done
expect "each tree profile reads back equal to its file, at the time go tool pprof prints" "$n" 6
expect "the two heap files (one gzip, one not) at the times go tool pprof prints" \
	"$(curl -sG "$URL/api/v1/query_range" --data-urlencode 'query={service="tree",type="heap"}' | jq -c '[.data[0].samples[].t]')" \
	"[$(go_ms "$FIX/bad/heap-plain.pb"),$(go_ms "$P/heap-002.pb.gz")]"
r=$(curl -sG "$URL/api/v1/query_range" --data-urlencode 'query={service="tree",type="trace"}' | jq -r '.data[0].samples[0] | .id + " " + (.t | tostring)')
curl -sS -o "$TMP/got.out" "$URL/api/0/profiles/${r% *}"
check "the trace reads back byte for byte" cmp "$TMP/got.out" "$P/trace-001.out"
expect "the trace's time is its file's" "${r#* }" "$(date -u -d '2026-11-22T13:06:20.5Z' +%s%3N)"
expect_pprof "the uncompressed heap file: go tool pprof -raw as the file" cat \
	-raw "$URL/api/v1/merge?query=heap%7Bservice%3D%22tree%22%7D&start=$(($(go_ms "$FIX/bad/heap-plain.pb") - 1))&end=$(($(go_ms "$FIX/bad/heap-plain.pb") + 1))" -- \
	-raw "$FIX/bad/heap-plain.pb"
IMP -addr "$URL" -service tree -label env=test -label team=a,b "$TMP/tree" >"$TMP/out4"
expect "the tree again: 0 imported, 9 already there" \
	"$(summary "$TMP/out4" imported) $(summary "$TMP/out4" "already there")" "0 9"
IMP -addr "$URL" -service tree -type block -label env=test -label team=a,b "$TMP/tree/c/contention.pb.gz" >"$TMP/out5"
expect "-type names what the name does not" "$(summary "$TMP/out5" imported)" 1
expect "... as a block profile" "$(series '{service="tree",type="block"}' | jq length)" 1
expect "... with two profiles now" "$(curl -sG "$URL/api/v1/query_range" --data-urlencode 'query={service="tree",type="block"}' | jq '.data[0].samples | length')" 2

# ---- a pprof file without -service fails, naming the flag
IMP -addr "$URL" "$P/heap-001.pb.gz" >"$TMP/out6"
expect "a pprof file without -service: exit 1" "$?" 1
expect_match "... naming the file and -service" "$(cat "$TMP/out6")" \
	"failed +$P/heap-001.pb.gz: a pprof file names no service \(only bundles carry theirs\): give -service"

# ---- bad files: failed with a reason, exit 1, nothing stored
before=$(nprofiles)
mkdir -p "$TMP/bad"
for f in truncated.pb.gz bad-location-ref.pb.gz random.pb.gz goroutine-debug1.txt bundle-truncated.zip bundle-no-meta.zip empty.pb.gz; do
	cp "$FIX/bad/$f" "$TMP/bad/"
done
IMP -addr "$URL" -service bad "$TMP/bad" "$TMP/no-such-file" >"$TMP/out7"
expect "bad files: exit 1" "$?" 1
expect "bad files: 7 failed, the empty one skipped" "$(summary "$TMP/out7" failed) $(summary "$TMP/out7" skipped)" "7 1"
o=$(cat "$TMP/out7")
expect_match "truncated gzip: its reason" "$o" "failed +$TMP/bad/truncated.pb.gz: could not parse pprof profile: decompressing profile: unexpected EOF"
expect_match "a missing location: its reason" "$o" "failed +$TMP/bad/bad-location-ref.pb.gz: could not parse pprof profile: sample 0 refers to location 7, which does not exist"
expect_match "random bytes: its reason" "$o" "failed +$TMP/bad/random.pb.gz: could not parse pprof profile: parsing profile: unrecognized profile format"
expect_match "a legacy text profile: its reason names debug=0" "$o" "failed +$TMP/bad/goroutine-debug1.txt: .*debug=0"
expect_match "a truncated bundle: the server's reason" "$o" "failed +$TMP/bad/bundle-truncated.zip: bad bundle: not a zip archive \(no central directory"
expect_match "a bundle without meta: the server's reason" "$o" "failed +$TMP/bad/bundle-no-meta.zip: bad bundle: bundle has no \"meta\" entry"
expect_match "a missing path: its reason" "$o" "failed +$TMP/no-such-file: No such file or directory"
expect_match "an empty file: skipped" "$o" "skipped +$TMP/bad/empty.pb.gz: empty file \(0 bytes\)"
expect "the bad files stored nothing" "$(nprofiles)" "$before"

# ---- export, then import into an empty server: same series, times and profiles
cap=$(unzip -p "$A/bundle-003.zip" meta | jq -r .capture_time)
curl -sS -o "$TMP/export.zip" -G "$URL/api/v1/bundle" --data-urlencode 'query={service="shopd"}' --data-urlencode "time=$cap"
sel='{service="shopd",proc_id="1-6b02e8ab-22151175a9c00910b4e15094-10239"}'
want_series=$(series "$sel")
# the profiles of bundle-003 in the first server: each series' sample at the export's times
stop_server
start_server "$TMP/d2" || { notok "second server starts"; finish; }
IMP -addr "$URL" "$TMP/export.zip" >"$TMP/out8"
expect "the export imports: 10 profiles, exit 0" "$? $(summary "$TMP/out8" imported)" "0 10"
expect "same series as the first server" "$(series "$sel")" "$want_series"
n=0 m=0
for e in $(unzip -Z1 "$A/bundle-003.zip" | grep '^pprof/'); do
	f=$TMP/x/bundle-003.${e#pprof/}
	case $e in
	pprof/profile) q='{type="cpu",during_trace=""}' ;;
	pprof/profile-during-trace) q='{type="cpu",during_trace="true"}' ;;
	pprof/example.com%2Fshop%2Fopen-conns) q='{type="example.com_shop_open-conns"}' ;;
	*) q="{type=\"${e#pprof/}\"}" ;;
	esac
	r=$(curl -sG "$URL/api/v1/query_range" --data-urlencode "query=$q" | jq -r '.data[0].samples[0] | .id + " " + (.t | tostring)')
	m=$((m + 1))
	if [ "$e" = pprof/trace ]; then
		curl -sS -o "$TMP/got.out" "$URL/api/0/profiles/${r% *}"
		cmp -s "$TMP/got.out" "$f" && [ "${r#* }" = "$(date -u -d "$cap" +%s%3N)" ] && n=$((n + 1))
		continue
	fi
	curl -sS -o "$TMP/got.pb.gz" "$URL/api/0/profiles/${r% *}"
	cp "$f" "$TMP/want.pb.gz"
	if same_profile "$TMP/got.pb.gz" "$TMP/want.pb.gz" && [ "${r#* }" = "$(go_ms "$f")" ]; then n=$((n + 1)); else echo "# $e: $r"; fi
done
expect "every re-imported profile equals bundle-003's entry at its time (pprof level; the trace byte for byte)" "$n/$m" "10/10"
expect_pprof "the re-imported CPU profile: go tool pprof -raw as bundle-003's" cat \
	-raw "$URL/api/v1/merge?query=cpu%7Bduring_trace%3D%22%22%7D" -- -raw "$TMP/x/bundle-003.profile"
IMP -addr "$URL" "$TMP/export.zip" >"$TMP/out9"
expect "the export again: nothing imported, 10 already there" \
	"$(summary "$TMP/out9" imported) $(summary "$TMP/out9" "already there")" "0 10"
stop_server

# ---- -tsdb.dir: the same into a directory, then served; the bundles laid out as autoprof's
# periodic collector names them (pprof/<main>/<host>/<proc_id>/<capture_time>, no .zip)
for z in "$A"/*.zip; do
	m=$(unzip -p "$z" meta)
	d=$TMP/layout/pprof/$(jq -r '.main | @uri' <<<"$m")/$(jq -r .hostname <<<"$m")/$(jq -r .proc_id <<<"$m")
	mkdir -p "$d"
	cp "$z" "$d/$(jq -r .capture_time <<<"$m")"
done
expect "the layout holds the five bundles" "$(find "$TMP/layout" -type f | wc -l)" 5
IMP -tsdb.dir "$TMP/t1" "$TMP/layout" >"$TMP/out10"
expect "-tsdb.dir: exit 0" "$?" 0
expect "-tsdb.dir: every non-empty entry, the empty ones skipped" \
	"$(summary "$TMP/out10" imported) $(summary "$TMP/out10" skipped)" "$want_stored $want_skipped"
IMP -tsdb.dir "$TMP/t1" "$TMP/layout" >"$TMP/out11"
expect "-tsdb.dir again: nothing imported, all there" \
	"$(summary "$TMP/out11" imported) $(summary "$TMP/out11" "already there")" "0 $want_stored"
start_server "$TMP/t1" || { notok "a server on the imported directory starts"; finish; }
expect "a server on it has the same series and times as the first server had" \
	"$(curl -sG "$URL/api/v1/query_range" --data-urlencode 'query={service=~".+"}' | jq -c '[.data[] | {labels, t: [.samples[].t]}]')" "$posted"
embedded_only "the lock is the embedded store's data directory's" || {
	IMP -tsdb.dir "$TMP/t1" -service locked "$P/heap-001.pb.gz" >"$TMP/out10b" 2>"$TMP/err10b"
	expect "-tsdb.dir of a directory a server has open: exit 1" "$?" 1
	expect_match "... refused by the store's lock, nothing written" "$(cat "$TMP/err10b")" \
		'^profefe import: open store .*/t1: data directory .*/t1 is in use by another process \(lock held on .*/t1/lock\)$'
}
stop_server

# ---- older than the retention window: skipped with the server's reason
start_server "$TMP/d3" -tsdb.retention 1h || { notok "server starts"; finish; }
mkdir -p "$TMP/new"
"$TOOLS/pprof-retime" "$P/heap-001.pb.gz" "$TMP/new" 1 "$(date +%s%N)" 1
IMP -addr "$URL" -service old "$TMP/new" >/dev/null
IMP -addr "$URL" -service old "$P/heap-001.pb.gz" "$A/bundle-001.zip" >"$TMP/out12"
expect "profiles too old: exit 0" "$?" 0
expect "profiles too old: none imported, all skipped (1 file + bundle-001's 7 entries)" \
	"$(summary "$TMP/out12" imported) $(summary "$TMP/out12" skipped) $(summary "$TMP/out12" failed)" "0 8 0"
expect_match "... with the server's reason naming the window" "$(cat "$TMP/out12")" \
	"skipped +$P/heap-001.pb.gz: profile time 2026-11-22T13:06:08Z is before the retention window, which starts at .*-tsdb.retention 1h"
expect "nothing of them stored" "$(nprofiles)" 1
stop_server
IMP -tsdb.dir "$TMP/d4" -tsdb.retention 1h -service old "$TMP/new" >/dev/null
IMP -tsdb.dir "$TMP/d4" -tsdb.retention 1h -service old "$P/heap-001.pb.gz" >"$TMP/out13"
expect_match "-tsdb.dir: too old is skipped too" "$(cat "$TMP/out13")" \
	"skipped +$P/heap-001.pb.gz: profile time .* is before the retention window"

# ---- flags
IMP -addr "$URL" -tsdb.dir "$TMP/d4" "$A" 2>"$TMP/err"
expect "-addr with -tsdb.dir: exit 2" "$?" 2
IMP -label service=x -service s "$A" 2>"$TMP/err"
expect_match "-label service=: exit 2 naming why" "$? $(cat "$TMP/err")" '^2 .*label "service" cannot be set with -label'
IMP -type 'Heap!' "$A" 2>"$TMP/err"
expect_match "a bad -type: exit 2" "$? $(cat "$TMP/err")" '^2 .*invalid -type'
IMP -addr 127.0.0.1:1 "$A" >/dev/null 2>"$TMP/err"
expect_match "no server: exit 1 saying so" "$? $(cat "$TMP/err")" '^1 profefe import: cannot reach the server at http://127.0.0.1:1'

# ---- the progress bar, on a terminal
start_server "$TMP/d5" || { notok "server starts"; finish; }
script -qec "$PROFEFE_BIN import -addr $URL -service tty $TMP/tree" /dev/null >"$TMP/tty" 2>&1
expect_match "on a terminal: a progress bar with files, bytes, rate and ETA" "$(tr '\r' '\n' <"$TMP/tty")" \
	'\[#+\] 10/10 files +[0-9.]+ [KM]B/[0-9.]+ [KM]B +[0-9]+ files/s [0-9.]+ MB/s +ETA [0-9]+:[0-9]{2}'
expect_match "... then the summary" "$(cat "$TMP/tty")" 'imported: +9 profiles'
stop_server
finish
