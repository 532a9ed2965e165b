#!/usr/bin/env bash
# /api/v1 against a real server (SPEC §6, §10.5, §10.6): the fixtures are
# pushed under a few services and labels, and every reply is checked with jq
# against an expectation the script computes itself: from a ledger of what
# it pushed, with times and totals read by `go tool pprof -raw` from the
# fixture files, and selectors evaluated by jq predicates.
source "$(dirname "$0")/lib.bash"

P=$FIX/pprof
LEDGER=$TMP/ledger.jsonl
: >"$LEDGER"

# pprof_totals FILE: {"sample_type": total, ...}: the sample types from
# go tool pprof -raw, each total from -top's "of N total" (-raw leaves out
# samples with an empty stack; -top counts them). Fails when Go does, or
# prints no total.
pprof_totals() {
	local f=$1 out='{}' st ty un z u
	gopprof "$TMP/totals.raw" -raw "$f" || return 1
	for st in $(sed -n '/^Samples:/{n;p;q}' "$TMP/totals.raw"); do
		ty=${st%%/*}
		un=${st#*/}
		un=${un%%[*}
		case $un in bytes) u=-unit=B ;; nanoseconds) u=-unit=ns ;; *) u=-unit=minimum ;; esac
		gopprof "$TMP/totals.top" -top -sample_index="$ty" "$u" "$f" || return 1
		z=$(sed -n 's/^Showing nodes accounting for .* of \(-\{0,1\}[0-9]*\)[a-zA-Z]* total.*/\1/p' "$TMP/totals.top")
		[ -n "$z" ] || { echo "# no total for $ty in go tool pprof -top of $f" >&2; return 1; }
		out=$(jq -c --arg k "$ty" --argjson v "$z" '. + {($k): $v}' <<<"$out")
	done
	[ "$out" != '{}' ] || return 1
	echo "$out"
}

# raw_time_ms FILE: the profile's time in Unix ms, from go tool pprof -raw
# (fails when Go does, or prints no time)
raw_time_ms() {
	local t
	gopprof "$TMP/time.raw" -raw "$1" || return 1
	t=$(sed -n 's/^Time: \(.*\) +0000 UTC$/\1/p' "$TMP/time.raw" | head -1)
	[ -n "$t" ] || return 1
	date -u -d "$t UTC" +%s%3N
}

# add FILE SERVICE TYPE LABELS_JSON QUERY_EXTRA [TIME_MS]: push FILE and
# record what was pushed. LABELS_JSON holds the labels beyond service and
# type, as the series must carry them.
add() {
	local file=$1 svc=$2 type=$3 labels=$4 extra=$5 t=${6:-} r id totals
	r=$(curl -sS --data-binary @"$file" "$URL/api/0/profiles?service=$svc&type=$type$extra")
	id=$(jq -r '.body.id // empty' <<<"$r")
	if [ -z "$id" ]; then
		notok "push $(basename "$file") as $svc/$type: $r"
		return
	fi
	if [ "$type" = trace ]; then totals='{}'; else
		totals=$(pprof_totals "$file") || { notok "go tool pprof reads the totals of $(basename "$file")"; return; }
	fi
	if [ -z "$t" ]; then
		t=$(raw_time_ms "$file") || { notok "go tool pprof reads the time of $(basename "$file")"; return; }
	fi
	jq -cn --arg id "$id" --argjson t "$t" --arg s "$svc" --arg ty "$type" \
		--argjson l "$labels" --argjson tot "$totals" \
		'{id: $id, t: $t, labels: ($l + {service: $s, type: $ty} | to_entries | sort_by(.key) | from_entries), totals: $tot}' >>"$LEDGER"
}

# sort key of a label set as Prometheus compares them (name, value, pair by pair)
KEY='(.labels | to_entries | map([.key, .value]))'

