#!/usr/bin/env bash
# Connections (SPEC §9, issue 13): 4 200 idle sockets and a slow-loris do not
# lock others out (/-/healthy and a push still get 200), one client address
# is held to -web.max-connections-per-ip, the slow-loris and the idle sockets
# are cut at -web.read-header-timeout (a deadline, not an inactivity timeout:
# the slow-loris sends a byte every 2.5 s), libmicrohttpd's own 414 and 431
# are JSON in the API's envelope; -web.max-connections holds; then HTTPS
# (-web.tls-cert-file, -web.tls-key-file) with curl --cacert, and its start
# errors.
source "$(dirname "$0")/lib.bash"
P=$FIX/pprof
F="from=2000-01-01T00:00:00&to=2100-01-01T00:00:00"
HOLD=$TOOLS/holdconns

# the helpers hold 5 300 sockets, the server as many: both raise their soft
# open-file limit to the hard one
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt 6000 ]; then
	notok "the open-file hard limit ($hard) allows 6000 sockets per process"
	finish
fi

# alive: stop here (with what the log says) if the server died
alive() {
	kill -0 "$PID" 2>/dev/null && return 0
	notok "the server is running"
	wait "$PID"
	PID=
	finish
}
# metric_when NAME VALUE: NAME once /metrics shows VALUE, or the last value
# seen (the server counts as it accepts; a bounded wait, not a timing check)
metric_when() {
	local v
	for _ in $(seq 1 100); do
		v=$(metric "$1")
		[ "$v" = "$2" ] && break
		sleep 0.1
	done
	printf '%s' "$v"
}

# A 20 s header deadline leaves room for the checks below on a slow machine
# while the sockets are held (the default is 10 s).
start_server "$TMP/data" -tsdb.retention 0 -web.read-header-timeout 20s || finish
expect "/metrics: the connection limit comes from the open-file limit" \
	"$(( $(metric profefe_http_connections_max) >= 4200 ))" 1

# ---- 4 200 idle sockets from five addresses (840 each, under the default
# per-address limit of 1024), 1 100 from a sixth, a slow-loris from a seventh
mkfifo "$TMP/release"
exec 7<>"$TMP/release"
hpids=()
for i in 2 3 4 5 6; do
	"$HOLD" idle 127.0.0.$i 127.0.0.1 "$PORT" 840 <"$TMP/release" >"$TMP/idle.$i" 2>&1 7>&- &
	hpids+=($!)
done
"$HOLD" idle 127.0.0.8 127.0.0.1 "$PORT" 1100 <"$TMP/release" >"$TMP/idle.8" 2>&1 7>&- &
hpids+=($!)
"$HOLD" slowloris 127.0.0.7 127.0.0.1 "$PORT" 2500 >"$TMP/loris" 2>&1 7>&- &
lpid=$!
for f in 2 3 4 5 6 8; do
	for _ in $(seq 1 300); do
		grep -q '^connected' "$TMP/idle.$f" && break
		sleep 0.1
	done
done
connected=$(cat "$TMP"/idle.* | awk '/^connected/ {n += $2} END {print n + 0}')
expect "the helpers connected 5 300 sockets" "$connected" 5300
alive

# 1 100 from one address: 1 024 held, 76 refused at accept
expect "one address gets -web.max-connections-per-ip (1024): 76 refused" \
	"$(metric_when 'profefe_requests_refused_total{reason="per_ip_connection_limit"}' 76)" 76

expect "/-/healthy with them all open: 200" \
	"$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$URL/-/healthy" 2>&1)" 200
r=$(curl -sS -m 5 -w ' %{http_code}' --data-binary @"$P/heap-001.pb.gz" \
	"$URL/api/0/profiles?service=conn&type=heap" 2>&1)
expect "a push with them all open: 200" "${r##* }" 200
open=$(metric profefe_http_connections_open)
expect "after those requests, the 4 200 + 1 024 + the slow-loris are still open" \
	"$(( open >= 5225 ))" 1
threads=$(awk '/^Threads:/ {print $2}' /proc/$PID/status)
expect "5 225 connections cost no thread each (threads: $threads)" "$(( threads < 200 ))" 1
expect "the slow-loris has not been answered" "$(grep -c answered "$TMP/loris")" 0
alive

