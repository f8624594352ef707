# mk/bench.mk — `make bench`: the Rust mm benchmark (tests/guest mmbench) in
# the guest, for ARCH (arch=x86_64|aarch64, like `qemu-test`; `bench-<arch>`
# names one). docs/mm.md "Benchmark" says what the numbers mean.
#
#   build/<arch>/initfs-bench  the test initfs's programs; init runs only
#                              `testrunner mmbench`
#   build/<arch>/bench.img     config test (QEMU exits with init's verdict)
#
# The boot-test harness boots it with a time limit (timeout=SECS, default
# $(BENCH_TIMEOUT_DEFAULT)) and judges it like a boot test, plus: mmbench
# reported `ok mmbench` and `1 passed, 0 failed`, and its last line says
# `failures=0`. Then mmbench's lines (results and `#` details) are printed
# from the log, build/<arch>/bench.log, whether it passed or not. The C
# mmbench (shared/bench/mmbench.c) needs a C library that does not exist
# yet: not built.

.PHONY: bench $(ARCHES:%=bench-%)

INIT_RC.initfs-bench := 'testrunner mmbench'
$(eval $(call initfs_rule,initfs-bench))
CONFIG.bench := test
INITFS.bench := initfs-bench
$(eval $(call image_rule,bench))

BENCH_TIMEOUT_DEFAULT := 300
BENCH_TIMEOUT := $(or $(timeout),$(BENCH_TIMEOUT_DEFAULT))
BENCH_EXPECT := --expect "\# mmbench done failures=0" --guest-results

bench: bench-$(ARCH)

$(ARCHES:%=bench-%): bench-%: $(BUILD)/%/bench.img $(BOOT_TEST) | deps
	@$(call kvm_notice,$*)
	@echo "bench: booting $< ($*, smp=$(SMP), mem=$(MEM), timeout $(BENCH_TIMEOUT) s)"
	@status=0; $(BOOT_TEST) --name bench-$* --timeout $(BENCH_TIMEOUT) --log $(BUILD)/$*/bench.log \
		$(if $(call yes,$(verbose)),--verbose) $(BENCH_EXPECT) -- $(call qemu_cmd,$*,$<) || status=$$?; \
	sed -n 's/^\[ *[0-9]* ms\] \(mmbench: .*\|# .*\)$$/bench-$*: \1/p' $(BUILD)/$*/bench.log; \
	exit $$status
