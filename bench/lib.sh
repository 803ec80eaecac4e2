# Shared by the bench scripts (sourced). The offline test image devenv-test/busybox:2, made as
# tests/common/mod.rs::busybox_image makes it (the same applets, passwd, CMD and PATH): the tests
# reuse an image of that name when it exists, so a bench must not make a different one.
ensure_busybox_image() {
  docker image inspect devenv-test/busybox:2 >/dev/null 2>&1 && return 0
  local root
  root=$(mktemp -d)/rootfs
  mkdir -p "$root/bin" "$root/www" "$root/tmp" "$root/etc"
  cp "$(command -v busybox)" "$root/bin/busybox"
  for a in sh httpd echo cat sleep ls wget true false kill ps env nc date hostname rm mkdir; do
    ln -s busybox "$root/bin/$a"
  done
  echo "busybox default page" >"$root/www/index.html"
  printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$root/etc/passwd"
  tar -C "$root" -c . | docker import -c 'CMD ["/bin/httpd","-f","-p","80","-h","/www"]' -c 'ENV PATH=/bin' - devenv-test/busybox:2 >/dev/null
  rm -rf "$(dirname "$root")"
}