# the slow-loris: cut by the server at the header deadline although it never
# paused for more than 2.5 s (timeout 60 only detects a hang)
timeout 60 tail --pid=$lpid -f /dev/null
wait $lpid
rc=$?
expect "the slow-loris was cut by the server (exit 0)" "$rc" 0
expect_match "the slow-loris saw its connection closed" "$(cat "$TMP/loris")" $'^connected\ncut after [0-9]+ bytes$'
# every idle socket reached the same deadline (the one left open is the
# request for /metrics)
n=$(metric_when profefe_http_connections_open 1)
expect "the idle sockets were cut at the header deadline too" "$n" 1
expect "/metrics counts the cut connections" \
	"$(( $(metric profefe_http_header_timeouts_total) >= 5225 ))" 1
exec 7>&-
for p in "${hpids[@]}"; do wait "$p"; done
expect "the helpers saw every held socket closed by the server" \
	"$(cat "$TMP"/idle.* | awk '/^open/ {n += $2} END {print n + 0}')" 0
expect "/-/healthy after: 200" "$(req GET /-/healthy | cut -d' ' -f1)" 200

alive

# ---- libmicrohttpd's own limits answer in the API's envelope ----
# (up to what fits in its 256 KiB per-connection pool; past that its own
# text remains, as README "Connections" says)
# a 200 KB query string (curl -G puts the data of a file into the query: too
# long for an argument)
{ printf 'service='; head -c 200000 /dev/zero | tr '\0' a; } >"$TMP/long.q"
r=$(curl -sS -m 10 -G --data-binary @"$TMP/long.q" -D "$TMP/h414" -w ' %{http_code}' "$URL/api/0/profiles" 2>&1)
expect "a 200 KB query string: 414" "${r##* }" 414
expect "the 414 is JSON in the envelope" "$(jq -c . <<<"${r% *}" 2>&1)" \
	'{"code":414,"error":"request URI longer than 65536 bytes"}'
expect "the 414 says application/json" "$(grep -ci '^content-type: application/json' "$TMP/h414")" 1
# a 1 MB query string does not fit the pool: libmicrohttpd's own 414
{ printf 'service='; head -c 1000000 /dev/zero | tr '\0' a; } >"$TMP/huge.q"
r=$(curl -sS -m 10 -G --data-binary @"$TMP/huge.q" -D "$TMP/h414b" -o /dev/null -w '%{http_code}' "$URL/api/0/profiles" 2>&1)
expect "a 1 MB query string (past the pool): libmicrohttpd's 414, not JSON" \
	"$r $(grep -ci '^content-type: application/json' "$TMP/h414b")" "414 0"
# a long query of short parameters (a table of them would fill the connection's pool)
yes 'a&' | head -n 100000 | tr -d '\n' >"$TMP/many.q"
r=$(curl -sS -m 10 -G --data-binary @"$TMP/many.q" -w ' %{http_code}' "$URL/api/0/profiles" 2>&1)
expect "100 000 parameters: JSON 414" "$r" '{"code":414,"error":"request URI longer than 65536 bytes"}
 414'
# 100 KB of headers
{ printf 'X-Big: '; head -c 100000 /dev/zero | tr '\0' b; printf '\n'; } >"$TMP/hdr"
r=$(curl -sS -m 10 -H @"$TMP/hdr" -D "$TMP/h431" -w ' %{http_code}' "$URL/-/healthy" 2>&1)
expect "100 KB of headers: 431" "${r##* }" 431
expect "the 431 is JSON in the envelope" "$(jq -c . <<<"${r% *}" 2>&1)" \
	'{"code":431,"error":"request header fields larger than 65536 bytes in all"}'
expect "the 431 says application/json" "$(grep -ci '^content-type: application/json' "$TMP/h431")" 1
v=$(head -c 70 /dev/zero | tr '\0' b)
for i in $(seq 1 1000); do printf 'X-H%d: %s\n' "$i" "$v"; done >"$TMP/hdrs"
r=$(curl -sS -m 10 -H @"$TMP/hdrs" -w ' %{http_code}' "$URL/-/healthy" 2>&1)
expect "1 000 header lines of 80 bytes: JSON 431" "$r" '{"code":431,"error":"request header fields larger than 65536 bytes in all"}
 431'
