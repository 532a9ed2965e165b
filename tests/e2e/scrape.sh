#!/usr/bin/env bash
# Scraping end to end: two real hotapp processes and profefe with a 2 s
# interval. Every enabled type of both lands as a series with the right
# labels; go tool pprof opens merges of them; a target that dies turns
# down with the error and comes back up; reloads (SIGHUP, POST /-/reload)
# add and remove targets, keeping the others; a broken file changes
# nothing. A misbehaving target (tests/e2e/badtarget: slow, endless body,
# HTML, redirect loop, 404, empty block and mutex profiles) is bounded and
# reported in /api/v1/targets and /metrics. Basic auth, bearer token files,
# params, path_prefix and TLS settings reach the target.
source "$(dirname "$0")/lib.bash"

GOENV=(GOCACHE="$ROOT/build/go-cache" GOPATH="$ROOT/build/go-path" GOFLAGS= GOPROXY=off GOTOOLCHAIN=local)
APIDS=()
cleanup_all() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	for p in "${APIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
}
trap cleanup_all EXIT

# wait_until SECONDS CMD...: polls CMD every 0.2 s; status of the last try
wait_until() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 5; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	"$@" >/dev/null 2>&1
}

# start_app NAME BIN [args]: runs a Go helper that prints its address;
# sets APP_PORT and APP_PID.
start_app() {
	local name=$1 log=$TMP/$1.log
	shift
	"$@" 2>"$log" &
	APP_PID=$!
	APIDS+=("$APP_PID")
	APP_PORT=
	for _ in $(seq 1 200); do
		APP_PORT=$(sed -n 's/.*serving .*on http:\/\/127.0.0.1:\([0-9]*\)\/.*/\1/p' "$log" | head -1)
		[ -n "$APP_PORT" ] && return 0
		kill -0 "$APP_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "# $name did not start:"
	sed 's/^/#   /' "$log" | tail -5
	return 1
}

targets() { curl -s "$URL/api/v1/targets"; }
# tq JQ: a jq query over /api/v1/targets' activeTargets
tq() { targets | jq -r "$1"; }
# the health of every pair of an instance: "up" when all are up, ...
health_of() { tq "[.data.activeTargets[] | select(.labels.instance == \"$1\") | .health] | unique | join(\",\")"; }
is_health() { [ "$(health_of "$1")" = "$2" ]; }

# ---- build and start the targets -------------------------------------------
if make --no-print-directory hotapp >"$TMP/build.log" 2>&1 &&
	(cd tests/e2e/badtarget && env "${GOENV[@]}" go build -trimpath -o "$TMP/badtarget" .) >>"$TMP/build.log" 2>&1; then
	ok "build hotapp and the misbehaving target"
else
	notok "build hotapp and the misbehaving target"
	sed 's/^/#   /' "$TMP/build.log" | tail -20
	finish
fi
HOT=(build/hotapp -addr 127.0.0.1:0 -load 0.01 -workers 1 -cache-mib 8 -background 0.1 -duration 300s)
start_app hotA "${HOT[@]}" || finish
PA=$APP_PORT
start_app hotB "${HOT[@]}" || finish
PB=$APP_PORT
PIDB=$APP_PID
start_app bad "$TMP/badtarget" -tls-cert "$TMP/cert.pem" || finish
PC=$APP_PORT
PCT=$(sed -n 's/.*serving tls on https:\/\/127.0.0.1:\([0-9]*\)\/.*/\1/p' "$TMP/bad.log")
A=127.0.0.1:$PA B=127.0.0.1:$PB C=127.0.0.1:$PC

