#!/usr/bin/env bash
# bench/corpus.sh: builds the reports' corpus (issue 15) once and prints its
# directory. Three instances (a, b, c) of examples/hotapp with a drifting
# request mix (-drift, each at its own phase) run side by side; every
# second the heap profile of each is fetched from /debug/pprof/heap, for
# CORPUS_SECONDS (default 720: 2 160 files, about 12 minutes of wall time).
# Files are named heap-<instance>-<second, 4 digits>-<UTC time of the
# fetch>.pb.gz, e.g. heap-b-0042-20261202T081503.017Z.pb.gz; each keeps Go's
# own time_nanos. The directory is build/corpus (build/corpus-<N>s for
# another CORPUS_SECONDS, so a short try leaves the full corpus alone;
# CORPUS_DIR overrides). A stamp file holding the parameters is written
# last; when it matches and every file is there, nothing is rebuilt.
#   bench/corpus.sh            # prints build/corpus
#   CORPUS_SECONDS=20 bench/corpus.sh
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
SECS=${CORPUS_SECONDS:-720}
if [ "$SECS" = 720 ]; then
	DIR=${CORPUS_DIR:-$B/corpus}
else
	DIR=${CORPUS_DIR:-$B/corpus-${SECS}s}
fi
INSTANCES=(a b c)
DRIFT=240s # the mix goes round three times in 12 minutes
HOTAPP_FLAGS=(-workers 1 -load 0.1 -cache-mib 16 -drift "$DRIFT")

stamp="seconds=$SECS instances=${INSTANCES[*]} flags=${HOTAPP_FLAGS[*]} hotapp=$(sha256sum examples/hotapp/main.go | cut -c1-16)"
want=$((SECS * ${#INSTANCES[@]}))
if [ -f "$DIR/stamp" ] && [ "$(cat "$DIR/stamp")" = "$stamp" ] &&
	[ "$(find "$DIR" -name 'heap-*.pb.gz' | wc -l)" -eq "$want" ]; then
	echo "$DIR"
	exit 0
fi

[ -x "$B/hotapp" ] || make --no-print-directory hotapp >&2
rm -rf "$DIR"
mkdir -p "$DIR"
tmp=$(mktemp -d /tmp/profefe-corpus.XXXXXX)
hpids=()
cleanup() { for p in "${hpids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

declare -A hurl
k=0
for inst in "${INSTANCES[@]}"; do
	phase=$(awk -v k=$k -v n=${#INSTANCES[@]} 'BEGIN{print k/n}')
	"$B/hotapp" -addr 127.0.0.1:0 "${HOTAPP_FLAGS[@]}" -drift-phase "$phase" >"$tmp/hotapp-$inst.log" 2>&1 &
	hpids+=($!)
	port=
	for _ in $(seq 1 200); do
		port=$(grep -oE '127\.0\.0\.1:[0-9]+' "$tmp/hotapp-$inst.log" | head -1 | cut -d: -f2 || true)
		[ -n "$port" ] && break
		sleep 0.05
	done
	[ -n "$port" ] || { echo "corpus: hotapp $inst did not start" >&2; cat "$tmp/hotapp-$inst.log" >&2; exit 1; }
	hurl[$inst]=http://127.0.0.1:$port/debug/pprof/heap
	k=$((k + 1))
done

echo "corpus: ${#INSTANCES[@]} instances of hotapp (${HOTAPP_FLAGS[*]}), heap every second for $SECS s into $DIR" >&2
# fetch INSTANCE SECOND: one heap profile, renamed into place when whole
fetch() {
	local name
	name=heap-$1-$(printf %04d "$2")-$(date -u +%Y%m%dT%H%M%S.%3NZ).pb.gz
	if curl -fsS --max-time 30 -o "$tmp/$name" "${hurl[$1]}"; then
		mv "$tmp/$name" "$DIR/$name"
	fi
}
t0=$(date +%s)
fetches=()
for ((i = 0; i < SECS; i++)); do
	for inst in "${INSTANCES[@]}"; do
		fetch "$inst" "$i" &
		fetches+=($!)
	done
	if [ $((i % 60)) -eq 59 ]; then echo "corpus: $((i + 1)) of $SECS s" >&2; fi
	# one round per second, on the second
	sleep "$(awk -v t0="$t0" -v i="$i" -v now="$(date +%s.%N)" 'BEGIN{d = t0 + i + 1 - now; print (d > 0) ? d : 0}')"
done
wait "${fetches[@]}" 2>/dev/null || true # bash may have reaped the oldest ones
got=$(find "$DIR" -name 'heap-*.pb.gz' | wc -l)
if [ "$got" -ne "$want" ]; then
	echo "corpus: $got of $want heap profiles fetched; run it again" >&2
	exit 1
fi
echo "$stamp" >"$DIR/stamp"
echo "corpus: $got files, $(du -sh "$DIR" | cut -f1) in $DIR, $(($(date +%s) - t0)) s" >&2
echo "$DIR"