# many short header lines under 64 KiB in all: served
for i in $(seq 1 3000); do printf 'X-H%d: v\n' "$i"; done >"$TMP/hdrs2"
expect "3 000 short header lines (36 KB): 200" \
	"$(curl -sS -m 10 -H @"$TMP/hdrs2" -o /dev/null -w '%{http_code}' "$URL/-/healthy" 2>&1)" 200
# 8 000 of them do not fit the pool (each line costs libmicrohttpd ~64 bytes more)
for i in $(seq 1 8000); do printf 'X-H%d: v\n' "$i"; done >"$TMP/hdrs3"
r=$(curl -sS -m 10 -H @"$TMP/hdrs3" -D "$TMP/h431b" -o /dev/null -w '%{http_code}' "$URL/-/healthy" 2>&1)
expect "8 000 short header lines (past the pool): libmicrohttpd's 431, not JSON" \
	"$r $(grep -ci '^content-type: application/json' "$TMP/h431b")" "431 0"
expect "refusals counted" "$(metric 'profefe_requests_refused_total{reason="uri_too_long"}') $(metric 'profefe_requests_refused_total{reason="headers_too_large"}')" "2 2"
stop_server

# ---- -web.max-connections (and no per-address limit) ----
start_server "$TMP/data2" -web.max-connections 100 -web.max-connections-per-ip 0 || finish
expect "/metrics: the limit set" "$(metric profefe_http_connections_max)" 100
exec 7<>"$TMP/release"
"$HOLD" idle 127.0.0.2 127.0.0.1 "$PORT" 150 <"$TMP/release" >"$TMP/cap" 2>&1 7>&- &
hpid=$!
for _ in $(seq 1 300); do grep -q '^connected' "$TMP/cap" && break; sleep 0.1; done
# a client behind the 150 finds the server full (-web.max-connections is
# the one limit no client can get around)
expect "with 100 held, a new client is closed at accept" \
	"$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$URL/-/healthy" 2>/dev/null)" 000
exec 7>&-
wait $hpid
expect "the helper held 100 of its 150 (the limit; no per-address limit)" "$(sed -n 's/^open //p' "$TMP/cap")" 100
# once they are gone the server answers again; each refused try is counted
fails=0
for _ in $(seq 1 100); do
	n=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$URL/-/healthy" 2>/dev/null)
	[ "$n" = 200 ] && break
	fails=$((fails + 1))
	sleep 0.1
done
expect "once they are gone: /-/healthy 200" "$n" 200
expect "refusals counted: 50 of the helper's, the client's, $fails while closing" \
	"$(metric 'profefe_requests_refused_total{reason="connection_limit"}')" $((51 + fails))
stop_server

# ---- flag errors ----
out=$("$PROFEFE_BIN" -addr 127.0.0.1:0 -tsdb.dir "$TMP/d0" -web.threads 0 2>&1)
expect "-web.threads 0: exit 2" "$?" 2
expect "-web.threads 0: one line" "$out" 'profefe: invalid value "0" for -web.threads: want a whole number from 1 to 1024'
out=$("$PROFEFE_BIN" -addr 127.0.0.1:0 -tsdb.dir "$TMP/d0" -web.read-header-timeout 500ms 2>&1)
expect "-web.read-header-timeout 500ms: one line" "$out" 'profefe: invalid value "500ms" for -web.read-header-timeout: want a duration from 1s to 1d, such as 10s'

# ---- HTTPS ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=localhost -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1
check "openssl made a self-signed certificate" test -s "$TMP/cert.pem"

