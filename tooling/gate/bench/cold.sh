#!/usr/bin/env bash
# A cold `gate release` as a fresh clone sees it: clone this repository's HEAD (or COLD_REF) into a
# temp directory, install, then run the release with /usr/bin/time, which adds the CPU time of
# every task (user + sys): on a shared machine the wall time depends on the load, the CPU time
# hardly does, and CPU / cores is the floor of the wall time on an idle machine.
# Extra arguments go to the gate: `tooling/gate/bench/cold.sh --concurrency 3`.
# Run it under the heavy lock: `flock /tmp/jobgate-heavy.lock tooling/gate/bench/cold.sh`.
set -euo pipefail
src=$(git rev-parse --show-toplevel)
ref=${COLD_REF:-HEAD}
dir=$(mktemp -d /tmp/jobgate-cold.XXXXXX)
git clone -q --no-checkout "$src" "$dir"
git -C "$dir" checkout -q "$(git -C "$src" rev-parse "$ref")"
cd "$dir"
pnpm install --frozen-lockfile --offline >/dev/null 2>&1 || pnpm install --frozen-lockfile >/dev/null
echo "cold run of $(git rev-parse --short HEAD) in $dir, $(nproc) cores"
echo "load before: $(uptime)"
status=0
/usr/bin/time -f 'cold gate release: %e s wall, %U s user + %S s sys CPU' \
  pnpm gate release --keep-going "$@" || status=$?
echo "load after: $(uptime)"
echo "per-task times: $dir/.turbo/runs/*.json; the run record: $dir/.gate/last/run.json"
exit "$status"
