#!/usr/bin/env bash
# The ClickHouse store (src/clickhouse) against a real clickhouse-server
# (tests/e2e/clickhouse.bash starts one on loopback), driven by
# tests/tools/ch-store, with go tool pprof as the judge (SPEC 10.2):
#
#   - every fixture (pprof and the trace) written and read back by id:
#     -raw equal to the original's (pprof), byte for byte (trace); the
#     meta carries the labels and the totals;
#   - the same file written by two writers (two nodes): two ids, both
#     fetchable and equal;
#   - the ten heap snapshots (written by ten writers: ten namespaces)
#     merged by selector, and three ids (one named twice) merged by ids:
#     -top for every sample index equal to go tool pprof's merge of the
#     same files;
#   - four threads appending into one namespace: every profile reads back
#     equal sample by sample;
#   - find (ascending, limit keeps the newest), series, label values/names;
#   - an insert sent three times (a retry whose replies were lost) is
#     found once and merges to the original's totals;
#   - a full write queue refuses appends (the server paused), and every
#     accepted one is stored once it resumes;
#   - an append while the server is down is retried until it is back;
#   - retention drops whole days older than the window, keeps the newer;
#     appends before the window or after now + max-future are refused;
#   - bad DSNs, an unreachable server, an unknown user and a database
#     with a newer schema version give errors naming the problem.
# Under the sanitizers (PROFEFE_TEST_SUBSET) heap-large-001 is left out
# of the round trip (its symbol queries take seconds on 18.16).
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/clickhouse.bash"

BUILD=${PROFEFE_BUILD:-build}
T=$ROOT/$BUILD/tests/tools/ch-store
INFO=$ROOT/$BUILD/tests/tools/pprof-info
P=$FIX/pprof
if [ ! -x "$T" ] || [ ! -x "$INFO" ]; then
	notok "$T and $INFO are built (make unit)"
	finish
fi
if ! command -v go >/dev/null 2>&1; then
	notok "go is installed (make deps installs golang-go)"
	finish
fi
t0=$(date +%s%N)
if ! ch_start; then
	notok "clickhouse-server starts and answers SELECT version()"
	finish
fi
ok "clickhouse-server $(ch_sql 'SELECT version()') answers on 127.0.0.1:$CH_HTTP ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"

D=$CH_DSN
norm() { grep -vE '^(File|Build ID|Main binary filename)'; }

