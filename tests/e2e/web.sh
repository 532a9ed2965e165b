#!/usr/bin/env bash
# The web UI's files (src/web, embedded by tools/webgen): content types,
# index.html for the pages' paths, 404 for others, ETag and If-None-Match
# (304), gzip when Accept-Encoding allows it (the same bytes once inflated),
# HEAD, 405 for other methods, the metrics route, and -web.auth-token-file
# (the files without the token, the API still with it).
source "$(dirname "$0")/lib.bash"
WEB=$ROOT/src/web

start_server "$TMP/data" || finish

# hdr PATH [curl args]: the response headers, lower-cased names, no CRs
hdr() { local p=$1; shift; curl -sS -D - -o /dev/null "$@" "$URL$p" | tr -d '\r' | sed 's/^\([^:]*\):/\L\1:/'; }
h() { sed -n "s/^$1: //p"; }

# ---- content types, bytes as in src/web ----
for f in index.html:text/html app.js:text/javascript api.js:text/javascript style.css:text/css \
	favicon.svg:image/svg\\+xml pages/query.js:text/javascript vendor/uplot/uPlot.min.css:text/css \
	vendor/uplot/LICENSE:text/plain vendor/uplot/VERSION:text/plain; do
	p=${f%%:*} t=${f#*:}
	expect_match "/$p: Content-Type $t" "$(hdr "/$p" | h content-type)" "^$t(; charset=utf-8)?$"
	curl -sS -o "$TMP/got" "$URL/$p"
	check "/$p: the bytes of src/web/$p" cmp -s "$TMP/got" "$WEB/$p"
done
for p in / /profile /changed /targets /services; do
	curl -sS -o "$TMP/got" -w '%{http_code} %{content_type}' "$URL$p" >"$TMP/code"
	expect "$p: 200 text/html" "$(cat "$TMP/code")" "200 text/html; charset=utf-8"
	check "$p: is index.html" cmp -s "$TMP/got" "$WEB/index.html"
done
expect "/profile?id=x (a query string): index.html" "$(curl -sS -o /dev/null -w '%{http_code} %{content_type}' "$URL/profile?id=x&view=flame")" "200 text/html; charset=utf-8"
expect "an unknown file: 404" "$(req GET /pages/nosuch.js)" '404 404 page not found'
expect "a page path with a trailing part: 404" "$(req GET /targets/x | cut -d' ' -f1)" 404
expect "a folder: 404" "$(req GET /vendor/uplot | cut -d' ' -f1)" 404

# ---- ETag, If-None-Match ----
H=$(hdr /app.js)
etag=$(h etag <<<"$H")
expect_match "an ETag from the content's hash" "$etag" '^"[0-9a-f]{16}"$'
expect "Cache-Control: no-cache (revalidate with the ETag)" "$(h cache-control <<<"$H")" no-cache
expect "the same ETag twice" "$(hdr /app.js | h etag)" "$etag"
check "another file, another ETag" test "$(hdr /api.js | h etag)" != "$etag"
expect "If-None-Match with the ETag: 304, no body" "$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' -H "If-None-Match: $etag" "$URL/app.js")" "304 0"
expect "W/ and a list: 304" "$(curl -sS -o /dev/null -w '%{http_code}' -H "If-None-Match: \"0000000000000000\", W/$etag" "$URL/app.js")" 304
expect "If-None-Match: *: 304" "$(curl -sS -o /dev/null -w '%{http_code}' -H 'If-None-Match: *' "$URL/app.js")" 304
expect "another ETag: 200" "$(curl -sS -o /dev/null -w '%{http_code}' -H 'If-None-Match: "0123456789abcdef"' "$URL/app.js")" 200
expect "the page paths share index.html's ETag" "$(hdr /targets | h etag)" "$(hdr /index.html | h etag)"

