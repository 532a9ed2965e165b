#!/usr/bin/env bash
# What a heap-001 push costs before the store reads it (issue 18): the
# server's CPU per push, as bench/push_ab.sh measures it (ab -k -c 8 -n
# 8000), for a build of HEAD with bench/floor.patch applied, run three ways:
#   PF_FLOOR=1  HTTP, the inflate, the WAL's write and fsync, the head's
#               index entry: the body is stored but not read
#   PF_FLOOR=2  the same and the shape's light read of the body
#   PF_FLOOR=0  the product as built (the full ingest)
# The patched build is made in a temporary git worktree (a few minutes).
#   bench/push_floor.sh [ROUNDS]   (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
rounds=${1:-2}
wt=$(mktemp -d /tmp/profefe-floor.XXXXXX)
trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || rm -rf "$wt"' EXIT
git worktree add -q --detach "$wt" HEAD
(cd "$wt" && git apply "$root/bench/floor.patch") ||
	{ echo "push_floor: bench/floor.patch does not apply to HEAD" >&2; exit 1; }
make -C "$wt" -j2 all >/dev/null
for ((r = 1; r <= rounds; r++)); do
	for m in 1 2 0; do
		PF_FLOOR=$m PUSH_AB_N_LARGE=0 bench/push_ab.sh "$wt/build/profefe" | grep '^push heap-001' |
			sed "s/^push heap-001 /push heap-001 PF_FLOOR=$m/"
	done
done
