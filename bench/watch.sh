#!/usr/bin/env bash
# Benchmark: from saving a file to the new content being served, with `devenv watch` (a `sync`
# rule; a `rebuild` rule) side by side with the way without it, `devenv build && devenv update
# SERVICE`. `docker compose watch` cannot be installed here (Debian and PyPI carry compose v1
# only, which has no watch). On this machine's engine and single-node swarm (a stack of its own,
# removed at the end); needs docker and busybox-static. Usage: bench/watch.sh (RUNS, default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
work=$(mktemp -d)
bin=${BIN:-$PWD/target/release/devenv}
stack=devenvbenchwatch
cleanup() {
  [ -n "${watch_pid:-}" ] && kill "$watch_pid" 2>/dev/null || true
  docker stack rm "$stack" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
[ -n "${BIN:-}" ] || cargo build -q --release

. bench/lib.sh
ensure_busybox_image

p1=$(( 20000 + RANDOM % 10000 )); p2=$(( p1 + 1 ))
proj=$work/proj
mkdir -p "$proj/profiles" "$proj/site" "$proj/app"
printf 'project: %s\nstack: stack.yml.j2\n' "$stack" >"$proj/devenv.yaml"
printf 'domain: watch.test\ndocker: {swarm: true}\n' >"$proj/profiles/local.yaml"
for d in site app; do
  printf 'FROM devenv-test/busybox:2\nCOPY index.html /www/index.html\n' >"$proj/$d/Dockerfile"
  echo "$d v0" >"$proj/$d/index.html"
done
cat >"$proj/stack.yml.j2" <<YAML
services:
  web:
    image: {{ image("web") }}
    build: ./site
    init: true
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ports: ["$p1:8080"]
    develop:
      watch:
        - {path: ./site, action: sync, target: /www, ignore: [Dockerfile]}
  app:
    image: {{ image("app") }}
    build: ./app
    init: true
    command: ["httpd", "-f", "-p", "8081", "-h", "/www"]
    ports: ["$p2:8081"]
    develop:
      watch:
        - {path: ./app, action: rebuild}
YAML
export DEVENV_DATA_DIR="$work/data" DEVENV_HOSTS_FILE="$work/hosts" NO_COLOR=1

now() { date +%s.%N; }
# seconds from now until http://127.0.0.1:$1/ serves exactly $2
until_served() {
  local t0; t0=$(now)
  for _ in $(seq 6000); do
    [ "$(curl -s --max-time 2 "http://127.0.0.1:$1/" 2>/dev/null)" = "$2" ] && { awk "BEGIN{print $(now) - $t0}"; return; }
    sleep 0.02
  done
  echo "port $1 never served $2" >&2; exit 1
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

"$bin" -q -C "$proj" up local >/dev/null

# the build alone, for the same kind of change (what a rebuild cannot go below)
for i in $(seq "$runs"); do
  echo "build only $i" >"$proj/app/index.html"
  t0=$(now); docker build -q -t "$stack/probe:$i" "$proj/app" >/dev/null; awk "BEGIN{print $(now) - $t0}"
done >"$work/build"
docker rmi $(for i in $(seq "$runs"); do echo "$stack/probe:$i"; done) >/dev/null

"$bin" -C "$proj" watch >"$work/watch.out" 2>"$work/watch.err" &
watch_pid=$!
for _ in $(seq 600); do grep -q "^watching" "$work/watch.err" && break; sleep 0.1; done
grep -q "^watching" "$work/watch.err" || { cat "$work/watch.err" >&2; exit 1; }

for i in $(seq "$runs"); do
  echo "site v$i" >"$proj/site/index.html"; until_served "$p1" "site v$i"
done >"$work/sync"
for i in $(seq "$runs"); do
  echo "app v$i" >"$proj/app/index.html"; until_served "$p2" "app v$i"
  sleep 1 # the old task's stop
done >"$work/rebuild"
kill "$watch_pid"; wait "$watch_pid" 2>/dev/null || true; watch_pid=

# without watch: build, then a rolling update to the new build (the task is replaced)
for i in $(seq "$runs"); do
  echo "site w$i" >"$proj/site/index.html"
  t0=$(now)
  "$bin" -q -C "$proj" build >/dev/null 2>&1
  "$bin" -q -C "$proj" update web >/dev/null 2>&1
  until_served "$p1" "site w$i" >/dev/null; awk "BEGIN{print $(now) - $t0}"
done >"$work/update"

printf '| edit → new content served (median of %s) | time |\n|---|---|\n' "$runs"
printf '| `devenv watch`, `sync` rule | %.2f s |\n' "$(median <"$work/sync")"
printf '| `devenv watch`, `rebuild` rule | %.2f s |\n' "$(median <"$work/rebuild")"
printf '| (`docker build` alone, for the same change) | %.2f s |\n' "$(median <"$work/build")"
printf '| `devenv build && devenv update web` (without watch; the task is replaced) | %.2f s |\n' "$(median <"$work/update")"