# ---- gzip ----
H=$(hdr /vendor/uplot/uPlot.esm.js -H 'Accept-Encoding: gzip')
expect "Accept-Encoding: gzip: Content-Encoding gzip" "$(h content-encoding <<<"$H")" gzip
expect "Vary: Accept-Encoding" "$(h vary <<<"$H")" Accept-Encoding
expect_match "the gzip copy's own ETag" "$(h etag <<<"$H")" '^"[0-9a-f]{16}-gz"$'
gzlen=$(h content-length <<<"$H")
rawlen=$(wc -c <"$WEB/vendor/uplot/uPlot.esm.js")
check "gzip is smaller ($gzlen of $rawlen bytes)" test "$gzlen" -lt "$((rawlen / 2))"
curl -sS -H 'Accept-Encoding: gzip' "$URL/vendor/uplot/uPlot.esm.js" | gunzip >"$TMP/inflated"
check "gunzip gives the file's bytes" cmp -s "$TMP/inflated" "$WEB/vendor/uplot/uPlot.esm.js"
curl -sS --compressed -o "$TMP/c" "$URL/style.css"
check "curl --compressed: the file's bytes" cmp -s "$TMP/c" "$WEB/style.css"
expect "no Accept-Encoding: no gzip" "$(hdr /app.js | h content-encoding)" ""
expect "gzip;q=0: no gzip" "$(hdr /app.js -H 'Accept-Encoding: gzip;q=0, br' | h content-encoding)" ""
expect "*;q=0.5: gzip" "$(hdr /app.js -H 'Accept-Encoding: *;q=0.5' | h content-encoding)" gzip
expect "*, gzip;q=0: no gzip" "$(hdr /app.js -H 'Accept-Encoding: *, gzip;q=0' | h content-encoding)" ""
expect "deflate, GZIP;q=0.8: gzip" "$(hdr /app.js -H 'Accept-Encoding: deflate, GZIP;q=0.8' | h content-encoding)" gzip
expect "If-None-Match with the gzip ETag, gzip asked: 304" \
	"$(curl -sS -o /dev/null -w '%{http_code}' -H 'Accept-Encoding: gzip' -H "If-None-Match: $(hdr /app.js -H 'Accept-Encoding: gzip' | h etag)" "$URL/app.js")" 304
expect "a file too small to gain from gzip is sent as is" "$(hdr /vendor/uplot/VERSION -H 'Accept-Encoding: gzip' | h content-encoding)" ""

# ---- HEAD, other methods ----
H=$(curl -sS -I "$URL/app.js" | tr -d '\r')
expect "HEAD: 200 with the length of the file" "$(sed -n 's/^Content-Length: //Ip' <<<"$H")" "$(wc -c <"$WEB/app.js")"
expect "HEAD: no body" "$(curl -sS -I "$URL/app.js" -o /dev/null -w '%{size_download}')" 0
expect "POST /: 405" "$(req POST / | cut -d' ' -f1)" 405
expect "405 says Allow: GET, HEAD" "$(hdr / -X POST | h allow)" "GET, HEAD"

# ---- metrics ----
m=$(curl -sS "$URL/metrics")
expect_match "/metrics counts the files under route /ui/*" "$m" 'profefe_http_requests_total\{[^}]*route="/ui/\*"[^}]*code="200"'
expect_match "and the 304s" "$(grep -F 'route="/ui/*"' <<<"$m")" 'code="304"'
stop_server

# ---- -web.auth-token-file: the files without the token, the API with it ----
printf 'web-T0ken\n' >"$TMP/token"
READY_CURL_ARGS=(-H "Authorization: Bearer web-T0ken")
start_server "$TMP/data2" -web.auth-token-file "$TMP/token" || finish
for p in / /profile /app.js /pages/query.js /vendor/uplot/uPlot.esm.js; do
	expect "with a token file, GET $p needs none" "$(curl -sS -o /dev/null -w '%{http_code}' "$URL$p")" 200
done
expect "HEAD / needs none" "$(curl -sS -I -o /dev/null -w '%{http_code}' "$URL/")" 200
expect "a wrong token on a file: still 200" "$(curl -sS -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "$URL/app.js")" 200
expect "the API still needs it: 401" "$(curl -sS -o /dev/null -w '%{http_code}' "$URL/api/v1/labels")" 401
expect "and with it: 200" "$(curl -sS -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer web-T0ken' "$URL/api/v1/labels")" 200
expect "an unknown path without the token: 401 (nothing said about what exists)" "$(curl -sS -o /dev/null -w '%{http_code}' "$URL/pages/nosuch.js")" 401
expect "POST / without the token: 401" "$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$URL/")" 401
expect "/metrics without the token: 401" "$(curl -sS -o /dev/null -w '%{http_code}' "$URL/metrics")" 401
stop_server
finish