# ---- round trip of every fixture -------------------------------------------
for f in "$P"/*.pb.gz "$P"/*.out; do
	name=$(basename "$f")
	[ -n "${PROFEFE_TEST_SUBSET:-}" ] && [ "$name" = heap-large-001.pb.gz ] && continue
	type=${name%%-*}
	id=$("$T" "$D" put -t 1795352768000000000 "$f" service=fx type="$type" file="$name" 2>"$TMP/err")
	if [ -z "$id" ]; then
		notok "$name: written ($(cat "$TMP/err"))"
		continue
	fi
	if ! meta=$("$T" "$D" get "$id" "$TMP/got" 2>"$TMP/err"); then
		notok "$name: read back by id $id ($(cat "$TMP/err"))"
		continue
	fi
	case $name in
	*.pb.gz)
		if gopprof "$TMP/want.raw" -raw "$f" && gopprof "$TMP/got.raw" -raw "$TMP/got"; then
			expect "$name: -raw of the profile read by id equals the original's" \
				"$(norm <"$TMP/got.raw" | md5sum)" "$(norm <"$TMP/want.raw" | md5sum)"
		else
			notok "$name: go tool pprof -raw reads both"
		fi
		totals=$("$INFO" "$f" | sed 's/.*totals=//')
		got=$(tr ' ' '\n' <<<"$meta" | sed -n 's/^[^=]*:\(-\?[0-9]*\)$/\1/p' | paste -sd, -)
		expect "$name: meta totals" "$got" "$totals"
		;;
	*)
		check "$name: the trace comes back byte for byte" cmp -s "$f" "$TMP/got" ;;
	esac
	expect_match "$name: meta labels" "$meta" " file=$name service=fx type=$type( |$)"
done

# ---- the same file from two writers ------------------------------------------
a=$("$T" "$D" put "$P/heap-001.pb.gz" service=twice type=heap)
b=$("$T" "$D" put "$P/heap-001.pb.gz" service=twice type=heap)
check "the same file from two writers gets two ids ($a, $b)" test -n "$a" -a -n "$b" -a "$a" != "$b"
"$T" "$D" get "$a" "$TMP/a.pb.gz" >/dev/null && "$T" "$D" get "$b" "$TMP/b.pb.gz" >/dev/null
check "both are fetchable and equal" same_profile "$TMP/a.pb.gz" "$TMP/b.pb.gz"
expect "find sees both" "$("$T" "$D" find 0 9223372036854775807 '{service="twice"}' | wc -l)" 2

# ---- merges ------------------------------------------------------------------
heaps=("$P"/heap-0[01][0-9].pb.gz)
ids=()
for f in "${heaps[@]}"; do
	ids+=("$("$T" "$D" put "$f" service=m type=heap)")
done
expect "ten heap snapshots written" "$(printf '%s\n' "${ids[@]}" | grep -c .)" 10
out=$("$T" "$D" merge-sel "$TMP/msel.pb.gz" 0 9223372036854775807 'heap{service="m"}' 2>&1)
expect "merge by selector takes the ten" "$out" "merged 10"
top() { gopprof "$1" -top -nodecount=100000 -nodefraction=0 -edgefraction=0 -sample_index="$2" "${@:3}"; }
for i in 0 1 2 3; do
	if top "$TMP/got.top" $i "$TMP/msel.pb.gz" && top "$TMP/want.top" $i "${heaps[@]}"; then
		expect "merge of ten (ten writers) equals go tool pprof's, sample index $i" \
			"$(grep -vE '^(File|Showing|Main)' "$TMP/got.top" | md5sum)" \
			"$(grep -vE '^(File|Showing|Main)' "$TMP/want.top" | md5sum)"
	else
		notok "go tool pprof -top reads both (sample index $i)"
	fi
done
out=$("$T" "$D" merge "$TMP/mids.pb.gz" "${ids[0]}" "${ids[1]}" "${ids[1]}" 2>&1)
expect "merge by ids counts an id named twice twice" "$out" "merged 3"
for i in 1 3; do
	if top "$TMP/got.top" $i "$TMP/mids.pb.gz" && top "$TMP/want.top" $i "${heaps[0]}" "${heaps[1]}" "${heaps[1]}"; then
		expect "merge by ids equals go tool pprof's of the same files, sample index $i" \
			"$(grep -vE '^(File|Showing|Main)' "$TMP/got.top" | md5sum)" \
			"$(grep -vE '^(File|Showing|Main)' "$TMP/want.top" | md5sum)"
	else
		notok "go tool pprof -top reads both (ids, sample index $i)"
	fi
done
out=$("$T" "$D" merge "$TMP/one.pb.gz" "${ids[4]}" 2>&1)
expect "a merge of one id is that profile" "$out" "merged 1"
if gopprof "$TMP/one.raw" -raw "$TMP/one.pb.gz" && gopprof "$TMP/want.raw" -raw "${heaps[4]}"; then
	expect "  -raw equal to the original's (nothing summed or dropped)" \
		"$(norm <"$TMP/one.raw" | md5sum)" "$(norm <"$TMP/want.raw" | md5sum)"
else
	notok "go tool pprof -raw reads both (merge of one)"
fi
out=$("$T" "$D" merge "$TMP/x.pb.gz" "${ids[0]}" "$a" 2>&1)
expect "merge of one service's heap with another's works" "$out" "merged 2"
out=$("$T" "$D" merge-sel "$TMP/x.pb.gz" 0 9223372036854775807 '{service="fx"}' 2>&1)
expect_match "merge of different sample types is refused, naming both" "$out" \
	'error: (sample types differ: \[.*\] and \[.*\]|can.t merge profiles of trace type)'
out=$("$T" "$D" merge-sel "$TMP/x.pb.gz" 0 9223372036854775807 '{service="nothing"}' 2>&1)
expect "merge of nothing" "$out" "error: no profiles found"

# ---- concurrent appends sharing symbols ------------------------------------------
# four threads of one writer append the same five snapshots into one service
# (one namespace: each batch sends the symbols not yet acknowledged, which
# others may be sending too); every profile reads back sample for sample
out=$("$T" "http://127.0.0.1:$CH_HTTP/?database=conc" concurrent 4 "${heaps[@]:0:5}" 2>&1)
expect "concurrent appends sharing symbols all read back equal" "$out" "ok 20 differ 0 failed 0"

# ---- find, series, labels ------------------------------------------------------
"$T" "$D" find 0 9223372036854775807 'heap{service="m"}' >"$TMP/found"
expect "find returns the ten" "$(wc -l <"$TMP/found")" 10
check "find is ascending by time" cmp -s "$TMP/found" <(sort -k2,2n -k1,1 "$TMP/found")
expect "find with limit 3 keeps the newest three" \
	"$("$T" "$D" find 0 9223372036854775807 'heap{service="m"}' 3)" "$(tail -n 3 "$TMP/found")"
t3=$(sed -n 3p "$TMP/found" | cut -d' ' -f2)
expect "find with a time range" "$("$T" "$D" find "$t3" "$t3" 'heap{service="m"}')" "$(sed -n 3p "$TMP/found")"
expect "find with a regex and a negative matcher" \
	"$("$T" "$D" find 0 9223372036854775807 '{service=~"m|twice", service!="twice", type=~"he.*"}' | wc -l)" 10
expect "series" "$("$T" "$D" series 0 9223372036854775807 '{service=~"m|twice"}')" \
	"$(printf 'service=m,type=heap 10\nservice=twice,type=heap 2')"
expect "label values of service" "$("$T" "$D" values service | paste -sd' ')" "fx m twice"
expect "label names" "$("$T" "$D" names | paste -sd' ')" "file service type"
out=$("$T" "$D" find 0 1 '{service=~"("}' 2>&1)
expect_match "a bad regex is an error naming it" "$out" 'error: .*"\("'

# ---- a retried insert does not double-count -----------------------------------
r=$("$T" "$D" put -repeat 2 "$P/heap-003.pb.gz" service=r type=heap)
rows=$(ch_sql "SELECT count() FROM profefe_test.profiles WHERE series_id IN (SELECT series_id FROM profefe_test.series WHERE service = 'r')")
echo "# rows of the thrice-sent insert in profiles now: $rows (the ReplacingMergeTree collapses them in the background)"
expect "an insert sent three times is found once" \
	"$("$T" "$D" find 0 9223372036854775807 '{service="r"}' | cut -d' ' -f1)" "$r"
out=$("$T" "$D" merge-sel "$TMP/r.pb.gz" 0 9223372036854775807 '{service="r"}')
expect "and merges once" "$out" "merged 1"
expect "to the original's totals" "$("$INFO" "$TMP/r.pb.gz" | sed 's/.*totals=//')" \
	"$("$INFO" "$P/heap-003.pb.gz" | sed 's/.*totals=//')"

# ---- a full queue refuses, never drops ------------------------------------------
# the server paused (SIGSTOP): one batch hangs in the writer, QMAX wait,
# the rest are refused (PF_EBUSY, a 503 to the pusher); after SIGCONT every
# accepted one is stored
out=$("$T" "http://127.0.0.1:$CH_HTTP/?database=flood" flood "$CH_PID" 20 3 "$P/heap-001.pb.gz" 2>&1)
echo "# flood: $out"
if [[ $out =~ ^ok\ ([0-9]+)\ busy\ ([0-9]+)\ other\ ([0-9]+)\ readback\ ([0-9]+)$ ]]; then
	check "a full queue refuses appends (busy ${BASH_REMATCH[2]} of 20)" test "${BASH_REMATCH[2]}" -ge 1
	expect "every append is accepted or refused, nothing else" \
		"$((BASH_REMATCH[1] + BASH_REMATCH[2])) ${BASH_REMATCH[3]}" "20 0"
	expect "every accepted append is stored once the server resumes" "${BASH_REMATCH[4]}" "${BASH_REMATCH[1]}"
else
	notok "flood ran ($out)"
fi
kill -CONT "$CH_PID" 2>/dev/null

# ---- the server goes away and comes back: the writer retries ----------------------
# (the writer opens first, then the server stops, then the append starts)
"$T" "$D" put -attempts 12 -t 1795352768000000000 -sync "$TMP/sync" "$P/heap-004.pb.gz" \
	service=back type=heap >"$TMP/id" 2>"$TMP/err" &
putter=$!
for _ in $(seq 1 600); do [ -f "$TMP/sync.ready" ] && break; sleep 0.05; done
ch_restart_later 2
touch "$TMP/sync.go"
wait $putter
id=$(cat "$TMP/id")
ch_wait_restart
check "clickhouse-server is back" test -n "$CH_PID"
retries=$(sed -n 's/^# writer retries: //p' "$TMP/err")
check "an append while the server is down is retried ($retries retries) and acknowledged" \
	test -n "$id" -a "${retries:-0}" -ge 1
"$T" "$D" get "$id" "$TMP/back.pb.gz" >/dev/null 2>&1
check "and it is stored" same_profile "$TMP/back.pb.gz" "$P/heap-004.pb.gz"
out=$("$T" "http://127.0.0.1:$(ch__free_port)/?database=x" put -t 1795352768000000000 "$P/heap-004.pb.gz" 2>&1)
expect_match "no server at all: open fails naming it" "$out" 'error: clickhouse http://127.0.0.1:[0-9]+/: '

# ---- retention by day partitions -----------------------------------------------
day=86400000000000
base=1795352768000000000
old=$("$T" "$D" put -t $((base + 2 * day)) "$P/heap-002.pb.gz" service=ret type=heap)
new=$("$T" "$D" put -t $((base + 5 * day)) "$P/heap-002.pb.gz" service=ret type=heap)
days_before=$(ch_sql "SELECT count(DISTINCT partition) FROM system.parts WHERE database = 'profefe_test' AND table = 'profiles' AND active")
out=$("$T" "$D" put -retention $day -t $((base + 3 * day)) "$P/heap-002.pb.gz" service=ret type=heap 2>&1)
expect_match "an append before the retention window is refused" "$out" \
	'error: profile time 2026-11-25T.*Z is before the retention window, which starts at 2026-11-26T.*Z \(-tsdb.retention 1d before 2026-11-27T.*Z, the newest profile.s time\)'
out=$("$T" "$D" put -max-future 600000000000 -t $(($(date +%s) * 1000000000 + 3600000000000)) "$P/heap-002.pb.gz" service=ret type=heap 2>&1)
expect_match "an append dated after now + max-future is refused" "$out" \
	"error: profile time .* is more than -tsdb.max-future 10m after the server's time"
out=$("$T" "$D" retain $day)
expect "retention of 1 day drops the two older days" "$out" "dropped 2"
days_after=$(ch_sql "SELECT count(DISTINCT partition) FROM system.parts WHERE database = 'profefe_test' AND table = 'profiles' AND active")
expect "profiles' partitions: $days_before before, 1 after" "$days_after" 1
for t in series stacks locations functions mappings; do
	expect "$t holds the newest day only" \
		"$(ch_sql "SELECT groupUniqArray(partition) FROM system.parts WHERE database = 'profefe_test' AND table = '$t' AND active")" \
		"$(ch_sql "SELECT groupUniqArray(partition) FROM system.parts WHERE database = 'profefe_test' AND table = 'profiles' AND active")"
done
out=$("$T" "$D" get "$old" "$TMP/x" 2>&1)
expect_match "a dropped profile is not found" "$out" "error: no profile with id $old"
check "the newer one is still read" "$T" "$D" get "$new" "$TMP/x"
expect "a second retention drops nothing" "$("$T" "$D" retain $day)" "dropped 0"

# ---- errors ---------------------------------------------------------------------
bad() {
	local desc=$1 dsn=$2 want=$3 out
	out=$("$T" "$dsn" open 2>&1)
	expect_match "$desc" "$out" "$want"
}
bad "a DSN without a scheme" "127.0.0.1:8123/?database=x" 'no scheme'
bad "a DSN with another scheme" "tcp://127.0.0.1:9000/?database=x" 'scheme "tcp" is not http or https'
bad "a DSN without database" "http://127.0.0.1:$CH_HTTP/" 'missing database= parameter'
bad "a DSN with a bad database name" "http://127.0.0.1:$CH_HTTP/?database=a-b" 'database "a-b" is not a name'
bad "a DSN with a bad port" "http://127.0.0.1:99999/?database=x" 'port "99999" is not a number in 1..65535'
bad "a DSN with an unknown parameter" "http://127.0.0.1:$CH_HTTP/?database=x&pasword=y" 'unknown parameter "pasword"'
bad "a DSN with a path" "http://127.0.0.1:$CH_HTTP/db?database=x" 'path "/db"'
bad "an unreachable server" "http://127.0.0.1:$(ch__free_port)/?database=x" \
	"error: clickhouse http://127.0.0.1:[0-9]+/: .*(onnect|refused)"
bad "an unknown user: ClickHouse's own message" "http://127.0.0.1:$CH_HTTP/?database=x&user=nobody" \
	'HTTP [0-9]+ .*Unknown user nobody'
check "a second database opens (schema created there)" "$T" "http://127.0.0.1:$CH_HTTP/?database=newer" open
ch_sql "INSERT INTO newer.schema_version (version) VALUES (99)" >/dev/null
bad "a newer schema version is refused" "http://127.0.0.1:$CH_HTTP/?database=newer" \
	'database newer has schema version 99, newer than this build.s 1'
check "opening again is idempotent" "$T" "$D" open

ch_stop
finish
