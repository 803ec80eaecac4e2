#!/usr/bin/env bash
# Benchmark: `devenv certs issue --force` for 6 names vs `mkcert -ecdsa` for the same names, each
# with its CA already created. Wall time by hyperfine.   Usage: bench/certs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=$PWD/target/release/devenv
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/proj/profiles" "$work/proj/templates" "$work/mk"
printf 'project: myblog\nstack: templates/stack.yml.j2\n' >"$work/proj/devenv.yaml"
printf 'version: "3.8"\nservices:\n  web:\n    image: web\n' >"$work/proj/templates/stack.yml.j2"
# names: myblog.test, api.myblog.test, *.myblog.test, localhost, 127.0.0.1, ::1
printf 'domain: myblog.test\nhosts: [myblog.test, api.myblog.test]\ntls: local-ca\n' >"$work/proj/profiles/local.yaml"
export DEVENV_CAROOT="$work/devenv-ca" CAROOT="$work/mkcert-ca"
"$bin" -q -C "$work/proj" certs issue
(cd "$work/mk" && mkcert -ecdsa myblog.test >/dev/null 2>&1)
echo "names: myblog.test api.myblog.test *.myblog.test localhost 127.0.0.1 ::1"
hyperfine -N --warmup 5 --runs 60 \
  -n "devenv certs issue --force" "$bin -q -C $work/proj certs issue --force" \
  -n "mkcert -ecdsa" "sh -c 'cd $work/mk && exec mkcert -ecdsa myblog.test api.myblog.test *.myblog.test localhost 127.0.0.1 ::1'" \
  --export-markdown "$work/table.md" >/dev/null
cat "$work/table.md"
