#!/usr/bin/env bash
# The reports of /api/v1 (SPEC §6) against go tool pprof, on one server with
# the fixtures pushed once: report=top equals `go tool pprof -top` row for
# row (names, flat and cum as integers: -unit=B, or -unit=ns for time) for
# every fixture type and sample type, and with focus/ignore/hide/show_from/
# tagfocus/tagignore; flame graph totals add up; a diff equals -diff_base;
# sandwich, meta, merge and diff endpoints; every error end to end.
# PROFEFE_TEST_SUBSET=1 (the sanitized run) compares the default sample
# type of each fixture only.
source "$(dirname "$0")/lib.bash"

start_server "$TMP/data" || { notok "server starts"; finish; }
P=$FIX/pprof
declare -A id
for f in "$P"/*.pb.gz "$P"/trace-001.out; do
	name=$(basename "$f"); name=${name%%.*}
	type=${name%%-*}
	[ "$name" = allocs-delta-001 ] && type=allocs
	id[$name]=$(push "$f" "service=rp&type=$type&labels=file=$name" | jq -r .body.id)
	if [ -z "${id[$name]}" ] || [ "${id[$name]}" = null ]; then notok "push $name"; fi
done
declare -A tenfile
for i in 01 02 03 04 05 06 07 08 09 10; do
	tid=$(push "$P/heap-0$i.pb.gz" "service=ten&type=heap" | jq -r .body.id)
	tenfile[$tid]=$P/heap-0$i.pb.gz
done

# Go's -top rows as "name<TAB>flat<TAB>cum", values without their unit
gorows() {
	sed -n '/^ *flat  *flat%/,$p' "$1" | tail -n +2 |
		sed -E 's/^ *([^ ]+) +[^ ]+% +[^ ]+% +([^ ]+) +[^ ]+%  (.*)$/\3\t\1\t\2/' |
		awk -F'\t' -v OFS='\t' '{ sub(/[a-zA-Z]+$/, "", $2); sub(/[a-zA-Z]+$/, "", $3); print }'
}
ourrows() { jq -r '.data.rows[] | "\(.name)\t\(.flat)\t\(.cum)"'; }
# v1 PATH-AND-QUERY: the reply's body (curl -G with --data-urlencode args)
v1() { local p=$1; shift; curl -sS -G "$URL$p" "$@"; }

# compare_top DESC "OUR-ARGS" GO-ARGS...: our top (curl args) against Go's
compare_top() {
	local d=$1 ours=$2 n
	shift 2
	if ! gopprof "$TMP/go.top" -top "$@"; then notok "$d (go tool pprof failed)"; return; fi
	gorows "$TMP/go.top" >"$TMP/want"
	eval "v1 $ours" | ourrows >"$TMP/got"
	n=$(wc -l <"$TMP/want")
	if [ "$n" -eq 0 ]; then notok "$d (Go printed no rows)"; return; fi
	if cmp -s "$TMP/got" "$TMP/want"; then ok "$d ($n rows)"; else
		notok "$d"
		diff "$TMP/got" "$TMP/want" | head -10 | sed 's/^/#   /'
	fi
}

unit_flag() { case $1 in nanoseconds) echo -unit=ns ;; *) echo -unit=B ;; esac; }

# ---- top, every fixture type and sample type ---------------------------
for name in heap-001 allocs-001 allocs-delta-001 cpu-001 block-001 mutex-001 goroutine-001 threadcreate-001 heap-large-001; do
	[ -f "$P/$name.pb.gz" ] || continue
	meta=$(v1 "/api/v1/profile/${id[$name]}" -d report=meta)
	dflt=$(jq -r '.data.default_sample_type' <<<"$meta")
	if [ -n "${PROFEFE_TEST_SUBSET:-}" ]; then
		types=$(jq -r --arg d "$dflt" '.data.sample_types as $t | ($t | map(.type) | index($d)) as $i | $t[if $i then $i else -1 end] | "\(.type) \(.unit)"' <<<"$meta")
	else
		types=$(jq -r '.data.sample_types[] | "\(.type) \(.unit)"' <<<"$meta")
	fi
	[ -n "$types" ] || notok "$name: meta lists its sample types"
	while read -r st unit; do
		n=40
		[ "$name" = heap-large-001 ] && n=200
		compare_top "$name: top sample_index=$st limit=$n equals go tool pprof -top" \
			"/api/v1/profile/${id[$name]} -d report=top -d sample_index=$st -d limit=$n" \
			-nodecount=$n -sample_index="$st" "$(unit_flag "$unit")" "$P/$name.pb.gz"
	done <<<"$types"
done
# without a limit: every row over pprof's node fraction, as -top
compare_top "cpu-001: top without limit equals go tool pprof -top" \
	"/api/v1/profile/${id[cpu-001]} -d report=top" -unit=ns "$P/cpu-001.pb.gz"
compare_top "heap-001: granularity=lines equals -lines" \
	"/api/v1/profile/${id[heap-001]} -d report=top -d granularity=lines -d limit=30" \
	-lines -nodecount=30 -unit=B "$P/heap-001.pb.gz"
compare_top "heap-001: granularity=files equals -files" \
	"/api/v1/profile/${id[heap-001]} -d report=top -d granularity=files" \
	-files -unit=B "$P/heap-001.pb.gz"

# ---- filters -------------------------------------------------------------
filters=(
	"cpu-001 focus runtime\\.mallocgc"
	"cpu-001 focus Index"
	"cpu-001 ignore ^runtime\\."
	"cpu-001 hide ^runtime\\."
	"cpu-001 show_from catalog\\."
	"cpu-001 tagfocus worker=search|cache"
	"cpu-001 tagignore worker=search"
	"cpu-001 tagfocus worker:inv"
	"heap-001 focus catalog"
	"heap-001 ignore flate"
	"heap-001 hide strings\\."
	"heap-001 show_from main\\.main"
	"heap-001 tagfocus bytes=64B:1kB"
	"heap-001 tagignore bytes=:32kb"
)
[ -n "${PROFEFE_TEST_SUBSET:-}" ] && filters=("${filters[0]}" "${filters[3]}" "${filters[4]}" "${filters[5]}" "${filters[10]}")
for fl in "${filters[@]}"; do
	read -r name flag re <<<"$fl"
	u=-unit=B
	[ "$name" = cpu-001 ] && u=-unit=ns
	compare_top "$name: top $flag=$re equals go tool pprof -$flag" \
		"/api/v1/profile/${id[$name]} -d report=top -d limit=40 --data-urlencode $(printf %q "$flag=$re")" \
		-nodecount=40 "-$flag=$re" $u "$P/$name.pb.gz"
done

# ---- flame graph -----------------------------------------------------------
# every node's total is its self plus its children's totals
bad_nodes='[.. | objects | select(has("children")) | select(.total != .self + ([.children[].total] | add // 0))] | length'
for name in heap-001 cpu-001 goroutine-001 heap-large-001; do
	fg=$(v1 "/api/v1/profile/${id[$name]}" -d report=flamegraph)
	expect "$name: flame graph root total equals the profile's total" \
		"$(jq '.data.root.total' <<<"$fg")" "$(jq '.data.total' <<<"$fg")"
	expect "$name: flame graph: every node's total is its self plus its children's" "$(jq "$bad_nodes" <<<"$fg")" 0
done
gopprof "$TMP/go.heapall" -top -unit=B -sample_index=alloc_space "$P/heap-001.pb.gz" || notok "go -top heap-001 alloc_space"
want_total=$(sed -n 's/.* of \([0-9]*\)B total$/\1/p' "$TMP/go.heapall")
fg=$(v1 "/api/v1/profile/${id[heap-001]}" -d report=flamegraph -d sample_index=alloc_space)
expect "heap-001 alloc_space: flame graph root total equals Go's total" "$(jq '.data.root.total' <<<"$fg")" "$want_total"
# the root's children: the outermost frames of -traces' stacks (its lines
# are "%10s   name": the value, then the frame)
gopprof "$TMP/go.traces" -traces -sample_index=alloc_space "$P/heap-001.pb.gz" || notok "go -traces heap-001"
want=$(awk '/^-+\+-+$/ { if (seen && last != "") print last; seen = 1; last = ""; next } seen && NF { last = $0 }' "$TMP/go.traces" |
	cut -c14- | sort -u)
got=$(v1 "/api/v1/profile/${id[heap-001]}" -d report=flamegraph -d sample_index=alloc_space | jq -r '.data.root.children[].name' | sort -u)
expect "heap-001: flame graph root children are -traces' outermost frames" "$got" "$want"
# every stack with its value, root to leaf, equals -traces' (summed by
# stack): the flame graph has pprof's frames, names and inline suffixes
flame_paths() {
	jq -r 'def paths(p): (p + [.name]) as $q
		| (if .self != 0 and ($q | length) > 1 then "\($q[1:] | join(";")) \(.self)" else empty end),
		  (.children[] | paths($q));
		.data.root | paths([])' | sort
}
traces_paths() { # -traces output: "frame;frame;... value" per distinct stack, root first
	awk '/^-+\+-+$/ { if (n) { s = fr[n]; for (i = n - 1; i >= 1; i--) s = s ";" fr[i]; sum[s] += v } n = 0; body = 1; next }
		!body { next }
		/^ *-?[0-9][0-9.]*[A-Za-z]*   [^ ]/ { v = $1; gsub(/[a-zA-Z]/, "", v); fr[n = 1] = $0; sub(/^ *[^ ]+   /, "", fr[1]); next }
		/^             [^ ]/ { fr[++n] = substr($0, 14) }
		END { for (s in sum) if (sum[s] != 0) printf "%s %.0f\n", s, sum[s] }' "$1" | sort
}
paths_cases=("heap-001 alloc_space B" "cpu-001 cpu ns" "goroutine-001 goroutine B" "block-001 delay ns" "heap-large-001 alloc_space B")
[ -n "${PROFEFE_TEST_SUBSET:-}" ] && paths_cases=("${paths_cases[@]:0:2}")
for c in "${paths_cases[@]}"; do
	read -r name st u <<<"$c"
	if ! gopprof "$TMP/go.tr" -traces -sample_index="$st" -unit="$u" "$P/$name.pb.gz"; then
		notok "$name: go tool pprof -traces failed"
		continue
	fi
	traces_paths "$TMP/go.tr" >"$TMP/want"
	v1 "/api/v1/profile/${id[$name]}" -d report=flamegraph -d sample_index="$st" -d max_nodes=1000000 | flame_paths >"$TMP/got"
	n=$(wc -l <"$TMP/want")
	if [ "$n" -gt 0 ] && cmp -s "$TMP/got" "$TMP/want"; then
		ok "$name $st: flame graph stacks and values equal go tool pprof -traces ($n stacks)"
	else
		notok "$name $st: flame graph stacks and values equal go tool pprof -traces ($n stacks)"
		diff "$TMP/got" "$TMP/want" | head -4 | cut -c1-300 | sed 's/^/#   /'
	fi
done
# max_nodes trims and says so
fg=$(v1 "/api/v1/profile/${id[heap-large-001]}" -d report=flamegraph -d max_nodes=50)
expect "max_nodes=50: at most 50 nodes besides the root and the others" \
	"$(jq '[.data.root | .. | objects | select(has("children")) | select(.name != "other")] | length <= 51' <<<"$fg")" true
expect_match "max_nodes=50: trimmed counts nodes" "$(jq '.data.trimmed.nodes' <<<"$fg")" '^[1-9][0-9]*$'
expect "max_nodes=50: totals still add up" "$(jq "$bad_nodes" <<<"$fg")" 0
expect "max_nodes=50: root total unchanged" "$(jq '.data.root.total == .data.total' <<<"$fg")" true
expect "max_nodes=50: trimmed value is what the other nodes hold" \
	"$(jq '[.data.root | .. | objects | select(.name? == "other") | .total] | add' <<<"$fg")" "$(jq '.data.trimmed.value' <<<"$fg")"

# ---- sandwich --------------------------------------------------------------
sw=$(v1 "/api/v1/profile/${id[heap-001]}" -d report=sandwich --data-urlencode 'function=runtime.main')
cum=$(v1 "/api/v1/profile/${id[heap-001]}" -d report=top | jq '.data.rows[] | select(.name == "runtime.main") | .cum')
expect "sandwich runtime.main: callees total is its cum in top" "$(jq '.data.callees.total' <<<"$sw")" "$cum"
expect "sandwich runtime.main: callers total is its cum in top" "$(jq '.data.callers.total' <<<"$sw")" "$cum"
expect "sandwich: totals add up" "$(jq "$bad_nodes" <<<"$sw")" 0
sw=$(v1 "/api/v1/profile/${id[heap-001]}" -d report=sandwich --data-urlencode 'function=compress/flate.NewWriter')
expect "sandwich compress/flate.NewWriter: callee (*compressor).init, caller gzip.(*Writer).Write" \
	"$(jq -r '[(.data.callees.children[].name | select(startswith("compress/flate.(*compressor).init"))), (.data.callers.children[].name)] | join(",")' <<<"$sw")" \
	"compress/flate.(*compressor).init,compress/gzip.(*Writer).Write"

# ---- meta ------------------------------------------------------------------
meta=$(v1 "/api/v1/profile/${id[heap-001]}" -d report=meta)
expect "meta of heap-001" "$(jq -c '.data | [(.sample_types | map(.type)), .default_sample_type, .period_type.type, .period, .profiles, (.samples > 0)]' <<<"$meta")" \
	'[["alloc_objects","alloc_space","inuse_objects","inuse_space"],"inuse_space","space",524288,1,true]'

# ---- report=pprof ----------------------------------------------------------
curl -sS -o "$TMP/v1.pb.gz" "$URL/api/v1/profile/${id[heap-001]}?report=pprof"
curl -sS -o "$TMP/api0.pb.gz" "$URL/api/0/profiles/${id[heap-001]}"
check "report=pprof is the stored profile" cmp "$TMP/v1.pb.gz" "$TMP/api0.pb.gz"

# ---- diff ------------------------------------------------------------------
d=$(v1 /api/v1/diff -d report=top -d base="${id[heap-001]}" -d target="${id[heap-001]}" -d node_fraction=0)
t=$(v1 "/api/v1/profile/${id[heap-001]}" -d report=top -d node_fraction=0)
expect "diff of a profile with itself: the rows of its top" \
	"$(jq -r '[.data.rows[].name] | sort | join(",")' <<<"$d")" "$(jq -r '[.data.rows[].name] | sort | join(",")' <<<"$t")"
expect "diff of a profile with itself: every flat and cum 0" "$(jq '[.data.rows[] | .flat, .cum] | map(select(. != 0)) | length' <<<"$d")" 0
expect_match "diff of a profile with itself has rows" "$(jq '.data.rows | length' <<<"$d")" '^[1-9][0-9]*$'
compare_top "heap-010 against heap-001 equals go tool pprof -top -diff_base" \
	"/api/v1/diff -d report=top -d base=${id[heap-001]} -d target=${id[heap-010]}" \
	-unit=B -diff_base "$P/heap-001.pb.gz" "$P/heap-010.pb.gz"
fd=$(v1 /api/v1/diff -d report=flamegraph -d base="${id[heap-001]}" -d target="${id[heap-010]}")
expect "diff flame graph: root base and target are the two totals" \
	"$(jq -c '.data.root | [.base, .target, .total == .target - .base]' <<<"$fd")" \
	"[$(v1 "/api/v1/profile/${id[heap-001]}" -d report=flamegraph | jq .data.root.total),$(v1 "/api/v1/profile/${id[heap-010]}" -d report=flamegraph | jq .data.root.total),true]"
expect "diff flame graph: totals add up" "$(jq "$bad_nodes" <<<"$fd")" 0
expect "diff flame graph: every node's total is target - base" \
	"$(jq '[.. | objects | select(has("base")) | select(.total != .target - .base)] | length' <<<"$fd")" 0
expect_match "diff flame graph: frames of one side are marked" \
	"$(jq -c '[.. | objects | .only? // empty] | unique' <<<"$fd")" '"(base|target)"'
expect "diff flame graph: a frame marked only:target has no base" \
	"$(jq '[.. | objects | select(.only? == "target") | select(.base != 0)] | length' <<<"$fd")" 0

# ---- diff sandwich and meta ---------------------------------------------------
sd=$(v1 /api/v1/diff -d report=sandwich -d base="${id[heap-001]}" -d target="${id[heap-001]}" --data-urlencode 'function=runtime.main')
expect_match "diff sandwich of a profile with itself has nodes on both sides" \
	"$(jq '[(.data.callers, .data.callees) | .. | objects | select(has("base"))] | length' <<<"$sd")" '^([3-9]|[1-9][0-9]+)$'
expect "diff sandwich of a profile with itself: every total 0, base == target, nothing marked" \
	"$(jq '[(.data.callers, .data.callees) | .. | objects | select(has("children")) | select(.total != 0 or .self != 0 or .base != .target or has("only"))] | length' <<<"$sd")" 0
expect "diff sandwich of a profile with itself: base is the plain sandwich's cum" \
	"$(jq -c '[.data.callers.base, .data.callees.base]' <<<"$sd")" "[$cum,$cum]"
# heap-010 against heap-001: the function's cum in each file, from Go's -top
gocum() { # FILE FUNCTION: prints its cum (bytes) in go tool pprof -top -unit=B FILE
	gopprof "$TMP/go.cum" -top -unit=B -nodefraction=0 "$1" || return 1
	gorows "$TMP/go.cum" | awk -F'\t' -v f="$2" '$1 == f { print $3 }'
}
for fn in compress/flate.NewWriter 'main.(*server).cacheWorker'; do
	cb=$(gocum "$P/heap-001.pb.gz" "$fn") && ct=$(gocum "$P/heap-010.pb.gz" "$fn") || { notok "diff sandwich $fn: go tool pprof failed"; continue; }
	if [ -z "$cb" ] || [ -z "$ct" ]; then notok "diff sandwich $fn: Go printed no row for it"; continue; fi
	sd=$(v1 /api/v1/diff -d report=sandwich -d base="${id[heap-001]}" -d target="${id[heap-010]}" --data-urlencode "function=$fn")
	expect "diff sandwich $fn, heap-010 against heap-001: callers' and callees' roots are its cum in go tool pprof -top of each" \
		"$(jq -c '[.data.function, .data.callers.base, .data.callers.target, .data.callers.total, .data.callees.base, .data.callees.target]' <<<"$sd")" \
		"[\"$fn\",$cb,$ct,$((ct - cb)),$cb,$ct]"
	expect "diff sandwich $fn: totals add up, every total is target - base" \
		"$(jq "$bad_nodes + ([.. | objects | select(has(\"base\")) | select(.total != .target - .base)] | length)" <<<"$sd")" 0
done
sd=$(v1 /api/v1/diff -d report=sandwich -d base="${id[heap-001]}" -d target="${id[heap-010]}" --data-urlencode 'function=compress/flate.newHuffmanBitWriter')
expect "diff sandwich of a function only in the target: its roots marked only:target, base 0" \
	"$(jq -c '[.data.callers.only, .data.callers.base, .data.callees.only, (.data.callers.target > 0)]' <<<"$sd")" '["target",0,"target",true]'
sd=$(v1 /api/v1/diff -d report=sandwich -d base="${id[heap-001]}" -d target="${id[heap-010]}" --data-urlencode 'function=compress/flate.(*compressor).initDeflate')
expect "diff sandwich of a function only in the base: its roots marked only:base, target 0" \
	"$(jq -c '[.data.callers.only, .data.callers.target, (.data.callers.base > 0), ([.data.callers | .. | objects | select(has("children")) | .only] | unique)]' <<<"$sd")" '["base",0,true,["base"]]'
md=$(v1 /api/v1/diff -d report=meta -d base="${id[heap-001]}" --data-urlencode 'target_query=heap{service="ten"}')
expect "diff meta: {base, target}, each the meta of its side" \
	"$(jq -c '[(.data | keys), .data.base == $b, .data.target == $t]' --argjson b "$(v1 "/api/v1/profile/${id[heap-001]}" -d report=meta | jq .data)" \
		--argjson t "$(v1 /api/v1/merge -d report=meta --data-urlencode 'query=heap{service="ten"}' | jq .data)" <<<"$md")" \
	'[["base","target"],true,true]'
expect "diff meta: the target counts its 10 profiles" "$(jq -c '[.data.base.profiles, .data.target.profiles, .data.target.default_sample_type]' <<<"$md")" '[1,10,"inuse_space"]'

# ---- merge -----------------------------------------------------------------
compare_top "merge of the ten heap snapshots: top equals go tool pprof -top of the files" \
	"/api/v1/merge -d report=top -d limit=60 --data-urlencode 'query=heap{service=\"ten\"}'" \
	-nodecount=60 -unit=B "$P"/heap-0[01]?.pb.gz
m=$(v1 /api/v1/merge -d report=meta --data-urlencode 'query=heap{service="ten"}')
expect "merge meta counts 10 profiles" "$(jq .data.profiles <<<"$m")" 10
compare_top "diff by query: ten heaps against heap-001" \
	"/api/v1/diff -d report=top -d limit=30 -d base=${id[heap-001]} --data-urlencode 'target_query=heap{service=\"ten\"}'" \
	-nodecount=30 -unit=B -diff_base "$P/heap-001.pb.gz" "$P"/heap-0[01]?.pb.gz

# ---- query_range focus= --------------------------------------------------
# each profile's totals count the samples through a matching function: the
# total go tool pprof -focus accounts for (every node, -nodefraction=0)
qr=$(v1 /api/v1/query_range --data-urlencode 'query=heap{service="ten"}' --data-urlencode 'focus=catalog\.')
expect "query_range focus=: ten samples, each with the four sample types" \
	"$(jq -c '[.data[].samples[] | .totals | keys | length] | unique' <<<"$qr")" "[4]"
n=0
while read -r sid val; do
	n=$((n + 1))
	[ -n "${PROFEFE_TEST_SUBSET:-}" ] && [ $n -gt 3 ] && break
	f=${tenfile[$sid]:-}
	if [ -z "$f" ] || ! gopprof "$TMP/go.focus" -top -nodefraction=0 -sample_index=alloc_space -unit=B '-focus=catalog\.' "$f"; then
		notok "query_range focus: $(basename "$f") (no file, or go tool pprof failed)"
		continue
	fi
	want=$(sed -n 's/^Showing nodes accounting for \(-\{0,1\}[0-9]*\)B\{0,1\}, .*/\1/p' "$TMP/go.focus")
	expect "query_range focus=catalog: $(basename "$f" .pb.gz) alloc_space equals go tool pprof -focus's total" "$val" "$want"