# want_qr PREDICATE [START_MS END_MS [LIMIT]]: the expected query_range data
want_qr() {
	jq -cSs --argjson lo "${2:-null}" --argjson hi "${3:-null}" --argjson lim "${4:-0}" "
		[.[] | select($1) | select((\$lo == null or .t >= \$lo) and (\$hi == null or .t <= \$hi))]
		| group_by($KEY)
		| map({labels: .[0].labels, samples: (sort_by(.t, .id) | if \$lim > 0 then .[-\$lim:] else . end | map({id, t, totals}))})
		| sort_by($KEY)" "$LEDGER"
}
want_series() { jq -cSs "[.[] | select($1)] | group_by($KEY) | map(.[0]) | sort_by($KEY) | map(.labels)" "$LEDGER"; }
want_names() { jq -cs "[.[] | select($1) | .labels | keys[]] | unique" "$LEDGER"; }
want_values() { jq -cs --arg n "$2" "[.[] | select($1) | .labels[\$n] // empty] | unique" "$LEDGER"; }

# get PATH ARGS...: GET with --data-urlencode'd ARGS; prints "STATUS BODY"
get() {
	local p=$1 a=()
	shift
	for x in "$@"; do a+=(--data-urlencode "$x"); done
	req GET "$p" -G "${a[@]}"
}
# data PATH ARGS...: the data of a 200 success reply, sorted keys (or the whole reply)
data() {
	local r
	r=$(get "$@")
	if [ "${r%% *}" = 200 ] && [ "$(jq -r .status <<<"${r#* }")" = success ]; then
		jq -cS .data <<<"${r#* }"
	else
		echo "$r"
	fi
}

start_server "$TMP/data" || { notok "server starts"; finish; }
ok "server starts"

# ---- empty store
expect "query_range on an empty store: []" "$(data /api/v1/query_range 'query={service="api"}')" '[]'
expect "labels on an empty store: []" "$(data /api/v1/labels)" '[]'
expect "status/tsdb on an empty store: 0 series, 0 profiles" "$(data /api/v1/status/tsdb | jq -c '[.series, .profiles]')" '[0,0]'

# ---- push: services api (env prod/dev), a, ab, billing (instances)
add "$P/heap-001.pb.gz" api heap '{"env":"prod"}' '&labels=env=prod'
add "$P/heap-002.pb.gz" api heap '{"env":"prod"}' '&labels=env=prod'
add "$P/heap-003.pb.gz" api heap '{"env":"prod"}' '&labels=env=prod'
add "$P/heap-004.pb.gz" api heap '{"env":"dev"}' '&labels=env=dev'
add "$P/cpu-001.pb.gz" api cpu '{"env":"dev"}' '&labels=env=dev'
add "$P/cpu-002.pb.gz" ab cpu '{}' ''
add "$P/cpu-003.pb.gz" ab cpu '{}' ''
add "$P/goroutine-001.pb.gz" a goroutine '{}' ''
add "$P/mutex-001.pb.gz" billing mutex '{"instance":"10.0.0.1:6060","region":"eu"}' '&labels=region=eu&instance_id=10.0.0.1:6060'
add "$P/block-001.pb.gz" billing block '{"instance":"10.0.0.1:6060","region":"eu"}' '&labels=region=eu&instance_id=10.0.0.1:6060'
add "$P/allocs-001.pb.gz" billing allocs '{"instance":"192.168.1.1:6060"}' '&instance_id=192.168.1.1:6060'
add "$FIX/pprof/trace-001.out" ab trace '{}' '&created_at=2026-11-22T13:06:20.5Z' 1795352780500
expect "ledger holds every push" "$(wc -l <"$LEDGER")" 12

# ---- query_range: one check per operator and form
q() { # DESC SELECTOR PREDICATE
	expect "query_range $1: $2" "$(data /api/v1/query_range "query=$2")" "$(want_qr "$3")"
}
q "=" '{service="api"}' '.labels.service == "api"'
q "type name" 'heap{service="api"}' '.labels.service == "api" and .labels.type == "heap"'
q "type name alone" 'cpu' '.labels.type == "cpu"'
q "!=" '{service="api", env!="prod"}' '.labels.service == "api" and (.labels.env // "") != "prod"'
q "=~" '{type=~"heap|cpu"}' '.labels.type | test("^(heap|cpu)$")'
q "!~" '{service!~"a.*", type=~".+"}' '.labels.service | test("^(a.*)$") | not'
q "=~ is anchored" '{service=~"a"}' '.labels.service == "a"'
q "!~ with an escaped dot" '{service="billing", instance!~"10\\..*"}' '.labels.service == "billing" and ((.labels.instance // "") | test("^(10\\..*)$") | not)'
q "empty value = missing label" '{service=~"a.*", env=""}' '(.labels.service | test("^a.*$")) and .labels.env == null'
q "!=\"\" = label present" '{env!=""}' '.labels.env != null'
q "quotes and whitespace" " { service = 'api' , env = \`dev\` , } " '.labels.service == "api" and .labels.env == "dev"'
q "no match" '{service="nosuch"}' 'false'

r=$(get /api/v1/query_range 'query={service="api"}')
expect "query_range: 200, Content-Type application/json" "${r%% *} $(curl -sS -o /dev/null -w '%{content_type}' "$URL/api/v1/query_range?query=cpu")" "200 application/json"
expect "query_range: envelope" "$(jq -c 'keys' <<<"${r#* }")" '["data","status"]'
# one sample type checked on its own, against go tool pprof -top of the files
got=$(data /api/v1/query_range 'query=heap{env="prod"}' | jq -c '[.[0].samples[].totals.inuse_space]')
want=$(for f in heap-001 heap-002 heap-003; do pprof_totals "$P/$f.pb.gz" || echo "go tool pprof failed on $f"; done | jq -c '.inuse_space' | jq -cs .)
expect "query_range: inuse_space totals are the fixtures' (go tool pprof -top)" "$got" "$want"
got=$(data /api/v1/query_range 'query=goroutine' | jq -c '.[0].samples[0].totals')
expect "query_range: goroutine total counts the sample with an empty stack" "$got" '{"goroutine":63}'
got=$(data /api/v1/query_range 'query={service="ab", type="cpu"}' | jq -c '[.[0].samples[].t]')
expect "query_range: t is the profile time in Unix ms, ascending" "$got" "[$(raw_time_ms "$P/cpu-002.pb.gz"),$(raw_time_ms "$P/cpu-003.pb.gz")]"
expect "query_range: a trace has empty totals" "$(data /api/v1/query_range 'query=trace' | jq -c '.[0].samples[0].totals')" '{}'

# limit: the newest N of each series, ascending
expect "query_range limit=2: newest 2 per series" "$(data /api/v1/query_range 'query={service=~"api|ab"}' limit=2)" "$(want_qr '.labels.service | test("^(api|ab)$")' null null 2)"
expect "query_range limit=1 on several series" "$(data /api/v1/query_range 'query={type=~".+"}' limit=1 | jq -c '[.[] | .samples | length] | unique')" '[1]'
expect "query_range limit=0: all" "$(data /api/v1/query_range 'query={service="api"}' limit=0)" "$(want_qr '.labels.service == "api"')"

# time ranges: both ends included, in ms, seconds or RFC 3339
t1=$(raw_time_ms "$P/heap-002.pb.gz")
t2=$(raw_time_ms "$P/heap-003.pb.gz")
sel='query=heap{env="prod"}'
expect "range [t(heap-002), t(heap-003)] in ms: both ends included" "$(data /api/v1/query_range "$sel" start=$t1 end=$t2)" "$(want_qr '.labels.env == "prod"' "$t1" "$t2")"
expect "range: both ends included (2 profiles)" "$(data /api/v1/query_range "$sel" start=$t1 end=$t2 | jq '.[0].samples | length')" 2
expect "range [t1+1, t2-1]: neither" "$(data /api/v1/query_range "$sel" start=$((t1 + 1)) end=$((t2 - 1)))" '[]'
expect "range start=end=t1: exactly one" "$(data /api/v1/query_range "$sel" start=$t1 end=$t1 | jq -c '[.[0].samples[].t]')" "[$t1]"
expect "range with only start" "$(data /api/v1/query_range "$sel" start=$t2)" "$(want_qr '.labels.env == "prod"' "$t2" null)"
expect "range with only end" "$(data /api/v1/query_range "$sel" end=$t1)" "$(want_qr '.labels.env == "prod"' null "$t1")"
s1=$(printf '%d.%03d' $((t1 / 1000)) $((t1 % 1000)))
expect "range in Unix seconds with a fraction" "$(data /api/v1/query_range "$sel" start=$s1 end=$s1 | jq -c '[.[0].samples[].t]')" "[$t1]"
r1=$(date -u -d "@$((t1 / 1000))" +%Y-%m-%dT%H:%M:%S).$(printf %03d $((t1 % 1000)))Z
expect "range in RFC 3339" "$(data /api/v1/query_range "$sel" "start=$r1" "end=$r1" | jq -c '[.[0].samples[].t]')" "[$t1]"
expect "range in RFC 3339 with an offset" "$(data /api/v1/query_range "$sel" 'start=2026-11-22T14:06:09+01:00' 'end=2026-11-22T14:06:10+01:00' | jq -c '[.[0].samples[].t]')" "[$t1]"

# ---- query_range errors
# e PATH ARGS...: "STATUS BODY" with the body as compact JSON, keys in the
# server's order (jq 1.6: lib.bash's jq, gojq, sorts them)
e() {
	local r
	r=$(get "$@")
	printf '%s %s' "${r%% *}" "$(command jq -c . <<<"${r#* }" 2>/dev/null || echo "${r#* }")"
}
expect "syntax error: 400 naming the column" "$(e /api/v1/query_range 'query={service="api",env}')" \
	'400 {"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:19: parse error: unexpected \"}\", expected a label matcher operator (\"=\", \"!=\", \"=~\" or \"!~\")"}'
expect "unterminated selector: 400 at the end" "$(e /api/v1/query_range 'query={service="api"')" \
	'400 {"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:15: parse error: unexpected end of input, expected \",\" or \"}\""}'
expect "bad regex: 400 at its column" "$(e /api/v1/query_range 'query={service=~"a("}')" \
	'400 {"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:11: parse error: invalid regular expression \"a(\" for label \"service\": missing closing parenthesis at offset 2 of the pattern"}'
expect "{}: 400" "$(e /api/v1/query_range 'query={}')" \
	'400 {"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:1: parse error: a selector needs at least one matcher that does not match the empty string (like {service=\"api\"})"}'
expect "{a=\"\"}: 400" "$(e /api/v1/query_range 'query={a=""}' | cut -c1-3)" 400
expect "missing query: 400" "$(e /api/v1/query_range)" \
	'400 {"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:1: parse error: unexpected end of input, expected a type name or \"{\""}'
expect "bad start: 400" "$(e /api/v1/query_range 'query=cpu' start=yesterday)" \
	'400 {"status":"error","errorType":"bad_data","error":"invalid parameter \"start\": cannot parse \"yesterday\" as a time (want RFC 3339, Unix seconds or Unix milliseconds)"}'
expect "bad end: 400" "$(e /api/v1/query_range 'query=cpu' end=2026-13-01T00:00:00Z | cut -c1-3)" 400
expect "time past int64 ns: 400" "$(e /api/v1/query_range 'query=cpu' end=9999-01-01T00:00:00Z | cut -c1-3)" 400
expect "start after end: 400" "$(e /api/v1/query_range 'query=cpu' start=$t2 end=$t1)" \
	'400 {"status":"error","errorType":"bad_data","error":"invalid parameter \"end\": end timestamp must not be before start time"}'
expect "bad limit: 400" "$(e /api/v1/query_range 'query=cpu' limit=-1)" \
	'400 {"status":"error","errorType":"bad_data","error":"invalid parameter \"limit\": cannot parse \"-1\" as a non-negative integer"}'

# ---- series
expect "series: one selector" "$(data /api/v1/series 'match[]={service="billing"}')" "$(want_series '.labels.service == "billing"')"
expect "series: union of selectors" "$(data /api/v1/series 'match[]=heap' 'match[]={service=~"a|ab"}' 'match[]={env="prod"}')" \
	"$(want_series '.labels.type == "heap" or (.labels.service | test("^(a|ab)$")) or .labels.env == "prod"')"
expect "series: in a range" "$(data /api/v1/series 'match[]={service="api"}' start=$t1 end=$t2)" '[{"env":"prod","service":"api","type":"heap"}]'
expect "series: no match" "$(data /api/v1/series 'match[]={service="x"}')" '[]'
expect "series without match[]: 400" "$(e /api/v1/series)" '400 {"status":"error","errorType":"bad_data","error":"no match[] parameter provided"}'
expect "series with a bad match[]: 400 naming the column" "$(e /api/v1/series 'match[]=cpu' 'match[]={a=~"x"} y')" \
	'400 {"status":"error","errorType":"bad_data","error":"invalid parameter \"match[]\": 1:10: parse error: unexpected name \"y\", expected end of input"}'

# ---- labels and label values
expect "labels: every name, sorted" "$(data /api/v1/labels)" "$(want_names true)"
expect "labels with match[]" "$(data /api/v1/labels 'match[]={service="billing"}')" "$(want_names '.labels.service == "billing"')"
expect "labels in a range" "$(data /api/v1/labels start=$t1 end=$t2)" '["env","service","type"]'
expect "label values: service" "$(data /api/v1/label/service/values)" "$(want_values true service)"
expect "label values: type" "$(data /api/v1/label/type/values)" "$(want_values true type)"
expect "label values with match[]" "$(data /api/v1/label/instance/values 'match[]={region="eu"}' 'match[]=allocs')" \
	"$(want_values '.labels.region == "eu" or .labels.type == "allocs"' instance)"
expect "label values in a range" "$(data /api/v1/label/type/values start=$t1 end=$t2)" '["heap"]'
expect "label values of an unknown name: []" "$(data /api/v1/label/nosuch/values)" '[]'
expect "label values of a bad name: 400" "$(e /api/v1/label/1a/values)" '400 {"status":"error","errorType":"bad_data","error":"invalid label name: \"1a\""}'

# ---- status
st=$(data /api/v1/status/tsdb)
expect "status/tsdb: series and profiles as pushed" "$(jq -c '[.series, .profiles]' <<<"$st")" "$(jq -cs '[(map(.labels) | unique | length), length]' "$LEDGER")"
embedded_only "status/tsdb's bytes, blocks, head and WAL are the embedded store's" ||
	expect "status/tsdb: bytes (blocks + WAL) and WAL fsyncs" "$(jq -c '[.bytes > 0, .wal.bytes + .blocks.bytes == .bytes, .wal.fsyncs >= 1, .head.profiles + .blocks.profiles == .profiles]' <<<"$st")" '[true,true,true,true]'
bi=$(data /api/v1/status/buildinfo)
v0=$(curl -sS "$URL/api/0/version")
expect "status/buildinfo: version, revision, buildDate as /api/0/version" "$(jq -c '[.version, .revision, .buildDate]' <<<"$bi")" "$(jq -c '[.body.version, .body.commit, .body.build_time]' <<<"$v0")"

# ---- paths and methods
expect "unknown /api/v1 path: 404 in the envelope" "$(e /api/v1/nosuch)" '404 {"status":"error","errorType":"not_found","error":"unknown API endpoint \"/api/v1/nosuch\""}'
expect "/api/v1: 404" "$(e /api/v1 | cut -c1-3)" 404
expect "POST query_range: 405" "$(req POST '/api/v1/query_range?query=cpu' | cut -c1-3)" 405
expect "DELETE labels: 405 in the envelope" "$(req DELETE /api/v1/labels | cut -d' ' -f2- | jq -c '[.status, .errorType]')" '["error","bad_data"]'
expect "HEAD labels: 200" "$(curl -sS -o /dev/null -I -w '%{http_code}' "$URL/api/v1/labels")" 200
m=$(curl -sS "$URL/metrics")
expect_match "metrics: query_range counted" "$m" 'profefe_http_requests_total\{route="/api/v1/query_range",method="GET",code="200"\} [1-9]'
expect_match "metrics: query_range 400s counted" "$m" 'profefe_http_requests_total\{route="/api/v1/query_range",method="GET",code="400"\} [1-9]'
expect_match "metrics: label values counted under one route" "$m" 'profefe_http_requests_total\{route="/api/v1/label/:name/values",method="GET",code="200"\} [1-9]'
expect_match "metrics: unknown /api/v1 paths counted" "$m" 'profefe_http_requests_total\{route="/api/v1/other",method="GET",code="404"\} [1-9]'

# ---- the same answers after a restart
before=$(data /api/v1/query_range 'query={type=~".+"}')
stop_server
start_server "$TMP/data" || { notok "server restarts"; finish; }
expect "query_range after a restart: the same" "$(data /api/v1/query_range 'query={type=~".+"}')" "$before"
expect "query_range after a restart: everything pushed" "$before" "$(want_qr true)"

finish
