# mk/bench.mk — `make bench`: the mm benchmarks in the guest, for ARCH
# (arch=x86_64|aarch64, like `qemu-test`; `bench-<arch>` names one): the
# Rust mmbench (tests/guest) and mmbench-c, the project yardstick
# bench/mmbench.c (shared/bench/mmbench.c) built with relibc-shim
# (mk/relibc.mk). docs/mm.md "Benchmark" says what the numbers mean.
#
#   build/<arch>/initfs-bench  the test initfs's programs; init starts
#                              ramfs (mmbench-c's file cases use
#                              file:/mmbench.dat), then runs only
#                              `testrunner mmbench mmbench-c`
#   build/<arch>/bench.img     config test (QEMU exits with init's verdict)
#
# The boot-test harness boots it with a time limit (timeout=SECS, default
# $(BENCH_TIMEOUT_DEFAULT)) and judges it like a boot test, plus: both
# reported `ok` (`2 passed, 0 failed`; a program exits 0 only with no
# failed check), mmbench-c included, and `# mmbench done failures=0` was
# printed. Then the benchmarks' lines (results and `#` details; mmbench-c's
# results are `<case> <iterations> <ns_per_op>`) are printed from the log,
# build/<arch>/bench.log, whether it passed or not.

.PHONY: bench $(ARCHES:%=bench-%)

INIT_RC.initfs-bench := 'daemon ramfs' 'wait-scheme file' 'testrunner mmbench mmbench-c'
$(eval $(call initfs_rule,initfs-bench))
CONFIG.bench := test
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
	sed -n 's/^\[ *[0-9]* ms\] \(mmbench: .*\|# .*\|[a-z0-9_]* [0-9]* [0-9]*\)$$/bench-$*: \1/p' $(BUILD)/$*/bench.log; \
	exit $$status
