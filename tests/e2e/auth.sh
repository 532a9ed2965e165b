#!/usr/bin/env bash
# -web.auth-token-file: every request but /-/healthy needs "Authorization:
# Bearer <token>"; without it (or with a wrong one) 401 with a Bearer
# challenge, before any body is read, and nothing is stored. A missing or
# empty token file stops the start with one line. Also the request duration
# histogram of /metrics (SPEC §6: query latency), checked for its shape.
source "$(dirname "$0")/lib.bash"
P=$FIX/pprof
F="from=2000-01-01T00:00:00&to=2100-01-01T00:00:00"

# ---- start errors ----
: >"$TMP/empty"
out=$("$PROFEFE_BIN" -addr 127.0.0.1:0 -tsdb.dir "$TMP/d0" -web.auth-token-file "$TMP/empty" 2>&1)
rc=$?
expect "an empty token file: exit 1" "$rc" 1
expect "an empty token file: one line saying so" "$out" "profefe: -web.auth-token-file $TMP/empty: the file is empty (want a token)"
out=$("$PROFEFE_BIN" -addr 127.0.0.1:0 -tsdb.dir "$TMP/d0" -web.auth-token-file "$TMP/nope" 2>&1)
expect_match "a missing token file: one line naming it" "$out" "^profefe: -web.auth-token-file: open $TMP/nope: No such file or directory$"

# ---- a server with a token (the file's trailing newline is not part of it) ----
printf 's3cr3t-T0ken\n' >"$TMP/token"
READY_CURL_ARGS=(-H "Authorization: Bearer s3cr3t-T0ken")
AUTH=(-H "Authorization: Bearer s3cr3t-T0ken")
start_server "$TMP/data" -web.auth-token-file "$TMP/token" || finish

expect "/-/healthy needs no token" "$(req GET /-/healthy | cut -d' ' -f1)" 200
r=$(req GET /-/ready)
expect "/-/ready without a token: 401" "${r%% *}" 401
expect_match "the 401 says what is wanted" "$r" 'Authorization: Bearer <token>'
hdr=$(curl -sS -D - -o /dev/null "$URL/api/0/version" | tr -d '\r')
expect_match "a 401 carries WWW-Authenticate: Bearer" "$hdr" $'\nWWW-Authenticate: Bearer\n'
expect "push without a token: 401" "$(req POST "/api/0/profiles?service=a&type=heap" --data-binary @"$P/heap-001.pb.gz" | cut -d' ' -f1)" 401
expect "push with a wrong token: 401" "$(req POST "/api/0/profiles?service=a&type=heap" -H 'Authorization: Bearer s3cr3t-T0kem' --data-binary @"$P/heap-001.pb.gz" | cut -d' ' -f1)" 401
expect "a token that is a prefix of the right one: 401" "$(req GET /api/0/version -H 'Authorization: Bearer s3cr3t' | cut -d' ' -f1)" 401
expect "the token with its newline: 401" "$(req GET /api/0/version -H $'Authorization: Bearer s3cr3t-T0ken\t' | cut -d' ' -f1)" 401
expect "basic auth is not a bearer token: 401" "$(req GET /api/0/version -u user:s3cr3t-T0ken | cut -d' ' -f1)" 401
expect "a refused push stored nothing" "$(req GET "/api/0/profiles?service=a&type=heap&$F" "${AUTH[@]}" | cut -d' ' -f1)" 404
r=$(req POST "/api/0/profiles?service=a&type=heap" "${AUTH[@]}" --data-binary @"$P/heap-001.pb.gz")
expect "push with the token: 200" "${r%% *}" 200
id=$(jq -r '.body.id' <<<"${r#* }")
expect "find with the token" "$(req GET "/api/0/profiles?service=a&type=heap&$F" "${AUTH[@]}" | cut -d' ' -f2- | jq -r '.body[0].id')" "$id"
expect "\"bearer\" in lower case is accepted" "$(curl -sS -o /dev/null -w '%{http_code}' -H 'authorization: bearer s3cr3t-T0ken' "$URL/api/0/profiles/$id")" 200
expect "/api/v1 needs it too" "$(req GET /api/v1/labels | cut -d' ' -f1)" 401
expect "/metrics needs it too" "$(req GET /metrics | cut -d' ' -f1)" 401

# ---- the duration histogram ----
m=$(curl -sS "${AUTH[@]}" "$URL/metrics")
h() { awk -v k="$1" '$1 == k {print $2}' <<<"$m"; }
R='route="/api/0/profiles"'
cnt=$(h "profefe_http_request_duration_seconds_count{$R}")
# a push and two finds with the token, and the two pushes refused (a
# refused request counts under the route of its path, not "other")
expect "duration histogram: /api/0/profiles counted (a push, two finds, two refused pushes)" "$cnt" 5
expect "the two refused pushes: route /api/0/profiles, POST, 401" "$(h 'profefe_http_requests_total{route="/api/0/profiles",method="POST",code="401"}')" 2
expect "the four refused /api/0/version: their route, 401" "$(h 'profefe_http_requests_total{route="/api/0/version",method="GET",code="401"}')" 4
expect "the refused /api/v1/labels: its route, 401" "$(h 'profefe_http_requests_total{route="/api/v1/labels",method="GET",code="401"}')" 1
expect "the refused /metrics: its route, 401" "$(h 'profefe_http_requests_total{route="/metrics",method="GET",code="401"}')" 1
expect "the refused /-/ready: its route, 401" "$(h 'profefe_http_requests_total{route="/-/ready",method="GET",code="401"}')" 1
expect "no refused request counted under route other" "$(grep -c 'route="other"' <<<"$m")" 0
expect "duration histogram: +Inf bucket equals the count" "$(h "profefe_http_request_duration_seconds_bucket{$R,le=\"+Inf\"}")" "$cnt"
buckets=$(grep -F "profefe_http_request_duration_seconds_bucket{$R," <<<"$m" | awk '{print $2}' | paste -sd' ')
sorted=$(tr ' ' '\n' <<<"$buckets" | sort -n | paste -sd' ')
expect "duration histogram: 13 buckets, never decreasing" "$(wc -w <<<"$buckets") $buckets" "13 $sorted"
expect_match "duration histogram: a sum in seconds" "$(h "profefe_http_request_duration_seconds_sum{$R}")" '^[0-9]+\.[0-9]{6}$'
expect "duration histogram: a TYPE line" "$(grep -c '^# TYPE profefe_http_request_duration_seconds histogram$' <<<"$m")" 1
expect "duration histogram: routes never asked are left out" "$(grep -c 'duration_seconds_count{route="/api/v1/series"}' <<<"$m")" 0
finish
