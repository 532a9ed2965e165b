#!/usr/bin/env bash
# Decompression and decoder bombs at once (issue 13, SPEC §9): with default
# flags, 8 concurrent zeros-1GiB.gz (inflates to 1 GiB) and 2 concurrent
# pprof-bomb-480MB.pb.gz (a valid profile of 60 million samples, under
# -max-profile-size) each get a 413 naming its cap, or a 503 naming
# -max-inflight-decompressed while the budget is spent; a real push sent
# meanwhile gets 200; the server's peak RSS (VmHWM) stays under 700 MB.
# Under the sanitizers (PROFEFE_BUILD=build-san) RSS includes ASan's shadow
# memory and means nothing: it is printed, not asserted.
source "$(dirname "$0")/lib.bash"

RSS_MAX_KB=$((700 * 1024))
# -web.read-header-timeout 300s: libmicrohttpd gives each connection to one
# of the pool's threads for good, and a thread inflating a bomb (many
# seconds when make test loads the machine) reads no other connection's
# headers meanwhile; with the default 10 s deadline a bomb that shares a
# thread with another was cut before its headers were read (an empty
# reply). The deadline has its own test (connections.sh); this one is about
# the decompression budget.
start_server "$TMP/data" -web.read-header-timeout 300s || { notok "server starts"; finish; }

base_kb=$(awk '/^VmHWM:/ {print $2}' /proc/$PID/status)
echo "# VmHWM before the bombs: $base_kb kB"

bomb() { # bomb N FILE: POST it, "CODE BODY" into $TMP/bomb.N
	curl -sS -m 300 -o "$TMP/bomb.$1.body" -w '%{http_code}' --data-binary @"$2" \
		"$URL/api/0/profiles?service=bomb&type=heap" >"$TMP/bomb.$1.code" 2>"$TMP/bomb.$1.err"
}
pids=()
for i in 1 2 3 4 5 6 7 8; do
	bomb $i "$FIX/bad/zeros-1GiB.gz" &
	pids+=($!)
done
for i in 9 10; do
	bomb $i "$FIX/bad/pprof-bomb-480MB.pb.gz" &
	pids+=($!)
done

# the real push goes while bombs are being inflated: wait until the
# in-flight gauge shows them (bounded), then push heap-001
seen=0
for _ in $(seq 1 400); do
	g=$(curl -sS -m 5 "$URL/metrics" 2>/dev/null | awk '$1 == "profefe_inflight_decompressed_bytes" {print $2}')
	if [ -n "$g" ] && [ "$g" -gt 0 ]; then seen=$g; break; fi
	sleep 0.01
done
expect_match "bombs are being inflated (in-flight gauge > 0)" "$seen" '^[1-9][0-9]*$'
r=$(req POST "/api/0/profiles?service=good&type=heap" -m 60 --data-binary @"$FIX/pprof/heap-001.pb.gz")
expect_match "heap-001 pushed meanwhile: 200" "$r" '^200 \{"code":200,"body":\{"id":'
echo "#   heap-001 -> ${r:0:120}"

for p in "${pids[@]}"; do wait "$p"; done

n413=0 n503=0 ndecode=0 ninflate=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	code=$(cat "$TMP/bomb.$i.code") body=$(cat "$TMP/bomb.$i.body")
	if [ $i -le 8 ]; then
		name="zeros-1GiB.gz #$i"
		want='malformed profile (decompressed profile is larger than 536870912 bytes; the limit is -max-profile-size)'
	else
		name="pprof-bomb-480MB.pb.gz #$((i - 8))"
		want="malformed profile (could not parse pprof profile: profile has 60000000 samples; the decoder's cap is 2000000 samples)"
	fi
	echo "#   $name -> $code $body"
	check "$name: the reply is JSON" jq -e . "$TMP/bomb.$i.body"
	case $code in
	413)
		n413=$((n413 + 1))
		[ $i -le 8 ] && ninflate=$((ninflate + 1)) || ndecode=$((ndecode + 1))
		expect "$name: 413 naming its cap and the count" "$(jq -r .error "$TMP/bomb.$i.body")" "$want" ;;
	503)
		n503=$((n503 + 1))
		expect_match "$name: 503 naming -max-inflight-decompressed" "$(jq -r .error "$TMP/bomb.$i.body")" \
			'^service unavailable \(profiles being decompressed take [0-9]+ of the 536870912 bytes of -max-inflight-decompressed; this one needs [0-9]+ more \(it has [0-9]+\): try again later\)$' ;;
	*) notok "$name: 413 or 503, got $code $body $(cat "$TMP/bomb.$i.err")" ;;
	esac
done
echo "# bombs: $n413 got 413 ($ninflate inflate cap, $ndecode decoder cap), $n503 got 503"

m=$(curl -sS "$URL/metrics")
expect "the in-flight gauge is back to 0" "$(awk '$1 == "profefe_inflight_decompressed_bytes" {print $2}' <<<"$m")" 0
expect "the limit is shown" "$(awk '$1 == "profefe_inflight_decompressed_limit_bytes" {print $2}' <<<"$m")" 536870912
refused() { awk -v k="profefe_requests_refused_total{reason=\"$1\"}" '$1 == k {print $2}' <<<"$m"; }
expect "decoder-cap refusals counted" "$(refused decode_cap)" "$([ $ndecode -gt 0 ] && echo $ndecode)"
expect "inflate-cap refusals counted" "$(refused profile_too_big)" "$([ $ninflate -gt 0 ] && echo $ninflate)"
expect "budget refusals counted" "$(refused inflight_budget)" "$([ $n503 -gt 0 ] && echo $n503)"
expect "only the real push was stored" "$(req GET /api/0/services)" '200 {"code":200,"body":["good"]}'

hwm_kb=$(awk '/^VmHWM:/ {print $2}' /proc/$PID/status)
echo "# peak RSS (VmHWM) after the bombs: $hwm_kb kB ($((hwm_kb / 1024)) MB)"
if [ "${PROFEFE_BUILD:-build}" = build-san ]; then
	echo "# (sanitizer build: RSS includes shadow memory, not asserted)"
else
	check "peak RSS under 700 MB ($((hwm_kb / 1024)) MB)" test "$hwm_kb" -lt $RSS_MAX_KB
fi

# one pprof bomb alone: refused by the decoder's sample cap, never built
r=$(req POST "/api/0/profiles?service=bomb&type=heap" -m 120 --data-binary @"$FIX/bad/pprof-bomb-480MB.pb.gz")
expect "one pprof bomb alone: 413 naming the sample cap" "$r" \
	"413 {\"code\":413,\"error\":\"malformed profile (could not parse pprof profile: profile has 60000000 samples; the decoder's cap is 2000000 samples)\"}"
r=$(req POST "/api/0/profiles?service=good&type=heap" --data-binary @"$FIX/pprof/heap-002.pb.gz")
expect "the server still stores a real profile" "${r:0:3}" 200

# a flag below -max-profile-size cannot work: refused at start
"$PROFEFE_BIN" -addr 127.0.0.1:0 -tsdb.dir "$TMP/other" -max-inflight-decompressed 1MB >"$TMP/out" 2>&1
expect_match "-max-inflight-decompressed below -max-profile-size: exit 2, one line" "$?:$(cat "$TMP/out")" \
	'^2:profefe: -max-inflight-decompressed \(1048576 bytes\) is smaller than -max-profile-size \(536870912 bytes\)'
"$PROFEFE_BIN" -help >"$TMP/out" 2>&1
expect_match "-help lists -max-inflight-decompressed" "$(cat "$TMP/out")" '-max-inflight-decompressed string.*default "512MB"'

stop_server
finish
