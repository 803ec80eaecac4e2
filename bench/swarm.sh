#!/usr/bin/env bash
# Benchmark, side by side in one run on the local single-node swarm, for the 5-service stack in
# bench/five: time from nothing to ready (`devenv up` vs `docker stack deploy --detach=false`),
# no-op `up`, and removal until the networks are gone (`devenv down` vs `docker stack rm` +
# polling). Needs docker (a running daemon), busybox-static and hyperfine.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=$PWD/target/release/devenv
proj=$PWD/bench/five
work=$(mktemp -d)
trap 'rm -rf "$work"; "$bin" -q -C "$proj" down >/dev/null 2>&1 || true; docker stack rm benchdocker >/dev/null 2>&1 || true' EXIT
export DEVENV_DATA_DIR="$work/data" DEVENV_HOSTS_FILE="$work/hosts" NO_COLOR=1
rm -rf "$proj/.devenv"   # start from no recorded deploy (the swarm may have been re-created)

. bench/lib.sh
ensure_busybox_image

# docker gets the same stack: devenv's rendered output, with its configs as plain files
# (devenv creates its content-hash configs itself; `docker stack deploy` creates these)
"$bin" -q -C "$proj" render local --out "$work/out"
stackfile="$work/out/stack.yml"
python3 - "$stackfile" <<'PY'
import sys, re
p = sys.argv[1]
s = open(p).read()
s = re.sub(r"(  page\.html:\n)    external: true\n    name: [^\n]+\n", r"\1    file: ./configs/page.html\n", s)
open(p, "w").write(s)
PY

gone() { # wait until nothing of stack $1 is left: services, containers, networks
  while [ -n "$(docker service ls -q --filter label=com.docker.stack.namespace="$1")$(docker ps -aq --filter label=com.docker.stack.namespace="$1")$(docker network ls -q --filter label=com.docker.stack.namespace="$1")" ]; do
    sleep 0.1
  done
}
export -f gone

echo "## nothing to ready (5 services)"
hyperfine -N --runs 5 \
  --prepare "$bin -q -C $proj down" \
  -n "devenv up" "$bin -q -C $proj up" \
  --export-markdown "$work/up.md" >/dev/null
"$bin" -q -C "$proj" down >/dev/null
hyperfine --runs 5 --shell=bash \
  --prepare "docker stack rm benchdocker >/dev/null 2>&1; gone benchdocker" \
  -n "docker stack deploy --detach=false" "docker stack deploy --detach=false --resolve-image never -c $stackfile benchdocker >/dev/null 2>&1" \
  --export-markdown "$work/docker-up.md" >/dev/null
docker stack rm benchdocker >/dev/null; gone benchdocker
cat "$work/up.md"; tail -n +3 "$work/docker-up.md"

echo; echo "## no-op up (nothing changed)"
"$bin" -q -C "$proj" up >/dev/null
hyperfine -N --warmup 2 --runs 10 -n "devenv up (no change)" "$bin -q -C $proj up" --export-markdown "$work/noop.md" >/dev/null
cat "$work/noop.md"

echo; echo "## removal until the networks are gone"
hyperfine -N --runs 5 \
  --prepare "$bin -q -C $proj up" \
  -n "devenv down" "$bin -q -C $proj down" \
  --export-markdown "$work/down.md" >/dev/null
hyperfine --runs 5 --shell=bash \
  --prepare "docker stack deploy --detach=false --resolve-image never -c $stackfile benchdocker >/dev/null 2>&1" \
  -n "docker stack rm + polling" "docker stack rm benchdocker >/dev/null && gone benchdocker" \
  --export-markdown "$work/docker-down.md" >/dev/null
cat "$work/down.md"; tail -n +3 "$work/docker-down.md"
