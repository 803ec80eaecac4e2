#!/usr/bin/env bash
# Benchmark: a server profile reached over SSH — first `up`, no-op `up` and `status` — with
# docker's own SSH transport (one connection per docker call: DEVENV_SSH_SHARE=0) side by side
# with devenv's shared connection, and the same stack on the local socket for comparison.
# Needs an engine in a swarm reachable as BENCH_SSH (default ssh://deploy@127.0.0.1:2299: a user
# in the docker group, key auth, the host key known) and busybox-static. RUNS (default 5); BIN.
# A third column keeps the connection between runs (DEVENV_SSH_PERSIST=60).
set -euo pipefail
cd "$(dirname "$0")/.."
ssh_host=${BENCH_SSH:-ssh://deploy@127.0.0.1:2299}
runs=${RUNS:-5}
# BIN: a devenv binary to measure (default: a release build)
if [ -z "${BIN:-}" ]; then cargo build --release -q; fi
bin=${BIN:-$PWD/target/release/devenv}
work=$(mktemp -d)
export DOCKER_CONFIG="$work/docker-config" DEVENV_DATA_DIR="$work/data" DEVENV_HOSTS_FILE="$work/hosts" NO_COLOR=1
mkdir -p "$DOCKER_CONFIG"
trap '"$bin" -q -C "$work/p" down server --yes >/dev/null 2>&1 || true; "$bin" -q -C "$work/p" down local >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

. bench/lib.sh
ensure_busybox_image

p=$work/p
mkdir -p "$p/profiles"
printf 'project: benchssh\nstack: stack.yml\n' >"$p/devenv.yaml"
printf 'domain: benchssh.test\ndocker: {swarm: true}\n' >"$p/profiles/local.yaml"
printf 'domain: benchssh.com\ndocker: {context: benchssh-server, host: "%s"}\n' "$ssh_host" >"$p/profiles/server.yaml"
cat >"$p/stack.yml" <<'YAML'
services:
  web:
    image: devenv-test/busybox:2
    command: [httpd, -f, -p, '8080', -h, /www]
    ports: [{target: 8080, published: 18099, mode: host}]
    deploy: {endpoint_mode: dnsrr}
YAML

# median seconds of RUNS runs of "$@"; PREP runs before each
median() {
  local t=()
  for _ in $(seq "$runs"); do
    [ -n "${PREP:-}" ] && eval "$PREP" >/dev/null 2>&1
    local t0 t1
    t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@" >&2 || true; exit 1; }; t1=$(date +%s.%N)
    t+=("$(awk "BEGIN{print $t1 - $t0}")")
  done
  printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f s", a[int((NR+1)/2)]}'
}

row() { printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4"; }
echo "| over SSH ($ssh_host), median of $runs | docker's transport (a connection per call) | devenv (one connection per run) | devenv, DEVENV_SSH_PERSIST=60 (kept for the next runs) |"
echo "|---|---|---|---|"
down="\"$bin\" -q -C \"$p\" down server --yes"
first_plain=$(PREP="$down" DEVENV_SSH_SHARE=0 median "$bin" -q -C "$p" up server --yes)
first_shared=$(PREP="$down" median "$bin" -q -C "$p" up server --yes)
first_kept=$(PREP="$down" DEVENV_SSH_PERSIST=60 median "$bin" -q -C "$p" up server --yes)
row "first \`up\` (deploy until running)" "$first_plain" "$first_shared" "$first_kept"
row "no-op \`up\`" "$(DEVENV_SSH_SHARE=0 median "$bin" -q -C "$p" up server --yes)" "$(median "$bin" -q -C "$p" up server --yes)" "$(DEVENV_SSH_PERSIST=60 median "$bin" -q -C "$p" up server --yes)"
row "\`status\`" "$(DEVENV_SSH_SHARE=0 median "$bin" -q -C "$p" status --profile server)" "$(median "$bin" -q -C "$p" status --profile server)" "$(DEVENV_SSH_PERSIST=60 median "$bin" -q -C "$p" status --profile server)"
# the kept connection ends with the benchmark
for cm in "$DEVENV_DATA_DIR"/ssh/*/cm; do [ -S "$cm" ] && ssh -o ControlPath="$cm" -O exit devenv-kept >/dev/null 2>&1; done
"$bin" -q -C "$p" down server --yes >/dev/null
"$bin" -q -C "$p" up local >/dev/null
echo
echo "local socket, same stack: no-op \`up\` $(median "$bin" -q -C "$p" up local), \`status\` $(median "$bin" -q -C "$p" status --profile local)"
