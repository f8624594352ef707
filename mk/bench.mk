# mk/bench.mk — `make bench`: the mm benchmarks in the guest, for ARCH
# (arch=x86_64|aarch64, like `qemu-test`; `bench-<arch>` names one): the
# Rust mmbench (tests/guest) and mmbench-c, the project yardstick
# bench/mmbench.c (shared/bench/mmbench.c) built with relibc-shim
# (mk/relibc.mk). docs/mm.md "Benchmark" says what the numbers mean.
#
#   build/<arch>/initfs-bench  the test initfs's programs; init mounts the
#                              root as the test images do (redoxfsd as
#                              file:, ramfs as tmp:, mk/kernel.mk), then
#                              the test runner runs mmbench, then
#                              mmbench-c with its data file on ramfs
#                              (/scheme/tmp/mmbench.dat: the comparison
#                              with Linux's tmpfs uses this run, the
#                              first) and again on the root filesystem
#                              (/mmbench.dat: pages from redoxfsd's page
#                              cache); each run's `# mmbench 2 ... file=`
#                              line says which
#   build/<arch>/bench.img     config test (QEMU exits with init's verdict),
#                              with TESSERA_KPTI=auto: page-table isolation
#                              left to the CPU, as Linux (docs/kernel.md)
#
# The boot-test harness boots it with a time limit (timeout=SECS, default
# $(BENCH_TIMEOUT_DEFAULT)) and judges it like a boot test, plus: both
# reported `ok` (`3 passed, 0 failed`; a program exits 0 only with no
# failed check), mmbench-c included, and `# mmbench done failures=0` was
# printed. Then the benchmarks' lines (results, the scale benchmark's
# `mmbench-scale:` lines and `#` details; mmbench-c's results are
# `<case> <iterations> <ns_per_op>`) are printed from the log,
# build/<arch>/bench.log, whether it passed or not.

.PHONY: bench $(ARCHES:%=bench-%) profile $(ARCHES:%=profile-%)

INIT_RC.initfs-bench := $(INIT_RC.root) 'testrunner'
TESTS_LIST.initfs-bench := 'mmbench' 'mmbench-c /scheme/tmp/mmbench.dat' 'mmbench-c /mmbench.dat'
$(eval $(call initfs_rule,initfs-bench))
CONFIG.bench := test
IMAGE_ENV.bench := TESSERA_KPTI=auto
INITFS.bench := initfs-bench
$(eval $(call image_rule,bench))

BENCH_TIMEOUT_DEFAULT := 300
BENCH_TIMEOUT := $(or $(timeout),$(BENCH_TIMEOUT_DEFAULT))
BENCH_EXPECT := --expect "\# mmbench done failures=0" --expect "ok mmbench-c" --guest-results

bench: bench-$(ARCH)

$(ARCHES:%=bench-%): bench-%: $(BUILD)/%/bench.img $(BOOT_TEST) | deps
	@$(call kvm_notice,$*)
	@echo "bench: booting $< ($*, smp=$(SMP), mem=$(MEM), timeout $(BENCH_TIMEOUT) s)"
	@status=0; $(BOOT_TEST) --name bench-$* --timeout $(BENCH_TIMEOUT) --log $(BUILD)/$*/bench.log \
		$(if $(call yes,$(verbose)),--verbose) $(BENCH_EXPECT) -- $(call qemu_cmd,$*,$<) || status=$$?; \
	sed -n 's/^\[ *[0-9]* ms\] \(mmbench: .*\|mmbench-scale: .*\|# .*\|[a-z0-9_]* [0-9]* [0-9]*\)$$/bench-$*: \1/p' $(BUILD)/$*/bench.log; \
	exit $$status

# ---- bench-compare: the same mmbench on Linux and on Tessera ----------------
# `make bench-compare arch=x86_64|aarch64` (`bench-compare-<arch>` names
# one) boots the Linux anchor (bench/linux-anchor/run.sh: Debian's stock
# kernel, a static mmbench.c built with the host's C compiler) and then
# Tessera's bench image, both with the same QEMU binary, machine, -cpu, -smp
# and memory, on TCG (kvm= does not apply), and prints one table per case:
# Linux ns/op, Tessera ns/op (mmbench-c), ratio Tessera / Linux, the target
# (bench/targets.txt) and whether it is met. The table, with the date, the
# QEMU version and the CPU models, goes to stdout and to
# build/<arch>/bench-compare.txt (tool: bench/compare). Logs:
#   build/<arch>/linux-anchor.txt       run.sh's output (its console log is
#                                       build/linux-anchor/<arch>/console-last.log)
#   build/<arch>/bench-compare.log      Tessera's console log
# (with runs=N, run 2 onwards: linux-anchor.<i>.txt, bench-compare.<i>.log).
# The host's 1-minute load average at each run's start is printed with the
# table: TCG figures follow it.
# The anchor's kernel package, private apt lists (the host's apt state is
# left alone) and initramfs are cached in build/linux-anchor/, so `make
# clean` removes them; the first run downloads the kernel (~70 MB).
#
# -cpu: qemu64 on x86_64 (Linux is fastest there; Tessera runs on it, with
# SMEP and SMAP missing, which its kernel only reports), cortex-a76 on
# aarch64 (Tessera's default; Debian's kernel runs on it). cpu=MODEL sets
# both. The machine is Tessera's (q35; virt,acpi=off,gic-version=3: the
# anchor boots with -kernel, so acpi=off changes nothing for it).