CONF=$TMP/profefe.yaml
# write_config HOTAPP_TARGETS [EXTRA]: the hotapp job scrapes the given
# targets ("'a', 'b'"); the bad job scrapes the misbehaving target.
write_config() {
	cat >"$CONF" <<EOF
global:
  scrape_interval: 2s
  external_labels: {env: e2e}
scrape_configs:
  - job_name: hotapp
    static_configs:
      - targets: [$1]
        labels: {service: hot, team: t1}
    profiling_config:
      pprof_config:
        cpu: {seconds: 1}
  - job_name: bad
    scrape_timeout: 3s
    static_configs:
      - targets: ['$C']
    profiling_config:
      pprof_config:
        cpu: {enabled: false}
        heap: {enabled: false}
        allocs: {enabled: false}
        goroutine: {enabled: false}
        threadcreate: {enabled: false}
        slow: {path: /slow, seconds: 1}
        huge: {path: /huge, seconds: 1}
        html: {path: /html, seconds: 1}
        loop: {path: /loop, seconds: 1}
        missing: {path: /nope, seconds: 1}
  - job_name: sd
    file_sd_configs:
      - files: ['$TMP/sd/*.json']
    profiling_config:
      pprof_config:
        cpu: {enabled: false}
        heap: {enabled: false}
        allocs: {enabled: false}
        block: {enabled: false}
        mutex: {enabled: false}
        threadcreate: {enabled: false}
${2:-}
EOF
}
mkdir -p "$TMP/sd"
echo '[{"targets": ["'"$C"'"], "labels": {"service": "side"}}]' >"$TMP/sd/a.json"
write_config "'$A', '$B'"
start_server "$TMP/data" -config.file "$CONF" -max-body-size 1MB || { notok "profefe starts with the config"; finish; }
ok "profefe starts with the config"
SLOG=$TMP/server.$SERVER_N.log

# ---- 1. every enabled type of both hotapps lands as a series ---------------------
TYPES="allocs block cpu goroutine heap mutex threadcreate"
want_series() {
	local i t
	for i in "$@"; do for t in $TYPES; do
		printf '{"env":"e2e","instance":"%s","job":"hotapp","service":"hot","team":"t1","type":"%s"}\n' "$i" "$t"
	done; done | sort
}
series() { curl -sG "$URL/api/v1/series" --data-urlencode 'match[]={job="hotapp"}' | jq -c '.data[]' | sort; }
WANT=$(want_series "$A" "$B")
wait_until 20 test "$(series)" = "$WANT"
expect "7 types x 2 hotapps are series with service, job, instance, type, the target's and external labels" "$(series)" "$WANT"
expect "nothing of the misbehaving target is stored" \
	"$(curl -sG "$URL/api/v1/series" --data-urlencode 'match[]={job="bad"}' | jq -c .data)" "[]"

FROM=2000-01-01T00:00:00 TO=2100-01-01T00:00:00
r=$(curl -s "$URL/api/0/profiles?service=hot&type=heap&from=$FROM&to=$TO" | jq -r '[.body[].labels[] | select(.key == "instance") | .value] | unique | join(" ")')
expect "find (api/0) lists heap profiles of both instances" "$r" "$(printf '%s\n' "$A" "$B" | sort | tr '\n' ' ' | sed 's/ $//')"
ida=$(curl -s "$URL/api/0/profiles?service=hot&type=heap&from=$FROM&to=$TO&labels=instance=$A" | jq -r '.body[0].id')
idb=$(curl -s "$URL/api/0/profiles?service=hot&type=heap&from=$FROM&to=$TO&labels=instance=$B" | jq -r '.body[0].id')
out=$(go tool pprof -top -sample_index=inuse_space "$URL/api/0/profiles/$ida+$idb" 2>&1)
expect_match "go tool pprof opens the merge of both instances' heap profiles (by ids)" "$out" 'cacheLoop'
# the CPU type: a merge of every scrape of both (more than a second of samples)
wait_until 10 test "$(curl -s "$URL/api/0/profiles?service=hot&type=cpu&from=$FROM&to=$TO" | jq '.body | length')" -ge 4
out=$(go tool pprof -top "$URL/api/0/profiles/merge?service=hot&type=cpu&from=$FROM&to=$TO" 2>&1)
expect_match "go tool pprof opens the merge of both instances' CPU profiles" "$out" 'main\.(checkout|search|\(\*app\))'
expect_match "scraped CPU profiles keep pprof.Do labels" "$(go tool pprof -tags "$URL/api/0/profiles/merge?service=hot&type=cpu&from=$FROM&to=$TO" 2>&1)" 'handler'