done < <(jq -r '.data[].samples[] | "\(.id) \(.totals.alloc_space)"' <<<"$qr")
qr0=$(v1 /api/v1/query_range --data-urlencode 'query=heap{service="ten"}')
expect "query_range without focus keeps the stored totals" \
	"$(jq -c '[.data[].samples[].totals.alloc_space] | length' <<<"$qr0")" 10
expect "query_range focus matching everything equals the stored totals" \
	"$(v1 /api/v1/query_range --data-urlencode 'query=heap{service="ten"}' --data-urlencode 'focus=.' | jq -c '[.data[].samples[].totals]')" \
	"$(jq -c '[.data[].samples[].totals]' <<<"$qr0")"

# a client that hangs up: the query stops at its next check (where the
# deadline is checked: api_req_gone sees the socket's hang-up) instead of
# reading every profile; counted as refused{reason="query_canceled"}
canceled() { metric 'profefe_requests_refused_total{reason="query_canceled"}'; }
c0=$(canceled)
q="/api/v1/query_range?query=heap%7Bservice%3D%22ten%22%7D&focus=catalog%5C."
# the whole request, then close, with the server stopped (every thread:
# sigstop) so that it reads the request with the hang-up already there
# (its socket in CLOSE-WAIT): else a loaded machine may run the
# 10-profile query between our write and our close
sigstop "$PID"
if exec 3<>"/dev/tcp/127.0.0.1/$PORT"; then
	printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$q" >&3
	exec 3>&-
	for _ in $(seq 1 250); do
		[ -n "$(ss -Htn state close-wait "( sport = :$PORT )")" ] && break
		sleep 0.02
	done