.PHONY: bench-compare $(ARCHES:%=bench-compare-%) bench-compare-deps

COMPARE_CPU.x86_64 := qemu64
COMPARE_CPU.aarch64 := cortex-a76
BENCH_COMPARE := $(TARGET_DIR)/debug/bench-compare
# runs=N: N runs per side, alternating Linux and Tessera; the table's
# figures are the medians over the runs (each run's are listed under it).
COMPARE_RUNS := $(or $(runs),1)
ANCHOR_CACHE := $(abspath $(BUILD))/linux-anchor
HOST_ARCH := $(shell uname -m)
# The anchor's C compiler: the host's gcc for the host's arch, else the
# Debian cross compiler; each needs a static libc (libc.a) for that arch.
ANCHOR_CC.x86_64 := $(if $(filter x86_64,$(HOST_ARCH)),gcc,x86_64-linux-gnu-gcc)
ANCHOR_CC.aarch64 := $(if $(filter aarch64,$(HOST_ARCH)),gcc,aarch64-linux-gnu-gcc)
ANCHOR_PROBES.x86_64 := $(if $(filter x86_64,$(HOST_ARCH)),gcc gcc\nlibc6-dev /usr/lib/x86_64-linux-gnu/libc.a,gcc-x86-64-linux-gnu x86_64-linux-gnu-gcc\nlibc6-dev-amd64-cross /usr/x86_64-linux-gnu/lib/libc.a)
ANCHOR_PROBES.aarch64 := $(if $(filter aarch64,$(HOST_ARCH)),gcc gcc\nlibc6-dev /usr/lib/aarch64-linux-gnu/libc.a,gcc-aarch64-linux-gnu aarch64-linux-gnu-gcc\nlibc6-dev-arm64-cross /usr/aarch64-linux-gnu/lib/libc.a)

# What run.sh needs besides QEMU (`make deps`): cpio and gzip for the
# initramfs, apt-get and dpkg-deb for the kernel package, and the C compiler
# with a static libc. Installed only if missing, the way `make deps` does.
define BENCH_COMPARE_DEPS_SCRIPT
set -euo pipefail
have() { command -v "$$1" >/dev/null 2>&1; }
changed=no
probes="$$(printf 'cpio cpio\ngzip gzip\ndpkg dpkg-deb\n$(ANCHOR_PROBES.$(ARCH))')"
deps_hint="cpio, gzip, dpkg-deb, and $(ANCHOR_CC.$(ARCH)) with a static libc for $(ARCH)"
$(APT_INSTALL_MISSING)
if [ "$$changed" = no ]; then echo "deps: the Linux anchor's tools are present"; fi
endef

bench-compare: bench-compare-$(ARCH)

bench-compare-deps: export TESSERA_BENCH_COMPARE_DEPS_SCRIPT = $(BENCH_COMPARE_DEPS_SCRIPT)
bench-compare-deps:
	@bash -c "$$TESSERA_BENCH_COMPARE_DEPS_SCRIPT"

$(BENCH_COMPARE): FORCE | deps
	$(CARGO) build -q -p tessera-bench-compare

# Both runs use this -cpu (kvm= is ignored: the anchor runs on TCG).
$(foreach a,$(ARCHES),$(eval bench-compare-$(a): override cpu := $(or $(cpu),$(COMPARE_CPU.$(a)))))
bench-compare-%: override kvm :=

