#!/usr/bin/env bash
# (the project copy of shared/bench/linux-anchor/run.sh; the differences:
# the cache under build/linux-anchor, -smp (default 2), -cpu, -M and the
# QEMU binary settable, qemu64 / cortex-a76 by default, -accel tcg
# explicit, apt's download sandbox user root: the private cache is root's)
# run.sh ARCH  -- Linux anchor for mmbench.
#
# Boots Debian's stock kernel (bookworm, linux-image-<abi>-{amd64,arm64}) in
# QEMU/TCG with a tiny initramfs whose /init (init.c) runs the static
# mmbench binary (../mmbench.c) and powers off; prints the benchmark lines.
# `make bench-compare` runs it with the QEMU settings Tessera's bench image
# gets (docs/mm.md, "Benchmark"); it can also be run by hand.
#
#   ARCH       x86_64 | aarch64
# Environment (all optional):
#   CACHE      cache/work folder (default: build/linux-anchor of this
#              repository, so `make clean` removes it; it holds the kernel
#              package, a private apt state and the initramfs)
#   KPKG       kernel package to use, e.g. linux-image-6.1.0-56-amd64
#              (default: what linux-image-{amd64,arm64} depends on, resolved
#              once and then reused from $CACHE so runs stay comparable)
#   REFRESH=1  re-resolve/re-download the kernel and refresh apt lists
#   THP        transparent_hugepage= value for the guest (default: never,
#              so anonymous faults are 4 KiB faults; Debian's default is
#              "always"); THP=default leaves the kernel default
#   MEM        guest RAM (default 512M)
#   SMP        guest CPUs (default 2)
#   MACHINE    QEMU -M value (default q35 / virt,gic-version=3)
#   CPU        QEMU -cpu value (default qemu64 / cortex-a76)
#   QEMU       the QEMU binary (default qemu-system-<arch>)
#   CC         the C compiler for the static mmbench and init (default
#              <arch>-linux-gnu-gcc, or gcc when ARCH is the host's arch)
#   SCALE      mmbench iteration scale in percent (default 100)
#   TIMEOUT    seconds before QEMU is killed (default 600)
#   QEMU_EXTRA extra QEMU arguments (word-split)
#
# Output (stdout): "# ..." info lines (kernel package + version, QEMU
# version, boot times) and one "<name> <iterations> <ns_per_op>" line per
# case.  The full console log is kept in $CACHE/<ARCH>/console-last.log.
# Exit status: 0 if all 8 cases were reported and mmbench had no failures.
set -euo pipefail

ARCH=${1:-}
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${CACHE:-$HERE/../../build/linux-anchor}
THP=${THP:-never}
MEM=${MEM:-512M}
SMP=${SMP:-2}
SCALE=${SCALE:-100}
TIMEOUT=${TIMEOUT:-600}
CASES="mmap_munmap_4k fault_anon mmap_touch_unmap_1m munmap_partial mprotect_toggle fork_cow_16m file_mmap_read_4m file_mmap_shared_write_4m"

case "$ARCH" in
x86_64)
    DEBARCH=amd64 CC=${CC:-x86_64-linux-gnu-gcc} QEMU=${QEMU:-qemu-system-x86_64} CONSOLE=ttyS0
    MACHINE=${MACHINE:-q35} CPU=${CPU:-qemu64} ;;
aarch64)
    DEBARCH=arm64 CC=${CC:-aarch64-linux-gnu-gcc} QEMU=${QEMU:-qemu-system-aarch64} CONSOLE=ttyAMA0
    MACHINE=${MACHINE:-virt,gic-version=3} CPU=${CPU:-cortex-a76} ;;
*)
    echo "usage: $0 x86_64|aarch64" >&2; exit 2 ;;
esac
if ! command -v "$CC" >/dev/null && [ "$ARCH" = "$(uname -m)" ]; then CC=gcc; fi
for t in "$CC" "$QEMU" cpio gzip apt-get dpkg-deb; do
    command -v "$t" >/dev/null || { echo "run.sh: missing tool: $t (make bench-compare installs it)" >&2; exit 2; }
