#!/usr/bin/env bash
# The golden data directories (tests/fixtures/golden/vN: stores written by
# earlier releases, committed and never regenerated) open with this release,
# on a copy, with every profile intact: series and labels, ids, times and
# totals exactly as the MANIFEST lists them (query_range), every present
# profile equal to its source fixture (go tool pprof -raw; raw bodies byte
# for byte), the profiles retention dropped and the torn WAL record absent.
# The same after a clean restart (the WAL part then in a block this release
# wrote). A copy with a file's format version raised is refused at the start
# with a line naming the file and both versions, and left as it was.
source "$(dirname "$0")/lib.bash"

norm() { grep -vE '^(\(pprof\) )?(File|Build ID|Main binary filename|Showing nodes accounting|Dropped|Saved profile in|Fetching profile)'; }
flags=(-tsdb.retention 0 -tsdb.block-duration 1h)

# expected_series MANIFEST: the present profiles as query_range's data
# (series sorted by labels, samples ascending by time, t in ms)
expected_series() {
	jq -RnS '[inputs | select(startswith("#") | not) | split("\t") | select(.[0] == "present")
		| {labels: (.[5] | split(",") | map(split("=") | {(.[0]): .[1]}) | add),
		   id: .[1], t: (.[2][:-6] | tonumber),
		   totals: (if .[6] == "" then {} else (.[6] | split(",")
			| map(split("=") | {(.[0] | split("/")[0]): (.[1] | tonumber)}) | add) end)}]
		| group_by(.labels | tostring)
		| map({labels: .[0].labels, samples: (map({id, t, totals}) | sort_by(.t, .id))})
		| sort_by(.labels | to_entries | sort_by(.key))' <"$1"
}
got_series() {
	curl -sSG "$URL/api/v1/query_range" --data-urlencode 'query={service=~".+"}' |
		jq -S '.data | map({labels, samples: (.samples | sort_by(.t, .id))}) | sort_by(.labels | to_entries | sort_by(.key))'
}

# check_profiles WHERE MANIFEST: every present profile by id against its
# fixture; dropped and torn ones are 404
check_profiles() {
	local where=$1 state id t kind fx labels totals f n code
	while IFS=$'\t' read -r state id t kind fx labels totals; do
		[[ $state == \#* ]] && continue
		f=$TMP/got.$id
		code=$(curl -sS -o "$f" -w '%{http_code}' "$URL/api/0/profiles/$id")
		if [ "$state" != present ]; then
			expect "$where: $state $id ($fx, $labels) is 404" "$code" 404
			continue
		fi
		if [ "$code" != 200 ]; then
			notok "$where: get $id ($fx, $labels): HTTP $code $(head -c 300 "$f")"
			continue
		fi
		if [ "$kind" = raw ]; then
			n=${fx#*:}
			head -c "$n" "$FIX/pprof/${fx%%:*}" >"$TMP/want.raw"
			check "$where: $id ($fx, $labels) byte for byte" cmp "$f" "$TMP/want.raw"
		else
			mv "$f" "$f.pb.gz"
			expect_pprof "$where: $id ($fx, $labels): go tool pprof -raw equal" norm \
				-raw "$f.pb.gz" -- -raw "$FIX/pprof/$fx"
		fi
	done <"$2"
}

for gdir in "$FIX"/golden/v*/; do
	v=$(basename "$gdir")
	man=$gdir/MANIFEST
	npresent=$(grep -c '^present' "$man")
	[ "$npresent" -gt 0 ] || { notok "$v: MANIFEST lists present profiles"; continue; }
	expected_series "$man" >"$TMP/want.json" || { notok "$v: MANIFEST parses"; continue; }
	data=$TMP/$v
	cp -a "$gdir/data" "$data"

	for pass in "opened as written" "after a clean restart"; do
		start_server "$data" "${flags[@]}" || { notok "$v $pass: server starts"; continue 2; }
		got_series >"$TMP/got.json"
		if cmp -s "$TMP/got.json" "$TMP/want.json"; then
			ok "$v $pass: series, labels, ids, times and totals as the MANIFEST lists ($npresent profiles)"
		else
			notok "$v $pass: series, labels, ids, times and totals as the MANIFEST lists ($npresent profiles)"
			diff "$TMP/got.json" "$TMP/want.json" | head -20 | sed 's/^/#   /'
		fi
		expect "$v $pass: /api/v1/status/tsdb counts $npresent profiles" \
			"$(curl -sS "$URL/api/v1/status/tsdb" | jq '.data.profiles')" "$npresent"
		check_profiles "$v $pass" "$man"
		stop_server
	done
	grep -q 'WAL tail damaged, truncated' "$TMP/server.$((SERVER_N - 1)).log" &&
		ok "$v: the torn WAL tail is cut off and logged" ||
		notok "$v: the torn WAL tail is cut off and logged"

	# a newer release's store: each file's version raised to 2
	raise() { printf '\x02\x00\x00\x00' | dd of="$1" bs=1 seek=4 conv=notrunc status=none; }
	files=()
	for f in "$gdir"/data/blocks/*/{index,chunks,symbols} "$gdir"/data/wal/checkpoint.* \
		"$gdir"/data/wal/[0-9]*; do files+=("${f#"$gdir"/data/}"); done
	for rel in "${files[@]}"; do
		d=$TMP/newer
		rm -rf "$d"
		cp -a "$gdir/data" "$d"
		raise "$d/$rel"
		# a segment the checkpoint covers, which an open of ours would delete
		[[ $rel == wal/checkpoint.* ]] && cp "$d"/wal/0* "$d/wal/00000001"
		before=$(cd "$d" && find . -type f -exec md5sum {} + | sort)
		"$PROFEFE_BIN" -addr 127.0.0.1:0 -tsdb.dir "$d" "${flags[@]}" >"$TMP/newer.out" 2>&1 &
		pid=$!
		for _ in $(seq 1 100); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
		if kill -0 $pid 2>/dev/null; then
			kill -9 $pid
			wait $pid 2>/dev/null
			notok "$v: $rel at version 2: the start is refused (it started)"
			continue
		fi
		wait $pid
		rc=$?
		out=$(grep -v '^ts=.*level=info' "$TMP/newer.out")
		if [ $rc -ne 0 ] && grep -qF "$rel: format version 2, this profefe reads up to 1" <<<"$out"; then
			ok "$v: $rel at version 2: the start is refused naming both versions"
		else
			notok "$v: $rel at version 2: the start is refused naming both versions (exit $rc)"
			sed 's/^/#   /' <<<"$out" | head -5
		fi
		expect "$v: $rel at version 2: nothing in the store is changed or removed" \
			"$(cd "$d" && find . -type f -exec md5sum {} + | sort)" "$before"
	done
done

finish