# ---- 2. health in /api/v1/targets -----------------------------------------------------
wait_until 10 is_health "$A" up
wait_until 10 is_health "$B" up
expect "every pair of both hotapps is up" "$(health_of "$A") $(health_of "$B")" "up up"
r=$(tq '.data.activeTargets[] | select(.labels.instance == "'"$A"'" and .labels.type == "cpu") |
	"\(.scrapePool) \(.scrapeUrl) \(.labels.job) \(.labels.service) \(.lastError == "") \(.scrapeInterval) \(.scrapeTimeout) \(.lastScrape != "0001-01-01T00:00:00Z") \(.lastScrapeDuration > 0) \(.nextScrape > .lastScrape)"')
expect "a pair in Prometheus's shape (scrapeUrl with seconds=, interval, timeout, times)" "$r" \
	"hotapp http://$A/debug/pprof/profile?seconds=1 hotapp hot true 2s 6s true true true"
expect "droppedTargets is an empty list" "$(tq '.data.droppedTargets | length')" 0

# ---- 3. a misbehaving target: each failure bounded and reported ----------------------------
bad_err() { tq ".data.activeTargets[] | select(.scrapePool == \"bad\" and .labels.type == \"$1\") | \"\(.health): \(.lastError)\""; }
bad_done() { [ "$(tq '[.data.activeTargets[] | select(.scrapePool == "bad") | .health] | map(select(. == "unknown")) | length')" = 0 ]; }
wait_until 15 bad_done
expect_match "slow answer: down, cut at the 3s scrape timeout" "$(bad_err slow)" \
	"^down: http://$C/slow\\?seconds=1 did not answer within the scrape timeout of 3s \\(0 bytes received\\)$"
expect_match "endless body: down, stopped at -max-body-size" "$(bad_err huge)" \
	"^down: the response from http://$C/huge\\?seconds=1 is larger than -max-body-size \\(1048576 bytes\\); the transfer was stopped$"
expect_match "HTML page: down, says it is not a profile and what it was" "$(bad_err html)" \
	"^down: the body from http://$C/html\\?seconds=1 is not a pprof profile \\(Content-Type: text/html; charset=utf-8\\): parsing profile: unrecognized profile format$"
expect_match "redirect loop: down, stopped after 10 redirects" "$(bad_err loop)" \
	"^down: http://$C/loop\\?seconds=1: stopped after 10 redirects \\(a redirect loop\\?\\), the last to http://$C/loop\\?seconds=1$"
expect "a missing path: down, with the status, the URL and the start of the body" "$(bad_err missing)" \
	"down: HTTP 404 from http://$C/nope?seconds=1: 404 page not found"
expect "empty block profile: up, with the hint" "$(bad_err block)" \
	"up: profile has no samples: the program has not enabled block profiling (runtime.SetBlockProfileRate)"
expect "empty mutex profile: up, with the hint" "$(bad_err mutex)" \
	"up: profile has no samples: the program has not enabled mutex profiling (runtime.SetMutexProfileFraction)"
# a slow scrape (3 s) outlives its 2 s interval: the next is skipped, not doubled
wait_until 10 test "$(metric 'profefe_scrapes_skipped_total{job="bad",reason="in_flight"}')" -ge 1
expect_match "a due scrape of a pair still in flight is skipped and counted" "$(metric 'profefe_scrapes_skipped_total{job="bad",reason="in_flight"}')" '^[1-9][0-9]*$'
r=""
for res in timeout too_large invalid_profile transport_error http_error empty; do
	r+="$res=$([ "$(metric "profefe_scrapes_total{job=\"bad\",result=\"$res\"}")" -ge 1 ] && echo yes || echo no) "
done
expect "/metrics counts the bad job's scrapes by result" "$r" "timeout=yes too_large=yes invalid_profile=yes transport_error=yes http_error=yes empty=yes "
expect_match "/metrics counts successful hotapp scrapes" "$(metric 'profefe_scrapes_total{job="hotapp",result="success"}')" '^[1-9][0-9]*$'
expect_match "/metrics has the schedule lag histogram" "$(metric profefe_scrape_schedule_lag_seconds_count)" '^[1-9][0-9]*$'
expect "/metrics: 14 + 7 + 1 pairs" "$(metric 'profefe_scrape_targets{job="hotapp"}') $(metric 'profefe_scrape_targets{job="bad"}') $(metric 'profefe_scrape_targets{job="sd"}')" "14 7 1"
expect "nothing of the misbehaving target was stored" \
	"$(curl -sG "$URL/api/v1/series" --data-urlencode 'match[]={job="bad"}' | jq -c .data)" "[]"

# ---- 4. a target dies and comes back ---------------------------------------------------------
kill -TERM "$PIDB"
wait "$PIDB" 2>/dev/null
down_b() { [ "$(tq "[.data.activeTargets[] | select(.labels.instance == \"$B\") | \"\(.health) \(.lastError)\"] | unique | join(\",\")")" = "down connect $B: connection refused" ]; }
wait_until 10 down_b
expect "a stopped hotapp: all its pairs down with \"connection refused\"" \
	"$(tq "[.data.activeTargets[] | select(.labels.instance == \"$B\") | \"\(.health) \(.lastError)\"] | unique | join(\",\")")" \
	"down connect $B: connection refused"
expect "the other hotapp stays up" "$(health_of "$A")" up
start_app hotB2 build/hotapp -addr "$B" -load 0.01 -workers 1 -cache-mib 8 -background 0.1 -duration 300s || finish
wait_until 10 is_health "$B" up
expect "restarted on the same address: up again" "$(health_of "$B")" up
expect_match "the log says down and up" "$(cat "$SLOG")" "scrape target up\" job=hotapp url=http://$B/"

# ---- 5. reload: SIGHUP adds a target, unchanged pairs keep running -----------------------------
before=$(tq "[.data.activeTargets[] | select(.labels.instance == \"$A\") | .lastScrape] | sort | join(\",\")")
write_config "'$A', '$B', '$C'"
kill -HUP "$PID"
wait_until 5 grep -q 'msg="scrape targets applied" kept=22 started=7 stopped=0' "$SLOG"
expect_match "SIGHUP: 7 pairs started, the 22 others kept" "$(cat "$SLOG")" 'msg="scrape targets applied" kept=22 started=7 stopped=0'
r=$(tq "[.data.activeTargets[] | select(.labels.instance == \"$A\") | .health] | unique | join(\",\")")
expect "kept pairs keep their health across the reload" "$r" up
after=$(tq "[.data.activeTargets[] | select(.labels.instance == \"$A\") | .lastScrape] | sort | join(\",\")")
check "kept pairs keep their last scrape (not reset to never)" test "$after" \> "$before" -o "$after" = "$before"
expect "the new target's 7 pairs are listed under job hotapp" \
	"$(tq "[.data.activeTargets[] | select(.scrapePool == \"hotapp\" and .labels.instance == \"$C\")] | length")" 7
# the misbehaving target's pprof is real but idle: heap, allocs, goroutine
# and threadcreate have samples; block and mutex are empty (and cpu may be)
c_types() { curl -sG "$URL/api/v1/series" --data-urlencode "match[]={job=\"hotapp\",instance=\"$C\",type=~\"heap|allocs|goroutine|threadcreate\"}" | jq -r '[.data[].type] | sort | join(" ")'; }
wait_until 15 test "$(c_types)" = "allocs goroutine heap threadcreate"
expect "the added target's types land as series" "$(c_types)" "allocs goroutine heap threadcreate"
# the block pair has its own jittered slot: it may not have been scraped yet
c_block() { tq ".data.activeTargets[] | select(.scrapePool == \"hotapp\" and .labels.instance == \"$C\" and .labels.type == \"block\") | \"\(.health): \(.lastError)\""; }
c_block_known() { case "$(c_block)" in up:* | down:*) return 0 ;; esac; return 1; }
wait_until 15 c_block_known
expect "the added target's empty block profile: up, with the hint" "$(c_block)" \
	"up: profile has no samples: the program has not enabled block profiling (runtime.SetBlockProfileRate)"

# ---- 6. reload: POST /-/reload removes a target ---------------------------------------------------
write_config "'$A', '$C'"
expect "POST /-/reload answers 200" "$(req POST /-/reload)" "200 config reloaded"
expect_match "the reload stopped the removed target's 7 pairs" "$(cat "$SLOG")" 'msg="scrape targets applied" kept=22 started=0 stopped=7'
expect "the removed target is gone from /api/v1/targets" \
	"$(tq "[.data.activeTargets[] | select(.labels.instance == \"$B\")] | length") $(tq '.data.activeTargets | length')" "0 22"
expect_match "/api/v1/status/config shows the loaded file" "$(curl -s "$URL/api/v1/status/config" | jq -r .data.yaml)" \
	"job_name: hotapp.*targets: \\[\"$A\", \"$C\"\\].*job_name: bad"
expect "GET /-/reload is refused" "$(req GET /-/reload)" "405 Only POST or PUT requests allowed"

# ---- 7. a broken file is rejected and changes nothing ------------------------------------------------
write_config "'$A'" "    bogus_key: 1"
line=$(grep -n bogus_key "$CONF" | cut -d: -f1)
expect_match "POST /-/reload with a broken file: 400 naming file:line:column" "$(req POST /-/reload)" \
	"^400 failed to reload config: $CONF:$line:5: unknown key \"bogus_key\" in a scrape config"
kill -HUP "$PID"
wait_until 5 test "$(grep -c 'config reload failed' "$SLOG")" -ge 2
expect "SIGHUP with the broken file is logged too" "$(grep -c 'config reload failed; keeping the loaded configuration' "$SLOG")" 2
expect "nothing changed: the same 22 pairs" "$(tq '.data.activeTargets | length') $(tq "[.data.activeTargets[] | select(.labels.instance == \"$C\" and .scrapePool == \"hotapp\")] | length")" "22 7"
expect "/metrics: the failed reloads are counted" \
	"$(metric profefe_config_last_reload_successful) $(metric 'profefe_config_reloads_total{result="failure"}') $(metric 'profefe_config_reloads_total{result="success"}')" \
	"0 2 2"
expect "still serving and scraping" "$(health_of "$A")" up

# ---- 8. file_sd: target files are re-read when they change ---------------------------------------------
sd_pairs() { tq '[.data.activeTargets[] | select(.scrapePool == "sd") | "\(.labels.instance)/\(.labels.service)/\(.labels.type)"] | sort | join(" ")'; }
SD2=$(printf '%s\n' "$C/side/goroutine" "$A/hot/goroutine" | sort | paste -sd' ')
expect "file_sd: the target file's target and labels" "$(sd_pairs)" "$C/side/goroutine"
wait_until 10 test "$(curl -sG "$URL/api/v1/series" --data-urlencode 'match[]={job="sd"}' | jq -r '.data[0].service')" = side
expect "file_sd: its profiles are stored under the file's labels" \
	"$(curl -sG "$URL/api/v1/series" --data-urlencode 'match[]={job="sd"}' | jq -c '.data')" \
	"[{\"env\":\"e2e\",\"instance\":\"$C\",\"job\":\"sd\",\"service\":\"side\",\"type\":\"goroutine\"}]"
echo '[{"targets": ["'"$A"'"], "labels": {"service": "hot"}}]' >"$TMP/sd/b.json.tmp"
mv "$TMP/sd/b.json.tmp" "$TMP/sd/b.json"
wait_until 5 test "$(sd_pairs)" = "$SD2"
expect "file_sd: a new target file is picked up" "$(sd_pairs)" "$SD2"
expect_match "file_sd: the log says what changed" "$(cat "$SLOG")" 'msg="file_sd: targets updated" job=sd kept=1 started=1 stopped=0'
echo '[{"targets": ["'"$A"'"], "labels": {"service": ' >"$TMP/sd/b.json"
wait_until 5 grep -q 'file_sd: reading target files failed' "$SLOG"
expect_match "file_sd: a broken file is logged with its position" "$(grep 'file_sd: reading target files failed' "$SLOG")" "err=\"$TMP/sd/b.json:[0-9]+:[0-9]+: "
expect "file_sd: a broken file keeps the targets read before" "$(sd_pairs)" "$SD2"
rm -f "$TMP/sd/a.json" "$TMP/sd/b.json"
wait_until 5 test -z "$(sd_pairs)"
expect "file_sd: removing the files stops their pairs" "$(sd_pairs)" ""

stop_server

# ---- 9. HTTP settings: auth, params, path_prefix, TLS ----------------------------------------------------
only_heap='{cpu: {enabled: false}, allocs: {enabled: false}, block: {enabled: false}, mutex: {enabled: false}, goroutine: {enabled: false}, threadcreate: {enabled: false}}'
printf 'p\n' >"$TMP/password"
printf 'tok\n' >"$TMP/token"
cat >"$CONF" <<EOF
global: {scrape_interval: 1s}
scrape_configs:
  - job_name: basic
    basic_auth: {username: u, password_file: $TMP/password}
    params: {gc: ['1']}
    static_configs: [{targets: ['$C']}]
    profiling_config: {path_prefix: /auth, pprof_config: $only_heap}
  - job_name: bearer
    bearer_token_file: $TMP/token
    params: {gc: ['1']}
    static_configs: [{targets: ['$C']}]
    profiling_config: {path_prefix: /auth, pprof_config: $only_heap}
  - job_name: noparams
    bearer_token: tok
    static_configs: [{targets: ['$C']}]
    profiling_config: {path_prefix: /auth, pprof_config: $only_heap}
  - job_name: tls
    scheme: https
    tls_config: {ca_file: $TMP/cert.pem, server_name: profefe.test}
    static_configs: [{targets: ['127.0.0.1:$PCT']}]
    profiling_config: {pprof_config: $only_heap}
  - job_name: noname
    scheme: https
    tls_config: {ca_file: $TMP/cert.pem}
    static_configs: [{targets: ['127.0.0.1:$PCT']}]
    profiling_config: {pprof_config: $only_heap}
  - job_name: untrusted
    scheme: https
    static_configs: [{targets: ['127.0.0.1:$PCT']}]
    profiling_config: {pprof_config: $only_heap}
EOF
start_server "$TMP/data2" -config.file "$CONF" || { notok "profefe starts with the HTTP settings config"; finish; }
job_state() { tq ".data.activeTargets[] | select(.scrapePool == \"$1\") | \"\(.health) \(.lastError)\""; }
all_known() { [ "$(tq '[.data.activeTargets[] | select(.health == "unknown")] | length')" = 0 ]; }
wait_until 10 all_known
expect "basic_auth with password_file, params and path_prefix reach the target" "$(job_state basic)" "up "
expect "bearer_token_file" "$(job_state bearer)" "up "
expect "the URL carries params and path_prefix (gc=1 is required by the target)" "$(job_state noparams)" \
	"down HTTP 400 from http://$C/auth/debug/pprof/heap: want gc=1 (params)"
expect "https with ca_file and server_name (SNI and the certificate's name)" "$(job_state tls)" "up "
expect_match "https without server_name: down, the certificate does not name the address" "$(job_state noname)" \
	"^down https://127.0.0.1:$PCT/debug/pprof/heap: .*(subject name|does not match|127\\.0\\.0\\.1)"
expect_match "https without the CA: down with the certificate error" "$(job_state untrusted)" \
	"^down https://127.0.0.1:$PCT/debug/pprof/heap: .*certificate"
printf 'p\n' >"$TMP/token"
wait_until 5 test "$(job_state bearer)" = "down HTTP 401 from http://$C/auth/debug/pprof/heap?gc=1: unauthorized"
expect "bearer_token_file is read at every scrape (a rotated token is used)" "$(job_state bearer)" \
	"down HTTP 401 from http://$C/auth/debug/pprof/heap?gc=1: unauthorized"
printf 'wrong\n' >"$TMP/password"
wait_until 5 test "$(job_state basic)" = "down HTTP 401 from http://$C/auth/debug/pprof/heap?gc=1: unauthorized"
expect "basic_auth password_file is read at every scrape" "$(job_state basic)" \
	"down HTTP 401 from http://$C/auth/debug/pprof/heap?gc=1: unauthorized"
expect "the scraped profiles of the authenticated and TLS jobs are stored" \
	"$(curl -sG "$URL/api/v1/series" --data-urlencode 'match[]={type="heap"}' | jq -r '[.data[].job] | sort | join(" ")')" "basic bearer tls"
stop_server
for p in "${APIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
finish
