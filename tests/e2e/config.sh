#!/usr/bin/env bash
# -config.file end to end: a broken file stops the start with one line naming
# FILE:LINE:COLUMN and touches nothing; good files (ours, conprof's) start;
# SIGHUP with a broken file keeps the loaded one; examples/hotapp builds,
# serves net/http/pprof, and what it serves (or pushes) our /api/0 stores.
source "$(dirname "$0")/lib.bash"

# run_bad NAME YAML: profefe must exit non-zero with one stderr line; prints it.
run_bad() {
	local f=$TMP/$1
	printf '%b' "$2" >"$f"
	"$PROFEFE_BIN" -addr 127.0.0.1:0 -tsdb.dir "$TMP/never" -config.file "$f" 2>"$TMP/bad.err" >/dev/null
	echo "rc=$? lines=$(wc -l <"$TMP/bad.err") $(cat "$TMP/bad.err")"
}

# 1. broken files
r=$(run_bad unknown.yaml 'scrape_configs:\n  - job_name: a\n    scrape_intervall: 10s\n')
expect_match "unknown key: exit 1, one line naming file:3:5" "$r" "^rc=1 lines=1 profefe: $TMP/unknown.yaml:3:5: unknown key \"scrape_intervall\" in a scrape config"
r=$(run_bad duration.yaml 'global:\n  scrape_interval: 10x\n')
expect_match "bad duration: exit 1, one line naming file:2:20" "$r" "^rc=1 lines=1 profefe: $TMP/duration.yaml:2:20: scrape_interval: \"10x\" is not a valid duration"
r=$(run_bad timeout.yaml 'scrape_configs:\n  - job_name: a\n    scrape_timeout: 5s\n    profiling_config:\n      pprof_config:\n        cpu: {seconds: 10}\n')
expect_match "timeout not longer than seconds: exit 1 at file:6:24" "$r" "^rc=1 lines=1 profefe: $TMP/timeout.yaml:6:24: cpu seconds 10 needs a longer scrape_timeout"
r=$(run_bad dup.yaml 'scrape_configs:\n  - job_name: a\n  - job_name: a\n')
expect_match "duplicate job: exit 1 at file:3:15" "$r" "^rc=1 lines=1 profefe: $TMP/dup.yaml:3:15: job_name \"a\" is already used \\(line 2\\)"
r=$(run_bad syntax.yaml 'scrape_configs:\n  - job_name: [a\n')
expect_match "YAML syntax: exit 1 at file:3:1" "$r" "^rc=1 lines=1 profefe: $TMP/syntax.yaml:3:1: invalid YAML: "
"$PROFEFE_BIN" -addr 127.0.0.1:0 -tsdb.dir "$TMP/never" -config.file "$TMP/missing.yaml" 2>"$TMP/bad.err"
expect "missing file: exit 1, one line" "rc=$? $(cat "$TMP/bad.err")" "rc=1 profefe: open $TMP/missing.yaml: No such file or directory"
check "a broken config creates no store directory" test ! -e "$TMP/never"

# 2. good files start the server
start_server "$TMP/data1" -config.file examples/profefe.yaml || { notok "starts with examples/profefe.yaml"; finish; }
ok "starts with examples/profefe.yaml"
log=$(cat "$TMP"/server.$SERVER_N.log)
expect_match "logs the loaded config" "$log" 'msg="config loaded" file=examples/profefe.yaml jobs=1 static_pairs=7'
stop_server

start_server "$TMP/data2" -config.file config/profefe.yaml || { notok "starts with config/profefe.yaml"; finish; }
ok "starts with config/profefe.yaml"
stop_server

# the systemd unit's command line, its paths moved here: it starts, its
# ExecReload's SIGHUP reloads, and SIGTERM (systemctl stop) ends it with 0
exec_start=$(sed -n 's/^ExecStart=//p' config/profefe.service)
expect_match "config/profefe.service runs /usr/local/bin/profefe with the shipped config" "$exec_start" \
	'^/usr/local/bin/profefe -addr :10100 -config.file /etc/profefe/profefe.yaml -tsdb.dir /var/lib/profefe$'
