#!/usr/bin/env bash
# Autoprof bundles against a real server (SPEC §6, §10.1): every fixture
# bundle of tests/fixtures/autoprof is posted to /api/v1/bundles and each
# entry's fate is checked against what unzip and `go tool pprof -raw` say of
# it (0 bytes or no samples: skipped; else stored with its type, the labels
# from its meta and the time Go prints); the bad bundles are 400s that store
# nothing; a second post stores nothing; a bundle exported with
# /api/v1/bundle and posted to an empty server gives the same series, times
# and profiles (pprof-level equal).
source "$(dirname "$0")/lib.bash"

A=$FIX/autoprof
series() { curl -sG "$URL/api/v1/series" --data-urlencode 'match[]={service=~".+"}' | jq -c '.data'; }
# go_ms FILE: the profile's time in Unix ms, from go tool pprof -raw
go_ms() {
	local t
	t=$(sed -n 's/^Time: \([0-9-]* [0-9:]*\)\.\([0-9]*\) .*/\1 \2/p' "$1")
	[ -n "$t" ] || return 1
	echo $(($(date -u -d "${t% *}" +%s) * 1000 + 10#$(printf %.3s "${t##* }000")))
}

mkdir -p "$TMP/d1" "$TMP/d2" "$TMP/x"
start_server "$TMP/d1" || { notok "server starts"; finish; }
expect "an empty store has no series" "$(series)" "[]"

# ---- bad bundles: 400 naming the reason, nothing stored
r=$(req POST /api/v1/bundles --data-binary @"$FIX/bad/bundle-truncated.zip")
expect_match "bundle-truncated.zip is a 400 naming the missing central directory" "$r" \
	'^400 .*"errorType":"bad_data".*no central directory'
r=$(req POST /api/v1/bundles --data-binary @"$FIX/bad/bundle-no-meta.zip")
expect_match "bundle-no-meta.zip is a 400 naming the missing meta" "$r" \
	'^400 .*bad bundle: bundle has no \\"meta\\" entry'
r=$(req POST /api/v1/bundles --data-binary 'not a zip')
expect_match "a body that is not a zip is a 400" "$r" '^400 .*not a zip archive'
# a deflated bundle whose entries inflate far past its size (zip, deflate)
mkdir -p "$TMP/bomb"
unzip -p "$A/bundle-001.zip" meta >"$TMP/bomb/meta"
head -c 50000000 /dev/zero >"$TMP/bomb/expvar"
(cd "$TMP/bomb" && zip -q ../bomb.zip meta expvar)
r=$(req POST /api/v1/bundles --data-binary @"$TMP/bomb.zip")
expect_match "a zip bomb ($(stat -c %s "$TMP/bomb.zip") bytes inflating to 50 MB) is a 413 naming the cap" "$r" \
	'^413 .*entry \\"expvar\\": the entries. sizes add up to more than the cap of [0-9]+ bytes'
expect "the bad bundles stored nothing" "$(series)" "[]"
r=$(req GET /api/v1/bundles)
expect_match "GET /api/v1/bundles is a 405" "$r" '^405 '

# ---- every fixture bundle
for z in "$A"/*.zip; do
	b=$(basename "$z" .zip)
	r=$(curl -sS --data-binary @"$z" "$URL/api/v1/bundles")
	expect "$b: posted" "$(jq -r .status <<<"$r")" success
	printf '%s' "$r" >"$TMP/$b.json"
	meta=$(unzip -p "$z" meta)
	want_labels=$(jq -c '{service: (.main | split("/") | last), instance: .hostname, proc_id, go_version, revision}' <<<"$meta")
	cap_ms=$(($(date -u -d "$(jq -r .capture_time <<<"$meta")" +%s%3N)))
	nstored=0 nskipped=0 bad=0
	for e in $(unzip -Z1 "$z" | grep '^pprof/'); do
		f=$TMP/x/$b.${e#pprof/}
		unzip -p "$z" "$e" >"$f"
		got=$(jq -c --arg e "$e" '[.data.stored[] | select(.entry == $e)] + [.data.skipped[] | select(.entry == $e)]' <<<"$r")
		case $e in
		pprof/profile | pprof/profile-during-trace) type=cpu ;;
		pprof/example.com%2Fshop%2Fopen-conns) type=example.com_shop_open-conns ;;
		*) type=${e#pprof/} ;;
		esac
		if [ ! -s "$f" ]; then
			want="[{\"entry\":\"$e\",\"reason\":\"empty entry (0 bytes)\"}]"
			nskipped=$((nskipped + 1))
		elif [ "$type" = trace ]; then
			head -c 13 "$f" | grep -q '^go 1.19 trace' || bad=1
			want=$(jq -c -n --arg e "$e" --argjson l "$want_labels" --argjson t "$cap_ms" \
				'[{entry: $e, type: "trace", labels: ($l + {type: "trace"}), t: $t}]')
			nstored=$((nstored + 1))
		else
			go tool pprof -raw "$f" >"$TMP/raw" 2>"$TMP/raw.err" || { bad=1; echo "# go tool pprof -raw $e: $(head -c 300 "$TMP/raw.err")"; }
			# rows under Samples: (as lib.bash's gopprof looks for them)
			if ! awk '/^Locations/ { exit } f && /: / { r = 1; exit } /^Samples:/ { f = 1 } END { exit !r }' "$TMP/raw"; then
				want="[{\"entry\":\"$e\",\"reason\":\"profile has no samples\"}]"
				nskipped=$((nskipped + 1))
			else
				t=$(go_ms "$TMP/raw") || { bad=1; t=0; }
				extra='{}'
				[ "$e" = pprof/profile-during-trace ] && extra='{"during_trace":"true"}'
				want=$(jq -c -n --arg e "$e" --arg ty "$type" --argjson l "$want_labels" --argjson x "$extra" --argjson t "$t" \
					'[{entry: $e, type: $ty, labels: ($l + {type: $ty} + $x), t: $t}]')
				nstored=$((nstored + 1))
			fi
		fi
		expect "$b $e: as unzip and go tool pprof say" "$(jq -cS 'map(del(.id))' <<<"$got")" "$(jq -cS . <<<"$want")"
	done
	expect "$b: go tool pprof read every entry" "$bad" 0
	expect "$b: $nstored stored, $nskipped skipped" \
		"$(jq -c '[(.data.stored | length), (.data.skipped | length)]' <<<"$r")" "[$nstored,$nskipped]"
	# each stored profile comes back equal to its entry
	n=0
	for id in $(jq -r '.data.stored[] | .id + "=" + .entry' <<<"$r"); do
		e=${id#*=}
		f=$TMP/x/$b.${e#pprof/}
		case $e in pprof/trace) ext=out ;; *) ext=pb.gz ;; esac
		cp "$f" "$TMP/want.$ext"
		curl -sS -o "$TMP/got.$ext" "$URL/api/0/profiles/${id%%=*}"
		same_profile "$TMP/got.$ext" "$TMP/want.$ext" && n=$((n + 1))
	done
	expect "$b: every stored profile reads back equal to its entry" "$n" "$nstored"
done
expect "series of both services" "$(curl -sG "$URL/api/v1/label/service/values" | jq -c .data)" '["apedge","shopd"]'

# ---- the same bundles again: nothing stored
before=$(curl -s "$URL/api/v1/status/tsdb" | jq .data.profiles)
for z in "$A"/*.zip; do
	b=$(basename "$z" .zip)
	r=$(curl -sS --data-binary @"$z" "$URL/api/v1/bundles")
	expect "$b again: nothing stored, each listed as already stored" \
		"$(jq -c '[(.data.stored | length), ([.data.skipped[] | select(.reason == "already stored")] | length)]' <<<"$r")" \
		"[0,$(jq '.data.stored | length' "$TMP/$b.json")]"
done
expect "the store holds as many profiles as before" "$(curl -s "$URL/api/v1/status/tsdb" | jq .data.profiles)" "$before"

# ---- export bundle-003's time, re-import into an empty server
cap=$(unzip -p "$A/bundle-003.zip" meta | jq -r .capture_time)
curl -sS -D "$TMP/hdr" -o "$TMP/export.zip" -G "$URL/api/v1/bundle" \
	--data-urlencode 'query={service="shopd"}' --data-urlencode "time=$cap"
expect_match "the export is a zip download" "$(tr -d '\r' <"$TMP/hdr")" 'Content-Type: application/zip'
expect "the export's entries: meta, pprof/heap, the others by name, then profile, trace, profile-during-trace" \
	"$(unzip -Z1 "$TMP/export.zip" | tr '\n' ' ')" \
	"meta pprof/heap pprof/allocs pprof/block pprof/example.com_shop_open-conns pprof/goroutine pprof/mutex pprof/threadcreate pprof/profile pprof/trace pprof/profile-during-trace "
expect "the export's entries are stored, not deflated" \
	"$(zipinfo -v "$TMP/export.zip" | grep -c 'compression method: *none (stored)')" 11
expect "the export's meta" "$(unzip -p "$TMP/export.zip" meta | command jq -c 'keys_unsorted')" \
	'["main","revision","go_version","hostname","proc_id","init_time","capture_time"]'
expect "the export's capture_time is bundle-003's" "$(unzip -p "$TMP/export.zip" meta | jq -r .capture_time)" "$cap"
old_series=$(curl -sG "$URL/api/v1/series" --data-urlencode 'match[]={service="shopd"}' | jq -c .data)
PID1=$PID URL1=$URL
PID=
start_server "$TMP/d2" || { notok "second server starts"; PID=$PID1; finish; }
r=$(curl -sS --data-binary @"$TMP/export.zip" "$URL/api/v1/bundles")
expect "the export re-imports: 10 stored" "$(jq '.data.stored | length' <<<"$r")" 10
expect "same series as the first server" \
	"$(curl -sG "$URL/api/v1/series" --data-urlencode 'match[]={service="shopd"}' | jq -c .data)" "$old_series"
expect "same entries, types, labels and times as bundle-003's post" \
	"$(jq -c '.data.stored | map(del(.id, .entry)) | sort_by(.labels | tostring)' <<<"$r")" \
	"$(jq -c '.data.stored | map(del(.id, .entry)) | sort_by(.labels | tostring)' "$TMP/bundle-003.json")"
n=0 m=0
for e in $(unzip -Z1 "$A/bundle-003.zip" | grep '^pprof/'); do
	ee=$e
	[ "$e" = "pprof/example.com%2Fshop%2Fopen-conns" ] && ee=pprof/example.com_shop_open-conns
	id=$(jq -r --arg e "$ee" '.data.stored[] | select(.entry == $e) | .id' <<<"$r")
	[ -n "$id" ] || continue
	m=$((m + 1))
	case $e in pprof/trace) ext=out ;; *) ext=pb.gz ;; esac
	cp "$TMP/x/bundle-003.${e#pprof/}" "$TMP/want.$ext"
	curl -sS -o "$TMP/got.$ext" "$URL/api/0/profiles/$id"
	same_profile "$TMP/got.$ext" "$TMP/want.$ext" && n=$((n + 1))
done
expect "every re-imported profile equals bundle-003's entry (pprof level; the trace byte for byte)" "$n/$m" "10/10"
expect_pprof "the re-imported heap profile: go tool pprof -top as the original" cat \
	-top -sample_index=inuse_space "$URL/api/v1/merge?query=heap%7Bservice%3D%22shopd%22%7D" -- \
	-top -sample_index=inuse_space "$TMP/x/bundle-003.heap"
stop_server
PID=$PID1 URL=$URL1

# ---- one process per bundle: the one whose profile is nearest the time
r=$(req POST '/api/v1/bundles?service=shopd' --data-binary @"$A/edge-trace-no-cpu.zip")
expect_match "?service= names the service" "$r" '^200 .*"service":"shopd"'
cap=$(unzip -p "$A/edge-trace-no-cpu.zip" meta | jq -r .capture_time)
curl -sS -o "$TMP/export2.zip" -G "$URL/api/v1/bundle" --data-urlencode 'query={service="shopd"}' --data-urlencode "time=$cap"
expect "an export holds the profiles of the process nearest the time only (that process had no CPU profile)" \
	"$(unzip -Z1 "$TMP/export2.zip" | tr '\n' ' ')" "meta pprof/heap pprof/allocs pprof/goroutine pprof/threadcreate pprof/trace "
expect "its meta names that process" "$(unzip -p "$TMP/export2.zip" meta | jq -r .proc_id)" \
	"$(unzip -p "$A/edge-trace-no-cpu.zip" meta | jq -r .proc_id)"

# ---- two instances: a 400 naming them; counted in /metrics
r=$(req POST '/api/v1/bundles?labels=instance=vm2' --data-binary @"$A/bundle-001.zip")
expect_match "?labels= overrides a bundle's labels" "$r" '^200 .*"instance":"vm2"'
r=$(req GET '/api/v1/bundle?query=%7Bservice%3D%22shopd%22%7D')
expect_match "a selector of two instances is a 400 naming them" "$r" '^400 .*2 instances \(\\"vm\\", \\"vm2\\"\)'
r=$(req GET '/api/v1/bundle?query=%7Binstance%3D%22vm%22%7D')
expect_match "a selector of two services is a 400 naming them" "$r" '^400 .*2 services \(\\"apedge\\", \\"shopd\\"\)'
r=$(req GET '/api/v1/bundle?query=%7Bservice%3D%22nothing%22%7D')
expect_match "a selector finding nothing is a 404" "$r" '^404 '
metrics=$(curl -s "$URL/metrics")
expect_match "/metrics counts the routes" "$metrics" 'route="/api/v1/bundles",method="POST",code="400"\} 3'
expect_match "/metrics counts the refusals" "$metrics" 'profefe_requests_refused_total\{reason="bad_bundle"\} 3'
expect_match "/metrics counts the zip bomb" "$metrics" 'profefe_requests_refused_total\{reason="bundle_too_big"\} 1'
stop_server
finish