else
	notok "connect to the server"
fi
kill -CONT "$PID"
wait_metric 'profefe_requests_refused_total{reason="query_canceled"}' -gt "${c0:-0}"
c1=$(canceled)
expect "query_range focus= whose client hung up: one query_canceled refusal" "$((${c1:-0} - ${c0:-0}))" 1
expect_match "... logged as stopped before reading every profile" \
	"$(grep 'msg="query canceled"' "$TMP/server.$SERVER_N.log" | tail -1)" 'stopped after (finding [0-9]+ profiles|reading [0-9] of 10 profiles)'
expect "a query_range focus= whose client waits is not canceled" \
	"$(v1 /api/v1/query_range --data-urlencode 'query=heap{service="ten"}' --data-urlencode 'focus=catalog\.' | jq -c '[.data[].samples[].totals.alloc_space]')/$(canceled)" \
	"$(jq -c '[.data[].samples[].totals.alloc_space]' <<<"$qr")/$c1"

# the same totals once the profiles are in a block (a restart flushes the
# head): tsdb_focus reads a block's rows as it reads the symbolized head's
stop_server
start_server "$TMP/data" || { notok "server restarts"; finish; }
expect "query_range focus= from a block equals the head's" \
	"$(v1 /api/v1/query_range --data-urlencode 'query=heap{service="ten"}' --data-urlencode 'focus=catalog\.' | jq -c '[.data[].samples[]]')" \
	"$(jq -c '[.data[].samples[]]' <<<"$qr")"

