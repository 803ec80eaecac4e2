#!/usr/bin/env bash
# Time and peak memory of `devenv render` on hostile inputs of at most 1 MiB (RELIABILITY.md):
# deep flow and block nesting, aliases that multiply, interpolation that multiplies. Each input
# is refused (exit 2) and the figures say how fast and how small that is.
#
#   bench/hostile.sh [DEVENV]      DEVENV: the binary (default target/release/devenv)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/release/devenv}")
[ -x "$bin" ] || { echo "build it first: cargo build --release"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

project() { # NAME: a project whose stack is $work/NAME.yml
  local d="$work/$1"
  mkdir -p "$d/profiles"
  printf 'project: b\nstack: stack.yml\n' >"$d/devenv.yaml"
  printf 'domain: b.test\ndocker: {swarm: true}\n' >"$d/profiles/local.yaml"
  mv "$work/$1.yml" "$d/stack.yml"
  echo "$d"
}

python3 - "$work" <<'EOF'
import sys
w = sys.argv[1]
head = "services:\n  web:\n    image: busybox:1\n"
def out(name, text):
    assert len(text.encode()) <= 1 << 20, (name, len(text))
    open(f"{w}/{name}.yml", "w").write(text)
n = (1 << 20) // 2 - 100
out("flow", head + "x-deep: " + "[" * n + "]" * n + "\n")
lines, size, i = [], len(head) + 10, 0
while True:
    l = " " * i + f"k{i}:\n"
    if size + len(l) + 2 * (i + 1) > (1 << 20) - 100:
        break
    lines.append(l); size += len(l); i += 1
out("block", head + "x-deep:\n" + "".join("  " + l for l in lines))
big = "x" * (300 * 1024)
out("aliases", head + f'x-big: &big "{big}"\nx-many: [' + ", ".join(["*big"] * 2000) + "]\n")
laughs = head + 'x-a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
prev = "a"
for c in "bcdefghi":
    laughs += f"x-{c}: &{c} [" + ", ".join([f"*{prev}"] * 9) + "]\n"
    prev = c
out("laughs", laughs)
out("interpolation", head + "    environment:\n" + "".join(f'      V{i}: "${{BIG}}${{BIG}}${{BIG}}"\n' for i in range(1000)))
EOF

printf '| input (≤ 1 MiB) | exit | time (s) | peak memory (MiB) | said |\n|---|---|---|---|---|\n'
for case in flow block aliases laughs interpolation; do
  d=$(project "$case")
  size=$(stat -c %s "$d/stack.yml")
  set +e
  BIG=$(head -c 100000 /dev/zero | tr '\0' y) /usr/bin/time -f '%e %M' -o "$work/t" \
    timeout 600 "$bin" -C "$d" -q render local >/dev/null 2>"$work/err"
  code=$?
  set -e
  read -r secs kb < <(tail -1 "$work/t")
  said=$(head -1 "$work/err" | sed -e 's/.*devenv does not read this YAML: //' -e 's/.*: the values/the values/' | cut -c1-70)
  printf '| %s (%s bytes) | %s | %s | %s | %s |\n' "$case" "$size" "$code" "$secs" "$((kb / 1024))" "$said"
done