read -r -a unit_args <<<"$(sed -e 's|^/usr/local/bin/profefe ||' -e 's|-addr :10100 ||' \
	-e "s|/etc/profefe/profefe.yaml|config/profefe.yaml|" -e "s|/var/lib/profefe|$TMP/unit-data|" <<<"$exec_start")"
start_server "$TMP/unit-data" "${unit_args[@]}" || { notok "the unit's command line starts"; finish; }
ok "the unit's command line starts"
expect "ExecReload is a SIGHUP to the main process" "$(sed -n 's/^ExecReload=//p' config/profefe.service)" '/bin/kill -HUP $MAINPID'
kill -HUP "$PID"
for _ in $(seq 1 100); do [ "$(grep -c 'msg="config loaded"' "$TMP"/server.$SERVER_N.log)" -ge 2 ] && break; sleep 0.05; done
expect "... and the SIGHUP reloads config/profefe.yaml" "$(grep -c 'msg="config loaded" file=config/profefe.yaml' "$TMP"/server.$SERVER_N.log)" 2
check "... its store is made in the unit's -tsdb.dir" test -d "$TMP/unit-data"
stop_server

cp tests/fixtures/config/conprof.yaml "$TMP/conprof.yaml"
start_server "$TMP/data3" -config.file "$TMP/conprof.yaml" || { notok "starts with conprof's example file"; finish; }
ok "starts with conprof's example file"
log=$(cat "$TMP"/server.$SERVER_N.log)
expect_match "conprof's 1s timeout: a warning naming file:4:19" "$log" "level=warn msg=\"config warning\" warning=\"$TMP/conprof.yaml:4:19: job \\\\\"conprof\\\\\": scrape_timeout 1s is not longer than the default cpu seconds \\(10\\), so cpu scrapes use a 15s timeout\""

# 3. SIGHUP: a broken file changes nothing; a fixed one loads
printf 'scrape_configs:\n  - job_name: a\n    bogus: 1\n' >"$TMP/conprof.yaml"
kill -HUP $PID
for _ in $(seq 1 100); do grep -q 'config reload failed' "$TMP"/server.$SERVER_N.log && break; sleep 0.05; done
expect_match "SIGHUP with a broken file: reported with file:line:column" "$(cat "$TMP"/server.$SERVER_N.log)" "config reload failed; keeping the loaded configuration\" err=\"$TMP/conprof.yaml:3:5: unknown key"
expect "still serving after a failed reload" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/-/ready")" 200
cp tests/fixtures/config/conprof-pprof-config.yaml "$TMP/conprof.yaml"
kill -HUP $PID
for _ in $(seq 1 100); do [ "$(grep -c 'msg="config loaded"' "$TMP"/server.$SERVER_N.log)" -ge 2 ] && break; sleep 0.05; done
expect_match "SIGHUP with a good file: loaded" "$(cat "$TMP"/server.$SERVER_N.log)" "msg=\"config loaded\" file=$TMP/conprof.yaml jobs=1 static_pairs=1"
stop_server

# 4. examples/hotapp: builds with the standard library only, serves pprof
if make --no-print-directory hotapp >"$TMP/hotapp-build.log" 2>&1; then ok "make hotapp builds build/hotapp"; else
	notok "make hotapp builds build/hotapp"
	sed 's/^/#   /' "$TMP/hotapp-build.log" | tail -20
	finish
fi
expect "hotapp's go.mod has no requirements" "$(grep -c '^require' examples/hotapp/go.mod)" 0

start_server "$TMP/data4" || { notok "server starts"; finish; }
HLOG=$TMP/hotapp.log
build/hotapp -addr 127.0.0.1:0 -load 0.2 -duration 120s -push "$URL" -service hotapp-push \
	-labels env=e2e -push-interval 1s -push-cpu 1s 2>"$HLOG" &
HPID=$!
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; kill -9 $HPID 2>/dev/null' EXIT
HPORT=
for _ in $(seq 1 200); do
	HPORT=$(sed -n 's/.*serving pprof on http:\/\/127.0.0.1:\([0-9]*\)\/debug\/pprof\/.*/\1/p' "$HLOG" | head -1)
	[ -n "$HPORT" ] && break
	sleep 0.05
