# Sourced by tests/e2e/fuzz_seeds.sh (make test) and tests/fuzz/run.sh (make fuzz).
# fuzz_seeds NAME: the files and directories that seed harness fuzz_NAME, one per
# line, relative to the repository root. fuzz_codec also writes seeds of its own
# ("fuzz_codec -seeds DIR"); the callers add those. tests/fuzz/regress/NAME
# keeps inputs that once broke harness NAME under make fuzz.
fuzz_seeds() {
	case $1 in
	pprof) printf '%s\n' tests/fixtures/pprof tests/fixtures/bad tests/fuzz/regress/pprof ;;
	stream) printf '%s\n' tests/fixtures/pprof tests/fixtures/bad tests/fuzz/regress/stream ;;
	codec) printf '%s\n' tests/fixtures/pprof tests/fuzz/regress/codec ;;
	config) printf '%s\n' tests/fixtures/config examples/profefe.yaml config/profefe.yaml ;;
	selector) printf '%s\n' tests/fixtures/selectors ;;
	wal) printf '%s\n' tests/fixtures/wal ;;
	import) printf '%s\n' tests/fixtures/pprof tests/fixtures/bad ;;
	rowbinary) printf '%s\n' tests/fixtures/clickhouse ;;
	bundle) printf '%s\n' tests/fixtures/autoprof tests/fixtures/bad/bundle-no-meta.zip tests/fixtures/bad/bundle-truncated.zip ;;
	*) echo "fuzz_seeds: no seeds listed for harness $1 (add them to tests/fuzz/seeds.sh)" >&2
	   return 1 ;;
	esac
}
