#!/usr/bin/env bash
# make fuzz: run every libFuzzer harness of build-fuzz/tests/fuzz for
# FUZZ_SECONDS (60) each. The corpus of each grows in build-fuzz/corpus/NAME
# (kept between runs) from the seeds of tests/fuzz/seeds.sh; a crash leaves
# its input in build-fuzz/artifacts/NAME/ and fails the run. Replay one with
#   build-fuzz/tests/fuzz/fuzz_NAME build-fuzz/artifacts/NAME/crash-...
# or, without clang, build/tests/fuzz/fuzz_NAME FILE (the driver build).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/fuzz/seeds.sh
secs=${FUZZ_SECONDS:-60}
only=${FUZZ_ONLY:-}
failed=0
ran=0

for bin in build-fuzz/tests/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	h=${name#fuzz_}
	[ -n "$only" ] && [ "$only" != "$h" ] && continue
	corpus=build-fuzz/corpus/$h
	seeds=build-fuzz/seeds/$h
	art=build-fuzz/artifacts/$h
	rm -rf "$seeds"
	mkdir -p "$corpus" "$seeds" "$art"
	# libFuzzer takes directories: copy the listed seed files into one
	fuzz_seeds "$h" | while read -r s; do
		if [ -d "$s" ]; then cp -p "$s"/* "$seeds"/ 2>/dev/null; else cp -p "$s" "$seeds"/; fi
	done
	[ "$h" = codec ] && build/tests/fuzz/fuzz_codec -seeds "$seeds" >/dev/null
	echo "# $name: ${secs}s, corpus $corpus ($(ls "$corpus" | wc -l) inputs), seeds $(ls "$seeds" | wc -l)"
	"$bin" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=262144 -timeout=20 \
		-artifact_prefix="$art/" -print_final_stats=1 "$corpus" "$seeds" \
		>"build-fuzz/$name.log" 2>&1
	rc=$?
	ran=$((ran + 1))
	stats=$(grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "build-fuzz/$name.log" | tail -2 | tr '\n' ' ')
	if [ $rc -eq 0 ]; then
		echo "ok - $name: $stats"
	else
		echo "not ok - $name exited $rc; log build-fuzz/$name.log, inputs in $art/"
		grep -E -m 20 'ERROR|SUMMARY|runtime error|Test unit written' "build-fuzz/$name.log" | sed 's/^/#   /'
		failed=$((failed + 1))
	fi
done
echo "$((ran - failed)) passed, $failed failed"
[ $ran -gt 0 ] && [ $failed -eq 0 ]