done
expect_match "hotapp serves on the port it prints" "$HPORT" '^[0-9]+$'
HURL=http://127.0.0.1:$HPORT
# let the profiles show what hotapp is built to show: the mutex profile
# its contention loop, the block profile a stack, the live heap its cache
# (the debug=1 text: a record line "inuse_objects: inuse_bytes [..] @ ..."
# then its frames). Under load that can take a while: up to 30 s.
seen() {
	curl -s "$HURL/debug/pprof/mutex?debug=1" | grep -q 'main.(\*app).contention' &&
		curl -s "$HURL/debug/pprof/block?debug=1" | grep -qE '^[0-9]+ [0-9]+ @' &&
		curl -s "$HURL/debug/pprof/heap?debug=1" |
		awk '/^[0-9]+: [0-9]+ /{live = $2 > 0} live && /main.\(\*app\).cacheLoop/{f = 1} END{exit !f}'
}
for _ in $(seq 1 120); do
	seen && break
	sleep 0.25
done
for t in heap allocs goroutine block mutex threadcreate; do
	code=$(curl -s -o "$TMP/$t.pb.gz" -w '%{http_code}' "$HURL/debug/pprof/$t")
	r=$(curl -sS --data-binary @"$TMP/$t.pb.gz" "$URL/api/0/profiles?service=hotapp&type=$t&instance_id=127.0.0.1:$HPORT")
	expect "hotapp /debug/pprof/$t ($code) is accepted by POST /api/0/profiles" "$code $(jq -r '"\(.code) \(.body.type) \(.body.service)"' <<<"$r")" "200 200 $t hotapp"
done
# the pusher holds the CPU profiler one second in two: retry while it is busy
for _ in $(seq 1 20); do
	code=$(curl -s -o "$TMP/cpu.pb.gz" -w '%{http_code}' "$HURL/debug/pprof/profile?seconds=1")
	[ "$code" = 200 ] && break
	sleep 0.3
done
r=$(curl -sS --data-binary @"$TMP/cpu.pb.gz" "$URL/api/0/profiles?service=hotapp&type=cpu")
expect "hotapp's CPU profile is accepted" "$code $(jq -r '"\(.code) \(.body.type)"' <<<"$r")" "200 200 cpu"
expect_match "the heap profile names the cache (a live heap)" "$(go tool pprof -top -sample_index=inuse_space "$TMP/heap.pb.gz" 2>/dev/null)" 'cacheLoop'
expect_match "the mutex profile shows contention" "$(go tool pprof -top "$TMP/mutex.pb.gz" 2>/dev/null)" 'contention'
expect_match "the block profile shows channel waits" "$(go tool pprof -top "$TMP/block.pb.gz" 2>/dev/null)" 'selectgo|chansend|chanrecv'
expect_match "the CPU profile carries pprof.Do labels" "$(go tool pprof -tags "$TMP/cpu.pb.gz" 2>/dev/null)" 'handler: .*checkout'

# hotapp -push: its own profiles arrive under its service and labels
types=
for _ in $(seq 1 100); do
	types=$(curl -s "$URL/api/0/profiles?service=hotapp-push&from=2000-01-01T00:00:00&to=2100-01-01T00:00:00" |
		jq -r '[.body[]?.type] | unique | join(",")')
	[ "$types" = "allocs,block,cpu,goroutine,heap,mutex,threadcreate" ] && break
	sleep 0.1
done
expect "hotapp -push stores every type" "$types" "allocs,block,cpu,goroutine,heap,mutex,threadcreate"
r=$(curl -s "$URL/api/0/profiles?service=hotapp-push&type=heap&from=2000-01-01T00:00:00&to=2100-01-01T00:00:00" | jq -c '.body[0].labels')
expect "pushed profiles carry -labels" "$r" '[{"key":"env","value":"e2e"}]'
kill -TERM $HPID
wait $HPID
expect "hotapp exits 0 on SIGTERM" "$?" 0
stop_server
finish
