# Tessera — the top-level build. `make help` lists targets and knobs.
#
# One concern per fragment in mk/: config (arch, paths, knobs), deps (set-up),
# relibc (the C library and C programs), kernel (kernel, loader, initfs),
# disk (images), qemu (the QEMU command, `qemu`, `qemu-test`), test (`test`,
# `lint`), soak (`soak`: the boot tests many times over), bench, fuzz.

SHELL := /bin/bash
.SHELLFLAGS := -e -o pipefail -c
.DEFAULT_GOAL := all
# A half-written image must not look up to date next time.
.DELETE_ON_ERROR:
# Cargo parallelises inside each build; QEMU tests must not run side by side
# (TCG timings, one results file). So make itself runs one recipe at a time.
.NOTPARALLEL:
MAKEFLAGS += --no-builtin-rules
.SUFFIXES:

include mk/config.mk
include mk/deps.mk
# Before kernel.mk: its initfs rules take the C programs (C_PROGRAMS).
include mk/relibc.mk
include mk/cookbook.mk
include mk/kernel.mk
include mk/disk.mk
include mk/qemu.mk
include mk/test.mk
include mk/soak.mk
include mk/bench.mk
include mk/fuzz.mk

.PHONY: all help clean distclean

# The images for ARCH (harddrive.img, test.img, test-fault.img).
all: images

clean:
	rm -rf $(BUILD)

distclean: clean
	$(CARGO) clean

help:
	@echo "Tessera — make targets (ARCH=$(ARCH); arch=x86_64|aarch64 selects it)"
	@echo ""
	@echo "  all        build $(BUILD)/<arch>/{harddrive,test,test-fault}.img (default)"
	@echo "  qemu       boot $(BUILD)/<arch>/<img>.img in QEMU on this terminal (quit: Ctrl-A X)"
	@echo "  qemu-test  the normal boot test of one arch (build/<arch>/test.img)"
	@echo "  test       host cargo test + lint + boot and fault tests on both arches;"
	@echo "             prints 'N passed, N failed' last and fails if anything failed"
	@echo "  soak       the boot, console and power tests n times per arch (both, or arch=),"
	@echo "             images built once; prints 'N passed, N failed' last, fails if any failed"
	@echo "  lint       cargo fmt --check; clippy -D warnings on host, kernel and loader targets"
	@echo "  bench      mmbench (Rust, with the scale benchmark: 32 / 2,048 / 32,000 mappings) and"
	@echo "             mmbench.c (C, relibc-shim) in the guest of one arch"
	@echo "  bench-compare  mmbench.c on Debian's Linux (bench/linux-anchor) and on Tessera, same QEMU,"
	@echo "             -cpu (qemu64 / cortex-a76, or cpu=), -smp, mem; prints one table (ratio, target"
	@echo "             from bench/targets.txt, met) and writes build/<arch>/bench-compare.txt;"
	@echo "             runs=N alternates N runs per side and takes medians"
	@echo "  profile    the bench image sampled through QEMU's gdb stub: share of time per kernel"
	@echo "             function in each mmbench-c case (bench/profile.py; interval_ms=N)"
	@echo "  fuzz       mm-fuzz in the guest of one arch: ops=N (default $(FUZZ_OPS_DEFAULT)) seed=S (default: random, printed)"
	@echo "  sysroot    build/<arch>/sysroot: relibc-shim headers, libc.a, crt0.o, <arch>-unknown-tessera-cc;"
	@echo "             -ar, -ranlib, -pkg-config and the CMake toolchain file (share/cmake)"
	@echo "  c-test-host  tests/c built with the host's cc and libc, and run (part of test)"
	@echo "  cook       make cook arch=… recipe=NAME: cook a recipe (cookbook/recipes/NAME) and its"
	@echo "             dependencies into $(BUILD)/<arch>/cookbook/NAME/stage (docs/cookbook.md)"
	@echo "  cook-fetch make cook-fetch recipe=NAME: only fetch and verify the sources"
	@echo "  deps       install missing Debian packages and Rust targets (build targets run it)"
	@echo "  kernel, loader, initfs, images   single pieces for ARCH"
	@echo "  clean      remove $(BUILD)/        distclean: also cargo clean"
	@echo ""
	@echo "Knobs (make <target> knob=value):"
	@echo "  arch=x86_64|aarch64   guest architecture (also ARCH=)       now: $(ARCH)"
	@echo "  smp=N                 CPUs                                  now: $(SMP)"
	@echo "  mem=SIZE              guest memory                          now: $(MEM)"
	@echo "  cpu=MODEL             QEMU -cpu (default: max / cortex-a76; bench-compare: qemu64 / cortex-a76)"
	@echo "  img=NAME              image for 'qemu': harddrive|test|test-fault  now: $(IMG)"
	@echo "  fresh=yes             qemu: a new normal image and data disk (else the root filesystem is kept)"
	@echo "  gdb=yes               'qemu': start halted with a gdb stub on :1234"
	@echo "  kvm=yes               use KVM when the host can (else a notice, and TCG)"
	@echo "  timeout=SECS          boot-test time limit                  now: $(TIMEOUT) (guest suite: $(TIMEOUT.boot), bench: $(BENCH_TIMEOUT), fuzz: $(FUZZ_TIMEOUT))"
	@echo "  verbose=yes           boot tests echo the guest's output as it comes"
	@echo "  n=N                   'soak': rounds                        now: $(SOAK_N)"
	@echo "  runs=N                'bench-compare': runs per side        now: $(COMPARE_RUNS)"
	@echo "  recipe=NAME           'cook', 'cook-fetch': the recipe"
	@echo "  offline=yes           the cookbook uses only build/cookbook-cache (also COOKBOOK_OFFLINE=1)"