$(ARCHES:%=bench-compare-%): bench-compare-%: $(BUILD)/%/bench.img $(BOOT_TEST) $(BENCH_COMPARE) | deps
	@$(MAKE) --no-print-directory bench-compare-deps arch=$* DEPS_CHECKED=1
	@status=0; linux=(); tessera=(); loads=""; \
	for i in $$(seq 1 $(COMPARE_RUNS)); do \
		sfx=$$([ "$$i" = 1 ] || echo ".$$i"); \
		echo "bench-compare: run $$i of $(COMPARE_RUNS): Linux anchor ($*, -M $(MACHINE.$*) -cpu $(cpu) -smp $(SMP) -m $(MEM)); log $(BUILD)/$*/linux-anchor$$sfx.txt"; \
		linux_load=$$(cut -d' ' -f1 /proc/loadavg); \
		CACHE=$(ANCHOR_CACHE) CC=$(ANCHOR_CC.$*) QEMU=$(QEMU.$*) MACHINE=$(MACHINE.$*) CPU=$(cpu) SMP=$(SMP) MEM=$(MEM) \
			TIMEOUT=$(or $(timeout),900) bench/linux-anchor/run.sh $* > $(BUILD)/$*/linux-anchor$$sfx.txt || \
			{ cat $(BUILD)/$*/linux-anchor$$sfx.txt; echo "bench-compare: the Linux anchor failed"; exit 1; }; \
		echo "bench-compare: run $$i of $(COMPARE_RUNS): Tessera $< ($*, -cpu $(cpu), smp=$(SMP), mem=$(MEM), timeout $(BENCH_TIMEOUT) s); log $(BUILD)/$*/bench-compare$$sfx.log"; \
		tessera_load=$$(cut -d' ' -f1 /proc/loadavg); \
		$(BOOT_TEST) --name bench-compare-$* --timeout $(BENCH_TIMEOUT) --log $(BUILD)/$*/bench-compare$$sfx.log \
			$(if $(call yes,$(verbose)),--verbose) $(BENCH_EXPECT) -- $(call qemu_cmd,$*,$<) || status=$$?; \
		linux+=(--linux $(BUILD)/$*/linux-anchor$$sfx.txt); tessera+=(--tessera $(BUILD)/$*/bench-compare$$sfx.log); \
		loads="$$loads$$([ "$$i" = 1 ] || echo '; ')linux $$linux_load, tessera $$tessera_load"; \
	done; \
	$(BENCH_COMPARE) --arch $* "$${linux[@]}" "$${tessera[@]}" \
		--targets bench/targets.txt --tessera-cmd "$(call qemu_cmd,$*,$<)" --date "$$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		--host-load "$$loads (1 min; the host has $$(nproc) CPUs)" \
		--host-cpu "$$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)" \
		--out $(BUILD)/$*/bench-compare.txt || status=$$?; \
	exit $$status

# ---- profile: where the guest's time goes, per benchmark case -------------
# `make profile arch=x86_64|aarch64` boots the bench image (with the -cpu
# bench-compare uses) under bench/profile.py, which stops the guest through
# QEMU's gdb stub every interval_ms (default 2) milliseconds, reads each
# CPU's program counter and prints, per mmbench-c case, the share of samples
# per kernel function (`[user]` for user space; the idle CPU shows as the
# scheduler's loop). `user_elf=PATH` names user PCs from that program's
# symbols, e.g. user_elf=target/x86_64-unknown-none/release/redoxfsd (on
# x86_64 only in the address space that hits its text most: profile.py).
# The console log is build/<arch>/profile.log.
$(foreach a,$(ARCHES),$(eval profile-$(a): override cpu := $(or $(cpu),$(COMPARE_CPU.$(a)))))
profile: profile-$(ARCH)
$(ARCHES:%=profile-%): profile-%: $(BUILD)/%/bench.img | deps
	python3 bench/profile.py --arch $* --kernel $(BUILD)/$*/kernel --interval-ms $(or $(interval_ms),2) \
		$(if $(user_elf),--user-elf $(user_elf)) \
		--log $(BUILD)/$*/profile.log -- $(call qemu_cmd,$*,$<)

# ---- trace-op: every instruction of one operation ---------------------------
# `make trace-op arch=x86_64|aarch64` boots the bench image (the -cpu of
# bench-compare) under bench/trace-op.py, which single-steps one call of an
# mmbench-c function to the next in the first mmbench-c run (func=NAME,
# default mmap: one iteration of mmap_munmap_4k's loop; skip=N calls let go
# first, default 2) and prints the instruction count per function (runs=yes:
# and the path, function by function).
.PHONY: trace-op $(ARCHES:%=trace-op-%)
$(foreach a,$(ARCHES),$(eval trace-op-$(a): override cpu := $(or $(cpu),$(COMPARE_CPU.$(a)))))
trace-op: trace-op-$(ARCH)
$(ARCHES:%=trace-op-%): trace-op-%: $(BUILD)/%/bench.img | deps
	python3 bench/trace-op.py --arch $* --kernel $(BUILD)/$*/kernel --user-elf $(BUILD)/$*/c-bin/mmbench-c \
		$(if $(func),--func $(func)) $(if $(skip),--skip $(skip)) $(if $(call yes,$(runs)),--runs) \
		-- $(call qemu_cmd,$*,$<)
