#!/usr/bin/env bash
# Benchmark: `devenv hosts apply` on a generated 100,000-line hosts file (~2.2 MB), side by side
# with Debian's `hostsed add` on the same file. Wall time by hyperfine, peak RSS by GNU time.
# Usage: bench/hosts.sh   (needs hyperfine, hostsed, /usr/bin/time; builds devenv --release)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=$PWD/target/release/devenv
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work/orig" <<'PY'
import sys
lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
for i in range(100000 - 2):
    lines.append(f"10.{i // 65536}.{(i // 256) % 256}.{i % 256} h{i}.test")
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
mkdir -p "$work/proj/profiles" "$work/proj/templates"
printf 'project: myblog\nstack: templates/stack.yml.j2\n' >"$work/proj/devenv.yaml"
printf 'version: "3.8"\nservices:\n  web:\n    image: web\n' >"$work/proj/templates/stack.yml.j2"
printf 'domain: myblog.test\nhosts: [myblog.test, api.myblog.test]\n' >"$work/proj/profiles/local.yaml"
export DEVENV_DATA_DIR="$work/data"

echo "file: $(wc -l <"$work/orig") lines, $(stat -c %s "$work/orig") bytes"
hyperfine -N --warmup 3 --runs 30 \
  --prepare "sh -c 'cp $work/orig $work/hosts && sync'" \
  -n "devenv hosts apply" "$bin -q -C $work/proj --hosts-file $work/hosts hosts apply" \
  -n "hostsed add" "hostsed -f $work/hosts add 127.0.0.1 myblog.test api.myblog.test" \
  --export-markdown "$work/table.md" >/dev/null
cat "$work/table.md"

peak() { # max RSS in KiB of one run from the original file
  cp "$work/orig" "$work/hosts"
  /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1
}
d=$(peak "$bin" -q -C "$work/proj" --hosts-file "$work/hosts" hosts apply)
h=$(peak hostsed -f "$work/hosts" add 127.0.0.1 myblog.test api.myblog.test)
size=$(stat -c %s "$work/orig")
echo
echo "| peak RSS | devenv | hostsed | budget (3 × file + 10 MiB) |"
echo "|---|---|---|---|"
printf '| MiB | %.1f | %.1f | %.1f |\n' "$(echo "$d/1024" | bc -l)" "$(echo "$h/1024" | bc -l)" "$(echo "(3*$size)/1048576 + 10" | bc -l)"
