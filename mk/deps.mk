# mk/deps.mk — set-up: installs what the build and QEMU need, if missing.
#
# Debian packages (QEMU for both arches, OVMF/AAVMF firmware, clang, lld, llvm) are
# probed by the command or firmware file each provides, and only the missing
# ones are installed (apt-get as root, or through `sudo -n`). The Rust
# toolchain, targets and components come from rust-toolchain.toml; missing
# ones are added with rustup. The check runs every time (about 0.1 s, no
# stamp file: CI machines differ) and prints one line when all is present.
# Sub-makes started by mk/test.mk pass DEPS_CHECKED=1 to skip it.

.PHONY: deps

# The shell fragment that installs the Debian packages of $$probes (lines
# "PACKAGE PROBE": a command name or an absolute path) that are missing,
# saying which, with apt-get as root or through `sudo -n`; it sets
# changed=yes when it installed something. DEPS_SCRIPT uses it, and so does
# `bench-compare`'s set-up (mk/bench.mk). $$deps_hint says what to install
# by hand on a machine without apt-get.
define APT_INSTALL_MISSING
find_missing() {
  missing=()
  while read -r pkg probe; do
    case "$$probe" in
      /*) [ -e "$$probe" ] || missing+=("$$pkg") ;;
      *) have "$$probe" || missing+=("$$pkg") ;;
    esac
  done <<<"$$probes"
}
find_missing
if [ $${#missing[@]} -gt 0 ]; then
  if ! have apt-get; then
    echo "deps: error: missing $${missing[*]}, and this machine has no apt-get." >&2
    echo "deps: install $$deps_hint by hand." >&2
    exit 1
  fi
  if [ "$$(id -u)" -eq 0 ]; then sudo=""
  elif have sudo && sudo -n true 2>/dev/null; then sudo="sudo -n"
  else
    echo "deps: error: installing $${missing[*]} needs root, and sudo is not available without a password." >&2
    echo "deps: run: sudo apt-get install --no-install-recommends $${missing[*]}" >&2
    exit 1
  fi
  echo "deps: installing $${missing[*]}"
  $$sudo apt-get update -q
  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$${missing[@]}"
  find_missing
  if [ $${#missing[@]} -gt 0 ]; then
    echo "deps: error: still missing after apt-get: $${missing[*]} (see the probes in mk/deps.mk)" >&2
    exit 1
  fi
  changed=yes
fi
endef

define DEPS_SCRIPT
set -euo pipefail
have() { command -v "$$1" >/dev/null 2>&1; }
changed=no

# Debian packages, each with its probe: a command name or an absolute path.
probes="qemu-system-x86 qemu-system-x86_64
qemu-system-arm qemu-system-aarch64
ovmf $(FIRMWARE.x86_64)
qemu-efi-aarch64 $(FIRMWARE.aarch64)
clang clang
lld ld.lld
llvm llvm-ar"
deps_hint="QEMU (x86_64 and aarch64), OVMF at $(FIRMWARE.x86_64), AAVMF at $(FIRMWARE.aarch64), clang, lld and llvm (llvm-ar)"
$(APT_INSTALL_MISSING)

# Rust: the pinned toolchain and everything rust-toolchain.toml lists.
if ! have rustup; then
  echo "deps: error: rustup not found; install it from https://rustup.rs (rust-toolchain.toml pins the rest)." >&2
  exit 1
fi
toml_list() { awk -v key="$$1" '$$0 ~ "^" key " *= *\\[" { on = 1 } on { print } on && /\]/ { exit }' rust-toolchain.toml | grep -o '"[^"]*"' | tr -d '"'; }
channel=$$(awk -F'"' '/^channel/ { print $$2; exit }' rust-toolchain.toml)
if ! rustup toolchain list | grep -q "^$$channel-"; then
  echo "deps: installing Rust $$channel"
  rustup toolchain install "$$channel" --profile minimal
  changed=yes
fi
installed=$$(rustup target list --installed)
targets=()
for t in $$(toml_list targets); do grep -qx "$$t" <<<"$$installed" || targets+=("$$t"); done
if [ $${#targets[@]} -gt 0 ]; then
  echo "deps: adding Rust targets $${targets[*]}"
  rustup target add "$${targets[@]}"
  changed=yes
fi
installed=$$(rustup component list --installed)
components=()
for c in $$(toml_list components); do grep -q "^$$c-" <<<"$$installed" || components+=("$$c"); done
if [ $${#components[@]} -gt 0 ]; then
  echo "deps: adding Rust components $${components[*]}"
  rustup component add "$${components[@]}"
  changed=yes
fi

if [ "$$changed" = no ]; then echo "deps: all present"; else echo "deps: done"; fi
endef

deps: export TESSERA_DEPS_SCRIPT = $(DEPS_SCRIPT)
deps:
ifeq ($(DEPS_CHECKED),)
	@bash -c "$$TESSERA_DEPS_SCRIPT"
endif
