#!/usr/bin/env bash
# Every broken input of tests/fixtures/bad gets a clear error, stores
# nothing, and leaves the server serving.
source "$(dirname "$0")/lib.bash"

start_server "$TMP/data" || { notok "server starts"; finish; }

for f in "$FIX"/bad/*; do
	name=$(basename "$f")
	[ "$name" = heap-plain.pb ] && continue # a valid uncompressed profile (api0.sh)
	r=$(req POST "/api/0/profiles?service=bad&type=heap" --data-binary @"$f")
	case $name in
	zeros-1GiB.gz) expect_match "$name: 413, decompression capped" "$r" '^413 \{"code":413,"error":"malformed profile \(.*larger than' ;;
	pprof-bomb-480MB.pb.gz) expect_match "$name: 413 naming the decoder's sample cap" "$r" '^413 \{"code":413,"error":"malformed profile \(could not parse pprof profile: profile has 60000000 samples; the decoder.s cap is 2000000 samples\)' ;;
	*-debug1.txt) expect_match "$name: 400 naming debug=0" "$r" '^400 \{"code":400,"error":"malformed profile \(could not parse pprof profile: .*debug=0' ;;
	*) expect_match "$name: 400 malformed profile with a reason" "$r" '^400 \{"code":400,"error":"malformed profile \(could not parse pprof profile: [^)]+' ;;
	esac
	echo "#   $name -> $r"
done
r=$(req POST "/api/0/profiles?service=bad&type=trace" --data-binary @"$FIX/bad/random.pb.gz")
expect_match "a trace that is not a Go trace: 400" "$r" '^400 .*not a Go execution trace'
expect "nothing of the bad inputs was stored" "$(req GET /api/0/services)" '404 {"code":404,"error":"nothing found"}'
r=$(req POST "/api/0/profiles?service=good&type=heap" --data-binary @"$FIX/pprof/heap-001.pb.gz")
expect "the server still stores a good profile" "${r:0:3}" 200
m=$(curl -sS "$URL/metrics")
expect_match "rejected bodies are counted" "$m" 'profefe_profiles_rejected_total [1-9]'

# startup errors: one clear line, non-zero exit
"$PROFEFE_BIN" -addr 127.0.0.1:$PORT -tsdb.dir "$TMP/other" >"$TMP/out" 2>&1
rc=$?
expect "port in use: exit non-zero" "$([ $rc -ne 0 ] && echo nonzero)" nonzero
expect_match "port in use: one clear line" "$(cat "$TMP/out")" '^profefe: listen on 127\.0\.0\.1:[0-9]+: Address already in use$'
"$PROFEFE_BIN" -storage-type badger >"$TMP/out" 2>&1
expect_match "badger is refused pointing to tsdb" "$?:$(cat "$TMP/out")" '^[1-9][0-9]*:profefe: .*badger.*tsdb'
timeout 20 "$PROFEFE_BIN" -addr 127.0.0.1:0 -tsdb.dir "$TMP/nodata" -clickhouse.dsn 'http://127.0.0.1:1/?database=x' >"$TMP/out" 2>&1
expect_match "-clickhouse.dsn without -storage-type clickhouse: exit 2 naming both" \
	"$?:$(cat "$TMP/out")" '^2:profefe: -clickhouse.dsn is set but -storage-type is tsdb .*add -storage-type clickhouse'
expect "... and no store made in -tsdb.dir" "$([ -e "$TMP/nodata" ] && echo made || echo none)" none
touch "$TMP/notadir"
"$PROFEFE_BIN" -addr 127.0.0.1:0 -tsdb.dir "$TMP/notadir" >"$TMP/out" 2>&1
expect_match "unusable store dir: exit non-zero with the dir named" "$?:$(cat "$TMP/out")" "^[1-9][0-9]*:profefe: .*notadir"
"$PROFEFE_BIN" -nosuchflag >"$TMP/out" 2>&1
expect_match "unknown flag: exit 2" "$?:$(head -1 "$TMP/out")" '^2:profefe: flag provided but not defined: -nosuchflag'
"$PROFEFE_BIN" -version >"$TMP/out" 2>&1
expect_match "-version prints version, commit, build time" "$?:$(cat "$TMP/out")" '^0:profefe version .+ commit .+ build_time .+'
"$PROFEFE_BIN" -help >"$TMP/out" 2>&1
expect_match "-help lists the flags with defaults" "$?:$(cat "$TMP/out")" '^0:.*-max-body-size string.*default "64MB"'
expect_match "-help: -web.auth-token-file leaves the web UI's files open, as the README says" "$(cat "$TMP/out")" \
	"-web.auth-token-file string"$'\n'"[[:space:]]*when set, every request but /-/healthy and a GET or HEAD of the web UI's files needs"

stop_server
finish
