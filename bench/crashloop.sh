#!/usr/bin/env bash
# Benchmark: how long `devenv up` takes to report a crash loop (a service whose command exits 1 at
# once, docker's default restart policy: 5 s between attempts), and how many attempts it waited
# for — this build side by side with an earlier one (default: the commit before crash loops were
# reported after two identical failures). On the local single-node swarm; needs docker (a running
# daemon) and busybox-static. Usage: bench/crashloop.sh [BEFORE_REV] (runs: RUNS, default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
before_rev=${1:-49d885b}
runs=${RUNS:-3}
work=$(mktemp -d)
trap 'docker stack rm devenvbenchcrash >/dev/null 2>&1 || true; git worktree remove --force "$work/before-src" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

cargo build -q
after=$PWD/target/debug/devenv
# the earlier build, from its own worktree and target dir (debug, as the current one)
git worktree add -q --detach "$work/before-src" "$before_rev"
CARGO_TARGET_DIR=${BEFORE_TARGET_DIR:-$work/before-target} cargo build -q --manifest-path "$work/before-src/Cargo.toml"
before=${BEFORE_TARGET_DIR:-$work/before-target}/debug/devenv

. bench/lib.sh
ensure_busybox_image

proj=$work/proj
mkdir -p "$proj/profiles"
printf 'project: devenvbenchcrash\nstack: stack.yml\n' >"$proj/devenv.yaml"
printf 'domain: crash.test\ndocker: {swarm: true}\n' >"$proj/profiles/local.yaml"
cat >"$proj/stack.yml" <<'YAML'
services:
  crasher:
    image: devenv-test/busybox:2
    command: ["sh", "-c", "echo cannot open /etc/app.conf; exit 1"]
YAML
export DEVENV_DATA_DIR="$work/data" DEVENV_HOSTS_FILE="$work/hosts" NO_COLOR=1

measure() { # $1: binary → "seconds attempts" per run, on stdout
  local bin=$1
  for _ in $(seq "$runs"); do
    docker stack rm devenvbenchcrash >/dev/null 2>&1 || true
    while docker network ls -q --filter label=com.docker.stack.namespace=devenvbenchcrash | grep -q .; do sleep 0.2; done
    rm -rf "$proj/.devenv"
    local t0 t1
    t0=$(date +%s.%N)
    "$bin" -q -C "$proj" up local --timeout 120 >/dev/null 2>"$work/err" && { echo "up succeeded?" >&2; exit 1; }
    t1=$(date +%s.%N)
    grep -q "cannot open /etc/app.conf" "$work/err" || { echo "the log line is not in the report:" >&2; cat "$work/err" >&2; exit 1; }
    local attempts
    attempts=$(docker service ps --format '{{.ID}}' devenvbenchcrash_crasher | wc -l)
    echo "$(awk "BEGIN{print $t1 - $t0}") $attempts"
  done
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

measure "$before" >"$work/before"
measure "$after" >"$work/after"
echo "| build | median time to the crash-loop report | attempts started (median) | runs |"
echo "|---|---|---|---|"
for w in before after; do
  t=$(cut -d' ' -f1 "$work/$w" | median)
  n=$(cut -d' ' -f2 "$work/$w" | median)
  label=$([ "$w" = before ] && echo "before ($before_rev)" || echo "after ($(git rev-parse --short HEAD)+)")
  printf '| %s | %.1f s | %s | %s |\n' "$label" "$t" "$n" "$runs"
done
