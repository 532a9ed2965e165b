#!/usr/bin/env bash
# Every fuzz harness of tests/fuzz, built with tests/fuzz/driver.c as its main
# (plain, and under ASan+UBSan in make test's second pass), fed all of its
# seeds once: real profiles and the broken ones of tests/fixtures/bad, the
# configuration fixtures, selectors, a WAL segment written by profefe, and the
# codec's own tables and chunks. A harness aborts when an input breaks one of
# its promises (a failure without a reason, a round trip that changes the
# profile); the sanitizers catch what the promises do not. `make fuzz` runs the
# same harnesses under libFuzzer, mutating these seeds.
. "$(dirname "$0")/lib.bash"
. "$ROOT/tests/fuzz/seeds.sh"
BIN=$ROOT/${PROFEFE_BUILD:-build}/tests/fuzz

for src in "$ROOT"/tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	h=${name#fuzz_}
	if [ ! -x "$BIN/$name" ]; then
		notok "$name is built ($BIN/$name missing)"
		continue
	fi
	mapfile -t seeds < <(fuzz_seeds "$h")
	if [ ${#seeds[@]} -eq 0 ]; then
		notok "$name has seeds listed in tests/fuzz/seeds.sh"
		continue
	fi
	if [ "$h" = codec ]; then
		mkdir -p "$TMP/codec-seeds"
		check "fuzz_codec writes its own seeds (symbol table, chunks)" \
			"$BIN/$name" -seeds "$TMP/codec-seeds"
		expect "fuzz_codec wrote a table and 3 chunks" "$(ls "$TMP/codec-seeds" | wc -l)" 4
		seeds+=("$TMP/codec-seeds")
	fi
	out=$("$BIN/$name" "${seeds[@]}" 2>"$TMP/$name.err")
	rc=$?
	n=$(printf %s "$out" | sed -n 's/.*: \([0-9]*\) inputs, no failure$/\1/p')
	if [ $rc -eq 0 ] && [ -n "$n" ] && [ "$n" -gt 0 ]; then
		ok "$name: $n seed inputs, no failure"
	else
		notok "$name over ${seeds[*]} (exit $rc)"
		tail -n 20 "$TMP/$name.err" | sed 's/^/#   /'
	fi
done
# the driver refuses what it cannot read, and -seeds where a harness has none
check "a missing seed file is an error" bash -c "! '$BIN/fuzz_pprof' '$TMP/no-such-file'"
check "-seeds is refused by a harness without seeds of its own" \
	bash -c "! '$BIN/fuzz_pprof' -seeds '$TMP/x'"
finish