# ---- errors ------------------------------------------------------------------
err400() { # DESC REGEX PATH CURL-ARGS...
	local d=$1 re=$2 p=$3 code
	shift 3
	code=$(curl -sS -G -o "$TMP/err" -w '%{http_code}' "$URL$p" "$@")
	expect_match "$d: 400 bad_data naming it" "$code $(jq -r '"\(.errorType) \(.error)"' "$TMP/err")" "^400 bad_data .*$re"
}
H=/api/v1/profile/${id[heap-001]}
err400 "unknown sample type" 'unknown sample_index "nope": the profile has alloc_objects, alloc_space' "$H" -d report=top -d sample_index=nope
err400 "bad focus regex" 'bad focus regex "\(a": missing closing parenthesis' "$H" -d report=top --data-urlencode 'focus=(a'
err400 "bad hide regex" 'bad hide regex "\[": missing terminating \]' "$H" -d report=flamegraph --data-urlencode 'hide=['
err400 "bad tagfocus regex" 'bad tagfocus regex "\*"' "$H" -d report=top --data-urlencode 'tagfocus=k=*'
err400 "unknown report" 'unknown report "nope"' "$H" -d report=nope
err400 "unknown granularity" 'unknown granularity "addresses"' "$H" -d report=top -d granularity=addresses
err400 "a trace asked for a report" "profile \"${id[trace-001]}\" is a trace" "/api/v1/profile/${id[trace-001]}" -d report=flamegraph
err400 "a trace asked for pprof" "is a trace" "/api/v1/profile/${id[trace-001]}" -d report=pprof
err400 "sandwich without a function" 'function=NAME' "$H" -d report=sandwich
err400 "sandwich of a function in no sample" 'function "nope" is in no sample' "$H" -d report=sandwich -d function=nope
err400 "diff of different sample types" 'different sample types' /api/v1/diff -d report=top -d base="${id[cpu-001]}" -d target="${id[heap-001]}"
err400 "diff report=pprof" 'a diff has the reports top, flamegraph, sandwich and meta, not pprof' /api/v1/diff -d report=pprof -d base="${id[heap-001]}" -d target="${id[heap-001]}"
err400 "diff sandwich of a function on neither side" 'function "nope" is in no sample' /api/v1/diff -d report=sandwich -d function=nope -d base="${id[heap-001]}" -d target="${id[heap-010]}"
err400 "diff sandwich without a function" 'function=NAME' /api/v1/diff -d report=sandwich -d base="${id[heap-001]}" -d target="${id[heap-010]}"
err400 "diff sandwich of a trace" "base profile \"${id[trace-001]}\" is a trace" /api/v1/diff -d report=sandwich -d function=runtime.main -d base="${id[trace-001]}" -d target="${id[heap-001]}"
err400 "diff meta of a trace" "target profile \"${id[trace-001]}\" is a trace" /api/v1/diff -d report=meta -d base="${id[heap-001]}" -d target="${id[trace-001]}"
err400 "diff sandwich of different sample types" 'different sample types' /api/v1/diff -d report=sandwich -d function=runtime.main -d base="${id[cpu-001]}" -d target="${id[heap-001]}"
err400 "diff without a base" 'missing parameter "base"' /api/v1/diff -d report=top -d target="${id[heap-001]}"
err400 "merge of several types" 'finds profiles of [0-9]+ types \(.*cpu.*heap' /api/v1/merge -d report=top --data-urlencode 'query={service="rp"}'
err400 "merge with a bad selector" 'invalid parameter "query": 1:' /api/v1/merge -d report=top --data-urlencode 'query={service="rp"'
err400 "query_range with a bad focus regex" 'invalid parameter "focus": bad focus regex "\(": missing closing parenthesis' /api/v1/query_range --data-urlencode 'query=heap{service="ten"}' --data-urlencode 'focus=('
err400 "bad limit" 'invalid parameter "limit"' "$H" -d report=top -d limit=-1
code=$(curl -sS -o "$TMP/err" -w '%{http_code}' "$URL/api/v1/profile/AAAAAAAAAAAAAAAAAAAAAAAAAAA?report=top")
expect "unknown id: 404 not_found" "$code $(jq -r .errorType "$TMP/err")" "404 not_found"
code=$(curl -sS -G -o "$TMP/err" -w '%{http_code}' "$URL/api/v1/merge" -d report=top --data-urlencode 'query={service="nobody"}')
expect "merge finding nothing: 404 not_found" "$code $(jq -r .errorType "$TMP/err")" "404 not_found"

stop_server
finish