done

W=$CACHE/$ARCH
mkdir -p "$W"
log() { echo "# $*" >&2; }

# ---------------------------------------------------------------- kernel
# Private apt state per Debian architecture, so that the host's dpkg
# configuration is left alone (sources come from the host's sources.list).
APTDIR=$CACHE/apt-$DEBARCH
APTOPT=(-o "APT::Architecture=$DEBARCH" -o "APT::Architectures=$DEBARCH"
        -o "Dir::State::Lists=$APTDIR/lists" -o "Dir::Cache=$APTDIR/cache"
        -o "APT::Sandbox::User=root")
apt_lists() {
    mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"
    if [ "${REFRESH:-0}" = 1 ] || ! ls "$APTDIR"/lists/*_Packages* >/dev/null 2>&1; then
        log "apt-get update ($DEBARCH lists under \$CACHE/apt-$DEBARCH)"
        apt-get "${APTOPT[@]}" -q update >&2
    fi
}

KDIR=$W/kernel
if [ -n "${KPKG:-}" ] || [ "${REFRESH:-0}" = 1 ] || [ ! -f "$KDIR/kernel.deb" ]; then
    apt_lists
    pkg=${KPKG:-}
    if [ -z "$pkg" ]; then
        pkg=$(apt-cache "${APTOPT[@]}" depends "linux-image-$DEBARCH" |
              sed -n 's/^ *Depends: \(linux-image-[^ ]*\).*/\1/p' | head -n1)
        pkg=${pkg%:$DEBARCH}
    fi
    [ -n "$pkg" ] || { echo "run.sh: cannot resolve the kernel package" >&2; exit 1; }
    have=""
    [ -f "$KDIR/kernel.deb" ] && have=$(dpkg-deb -f "$KDIR/kernel.deb" Package)
    if [ "$have" != "$pkg" ] || [ "${REFRESH:-0}" = 1 ]; then
        log "downloading $pkg ($DEBARCH)"
        rm -rf "$KDIR.new" && mkdir -p "$KDIR.new"
        (cd "$KDIR.new" && apt-get "${APTOPT[@]}" -q download "$pkg:$DEBARCH" >&2 2>&1) ||
            (cd "$KDIR.new" && apt-get "${APTOPT[@]}" -q download "$pkg" >&2)
        mv "$KDIR.new"/*.deb "$KDIR.new/kernel.deb"
        dpkg-deb --fsys-tarfile "$KDIR.new/kernel.deb" |
            tar -x -C "$KDIR.new" --wildcards './boot/vmlinuz-*' './boot/config-*'
        rm -rf "$KDIR" && mv "$KDIR.new" "$KDIR"
    fi
fi
KPKG_NAME=$(dpkg-deb -f "$KDIR/kernel.deb" Package)
KPKG_VER=$(dpkg-deb -f "$KDIR/kernel.deb" Version)
VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* | head -n1)
KERNEL=$VMLINUZ
if [ "$ARCH" = aarch64 ]; then
    # Debian ships arm64 vmlinuz as a gzip'd Image; hand QEMU the raw Image.
    if [ "$(head -c2 "$VMLINUZ" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then
        [ -f "$KDIR/Image" ] || gzip -dc "$VMLINUZ" > "$KDIR/Image"
        KERNEL=$KDIR/Image
    fi
fi

# ------------------------------------------------------- benchmark + initrd
ROOT=$W/initramfs
rm -rf "$ROOT" && mkdir -p "$ROOT"/{dev,proc,sys,tmp}
"$CC" -O2 -Wall -static -o "$ROOT/mmbench" "$HERE/../mmbench.c"
"$CC" -O2 -Wall -static -o "$ROOT/init" "$HERE/init.c"
(cd "$ROOT" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
    gzip -9 > "$W/initrd.gz"

# --------------------------------------------------------------------- boot
APPEND="console=$CONSOLE quiet panic=-1"
[ "$THP" = default ] || APPEND="$APPEND transparent_hugepage=$THP"
# words after "--" become init's argv; init hands the first to mmbench as scale
[ "$SCALE" = 100 ] || APPEND="$APPEND -- $SCALE"
QARGS=(-M "$MACHINE" -accel tcg -cpu "$CPU" -smp "$SMP" -m "$MEM" -nographic -no-reboot
       -kernel "$KERNEL" -initrd "$W/initrd.gz" -append "$APPEND")
# shellcheck disable=SC2206
QARGS+=(${QEMU_EXTRA:-})
QEMU_VER=$("$QEMU" --version | head -n1)

CON=$W/console-last.log
start=${EPOCHREALTIME/./}
set +e
timeout -k 5 "$TIMEOUT" "$QEMU" "${QARGS[@]}" </dev/null 2>&1 |
    while IFS= read -r line; do
        now=${EPOCHREALTIME/./}
        printf '%d %s\n' $(( (now - start) / 1000 )) "${line%$'\r'}"
    done > "$CON"
qrc=${PIPESTATUS[0]}
set -e
end=${EPOCHREALTIME/./}

# ------------------------------------------------------------------ report
field() { sed -n "s/^[0-9]* .*# anchor $1: //p" "$CON" | head -n1; }
t_init=$(awk '/# anchor uptime_at_init:/ {print $1; exit}' "$CON")
echo "# linux-anchor arch=$ARCH kernel_pkg=$KPKG_NAME kernel_version=$KPKG_VER"
echo "# qemu: $QEMU_VER"
echo "# qemu_cmd: $QEMU ${QARGS[*]}" | sed "s|$CACHE|\$CACHE|g"
echo "# guest: $(field uname)"
echo "# guest clocksource: at_init=$(field clocksource) waited_ms=$(field clocksource_wait_ms) bench_start=$(field clocksource_at_start) end=$(field clocksource_at_end)"
echo "# guest thp=$(field thp) root=$(field root_fstype)"
echo "# guest cpu: $(field cpu)"
echo "# guest meltdown: $(field meltdown) | spectre_v2: $(field spectre_v2)"
echo "# boot: host_ms_to_init=${t_init:-NA} guest_uptime_at_init_s=$(field uptime_at_init | cut -d' ' -f1) qemu_wall_ms=$(( (end - start) / 1000 )) qemu_rc=$qrc"
# host_ms_to_init: QEMU start -> first line printed by /init (firmware,
#   kernel decompression and boot); guest_uptime_at_init_s: the guest
#   kernel's own uptime at that point; qemu_wall_ms: QEMU start -> exit.
sed -n 's/^[0-9]* \(# anchor mmbench_exit=.*\)$/\1/p; s/^[0-9]* \(# mmbench total_ms=.*\)$/\1/p' "$CON"
grep -E '^[0-9]+ # FAIL ' "$CON" | cut -d' ' -f2- || true
# per-case spread over the timed rounds: "# <name> rounds=5 ... min= median= max="
grep -E '^[0-9]+ # [a-z0-9_]+ rounds=' "$CON" | cut -d' ' -f2- || true

missing=""
for c in $CASES; do
    l=$(grep -E "^[0-9]+ $c [0-9]+ [0-9]+\$" "$CON" | head -n1 | cut -d' ' -f2-)
    if [ -n "$l" ]; then echo "$l"; else missing="$missing $c"; fi
done
rc=0
if [ -n "$missing" ]; then echo "# MISSING:$missing" >&2; rc=1; fi
grep -qE '^[0-9]+ # mmbench done failures=0$' "$CON" || { echo "# mmbench did not finish cleanly" >&2; rc=1; }
grep -qE '^[0-9]+ # anchor mmbench_exit=0 ' "$CON" || rc=1
if [ "$rc" != 0 ]; then
    echo "# console log (\$CACHE/$ARCH/console-last.log), last lines:" >&2
    tail -n 30 "$CON" >&2
fi
exit "$rc"