out=$("$PROFEFE_BIN" -addr 127.0.0.1:0 -tsdb.dir "$TMP/d0" -web.tls-cert-file "$TMP/cert.pem" 2>&1)
expect "a certificate without a key: exit 1" "$?" 1
expect "a certificate without a key: one line" "$out" "profefe: -web.tls-cert-file is set without -web.tls-key-file: HTTPS needs both"
out=$("$PROFEFE_BIN" -addr 127.0.0.1:0 -tsdb.dir "$TMP/d0" -web.tls-cert-file "$TMP/cert.pem" -web.tls-key-file "$TMP/nope" 2>&1)
expect "a missing key file: one line naming it" "$out" "profefe: -web.tls-key-file: open $TMP/nope: No such file or directory"
echo 'not a certificate' >"$TMP/bad.pem"
out=$("$PROFEFE_BIN" -addr 127.0.0.1:0 -tsdb.dir "$TMP/d0" -web.tls-cert-file "$TMP/bad.pem" -web.tls-key-file "$TMP/key.pem" 2>&1)
expect "a file that is not PEM: one line" "$out" "profefe: -web.tls-cert-file $TMP/bad.pem: not a PEM file (no \"-----BEGIN \" line)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=other \
	-keyout "$TMP/key2.pem" -out "$TMP/cert2.pem" >/dev/null 2>&1
out=$("$PROFEFE_BIN" -addr 127.0.0.1:0 -tsdb.dir "$TMP/d0" -web.tls-cert-file "$TMP/cert.pem" -web.tls-key-file "$TMP/key2.pem" 2>&1)
rc=$?
expect "a key of another certificate: exit 1" "$rc" 1
expect_match "a key of another certificate: one line with GnuTLS's reason" "$out" \
	'^profefe: start HTTPS server on 127\.0\.0\.1:0 \(-web\.tls-cert-file, -web\.tls-key-file\) failed: [^'$'\n'']*do not match[^'$'\n'']*$'

# start_server waits on plain HTTP; this one is asked over HTTPS
SERVER_N=$((SERVER_N + 1))
log=$TMP/server.$SERVER_N.log
"$PROFEFE_BIN" -addr 127.0.0.1:0 -tsdb.dir "$TMP/tls" -tsdb.retention 0 \
	-web.tls-cert-file "$TMP/cert.pem" -web.tls-key-file "$TMP/key.pem" 2>"$log" &
PID=$!
PORT=
for _ in $(seq 1 200); do
	PORT=$(sed -n 's/.*msg="profefe started".* port=\([0-9]*\).*/\1/p' "$log" | head -1)
	[ -n "$PORT" ] && break
	sleep 0.05
done
S=https://127.0.0.1:$PORT
CA=(--cacert "$TMP/cert.pem")
for _ in $(seq 1 100); do
	curl -fsS "${CA[@]}" "$S/-/ready" >/dev/null 2>&1 && break
	sleep 0.05
done
expect "HTTPS /-/healthy with --cacert: 200" \
	"$(curl -sS -m 5 "${CA[@]}" -o /dev/null -w '%{http_code}' "$S/-/healthy" 2>&1)" 200
r=$(curl -sS -m 5 "${CA[@]}" -w ' %{http_code}' --data-binary @"$P/heap-001.pb.gz" \
	"$S/api/0/profiles?service=tls&type=heap" 2>&1)
expect "an HTTPS push: 200" "${r##* }" 200
id=$(jq -r .body.id <<<"${r% *}")
check "without --cacert curl refuses the self-signed certificate" \
	test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$S/-/healthy" 2>/dev/null)" = 000
code=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' --data-binary @"$P/heap-002.pb.gz" \
	"http://127.0.0.1:$PORT/api/0/profiles?service=tls&type=heap" 2>/dev/null)
expect "plain HTTP to the HTTPS port gets no HTTP reply" "$code" 000
ids=$(curl -sS -m 5 "${CA[@]}" "$S/api/0/profiles?service=tls&type=heap&$F" | jq -r '[.body[].id] | join(" ")')
expect "only the HTTPS push is stored" "$ids" "$id"
check "the profile comes back over HTTPS" curl -fsS -m 5 "${CA[@]}" -o "$TMP/back.pb.gz" "$S/api/0/profiles/$id"
check "and is the one pushed" same_profile "$TMP/back.pb.gz" "$P/heap-001.pb.gz"
stop_server
finish
