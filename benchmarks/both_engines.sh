# Sourced by the benchmarks that run on both engines (engines.sh,
# handshake_cost.sh): builds one benchmark program (release) on this machine
# against Botan 2 and in the Debian 13 root against Botan 3.
#   build_on_both_engines TARGET ROOT OUT
# builds benchmarks/TARGET in build/engines-botan2 here and in
# build/engines-botan3 inside ROOT (made or reused by
# scripts/debian13-root.sh; valgrind is installed there if missing), from a
# fresh copy of this tree (tracked and new files, not build/) in ROOT/bench,
# not ROOT/src, so that scripts/test.sh can use the same root meanwhile.
# Mounts /proc in the root (unmounted on exit). Sets host_build,
# root_build and root (absolute), and defines in_root CMD... (runs CMD in
# ROOT/bench). Setup logs go to OUT.
build_on_both_engines() {
  local target=$1 out=$3
  root=$2
  host_build=build/engines-botan2
  root_build=build/engines-botan3
  if [[ ! -f $host_build/build.ninja ]]; then
    meson setup "$host_build" -Dbotan=2 -Dbenchmarks=true -Dtests=false -Dexamples=false \
      -Dbuildtype=release >"$out/host.setup.log" 2>&1 || { cat "$out/host.setup.log" >&2; return 1; }
  fi
  ninja -j2 -C "$host_build" "benchmarks/$target" >/dev/null || return 1

  root=$(scripts/debian13-root.sh "$root" | tail -n1) || return 1
  root=$(cd "$root" && pwd)
  in_root() {
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
      DEBIAN_FRONTEND=noninteractive sh -c 'cd /bench && exec "$@"' sh "$@"
  }
  if ! chroot "$root" dpkg-query -W -f='${Status}' valgrind 2>/dev/null | grep -q 'install ok installed'; then
    echo "installing valgrind in $root" >&2
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
      sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends valgrind && apt-get clean' >/dev/null
  fi
  mkdir -p "$root/bench"
  find "$root/bench" -mindepth 1 -maxdepth 1 ! -name build -exec rm -rf {} +
  git ls-files -z --cached --others --exclude-standard | grep -zv '^build/' | tar --null -T - -cf - | tar -xf - -C "$root/bench"
  if ! mountpoint -q "$root/proc"; then
    mount -t proc proc "$root/proc"
    trap 'umount "$root/proc"' EXIT
  fi
  if [[ ! -f $root/bench/$root_build/build.ninja ]]; then
    in_root meson setup "$root_build" -Dbotan=3 -Dbenchmarks=true -Dtests=false -Dexamples=false \
      -Dbuildtype=release >"$out/root.setup.log" 2>&1 || { cat "$out/root.setup.log" >&2; return 1; }
  fi
  in_root ninja -j2 -C "$root_build" "benchmarks/$target" >/dev/null
}
