#!/usr/bin/env bash
# The CPU time of every task of a gate run, cache bypassed, in a fresh clone of HEAD (or COLD_REF):
# pnpm runs each package script through a shell wrapped in /usr/bin/time (pnpm's `scriptShell`, set
# in the clone only), which adds up the script and every process it waited for. On a shared machine
# CPU time moves far less with the load than wall time does. Arguments go to `gate run`:
#   flock /tmp/jobgate-heavy.lock tooling/gate/bench/task-cpu.sh test:integration
# Prints the run's wall and CPU time, `uptime` before and after, then one line per task, most CPU
# first. A process a test kills with SIGKILL (and never waits for) is not counted.
set -euo pipefail
if [ $# -eq 0 ]; then
  echo "usage: task-cpu.sh <task...> [gate run options], e.g. task-cpu.sh test:integration" >&2
  exit 2
fi
src=$(git rev-parse --show-toplevel)
ref=${COLD_REF:-HEAD}
dir=$(mktemp -d /tmp/jobgate-task-cpu.XXXXXX)
repo="$dir/repo"
log="$dir/tasks.log"
git clone -q --no-checkout "$src" "$repo"
git -C "$repo" checkout -q "$(git -C "$src" rev-parse "$ref")"
cat >"$dir/shell.sh" <<EOF
#!/bin/sh
exec /usr/bin/time -a -o "$log" -f "%e %U %S \${PWD#$repo/} \$*" /bin/sh "\$@"
EOF
chmod +x "$dir/shell.sh"
cd "$repo"
printf '\nscriptShell: %s\n' "$dir/shell.sh" >>pnpm-workspace.yaml
pnpm install --frozen-lockfile --offline >/dev/null 2>&1 || pnpm install --frozen-lockfile >/dev/null
: >"$log"
echo "task CPU of $(git rev-parse --short HEAD) in $repo, $(nproc) cores: gate run $* --force"
echo "load before: $(uptime)"
status=0
/usr/bin/time -f 'gate run: %e s wall, %U s user + %S s sys CPU' pnpm gate run "$@" --force || status=$?
echo "load after: $(uptime)"
awk '$4 != "" { printf "%7.1f CPU-s (%.1f user + %.1f sys) %7.1f s wall  %s\n", $2 + $3, $2, $3, $1, $4 }' "$log" |
  sort -g -r
exit "$status"
