# mk/fuzz.mk — `make fuzz`: the mm fuzzer (tests/guest/src/bin/mm-fuzz)
# alone in the guest of ARCH (arch=x86_64|aarch64; `fuzz-<arch>` names
# one), for any number of operations:
#
#   make fuzz arch=aarch64 ops=1000000 seed=0x1234
#
#   ops=N      operations (default $(FUZZ_OPS_DEFAULT))
#   seed=S     the PRNG seed, decimal or 0x hex (default: a random one);
#              printed first, so any run can be repeated exactly
#   timeout=S  seconds QEMU may run (default: 300 + ops / 150)
#
#   build/<arch>/initfs-fuzz  the test initfs's programs; init starts ramfs,
#                             then `testrunner`, whose etc/tests.list is the
#                             one line `mm-fuzz OPS SEED`
#   build/<arch>/fuzz.img     config test (QEMU exits with init's verdict)
#
# The boot-test harness judges it like a boot test, plus `ok mm-fuzz`
# (`1 passed, 0 failed`); then mm-fuzz's own lines (the seed, the counts,
# the time, or the failure report with the last operations) are printed
# from the log, build/<arch>/fuzz.log. docs/mm.md "Fuzzing" says what runs.

.PHONY: fuzz $(ARCHES:%=fuzz-%)

FUZZ_OPS_DEFAULT := 100000
FUZZ_OPS := $(or $(ops),$(FUZZ_OPS_DEFAULT))
# A random seed only when a fuzz target runs (the initfs rule below is
# defined for every make run).
ifneq ($(filter fuzz fuzz-%,$(MAKECMDGOALS)),)
FUZZ_SEED := $(or $(seed),$(shell printf '0x%x' $$(od -An -N4 -tu4 /dev/urandom)))
else
FUZZ_SEED := $(or $(seed),1)
endif
FUZZ_TIMEOUT := $(or $(timeout),$(shell echo $$((300 + $(FUZZ_OPS) / 150))))

INIT_RC.initfs-fuzz := 'daemon ramfs' 'wait-scheme file' 'testrunner'
TESTS_LIST.initfs-fuzz := 'mm-fuzz $(FUZZ_OPS) $(FUZZ_SEED)'
$(eval $(call initfs_rule,initfs-fuzz))
CONFIG.fuzz := test
INITFS.fuzz := initfs-fuzz
$(eval $(call image_rule,fuzz))

fuzz: fuzz-$(ARCH)

$(ARCHES:%=fuzz-%): fuzz-%: $(BUILD)/%/fuzz.img $(BOOT_TEST) | deps
	@$(call kvm_notice,$*)
	@echo "fuzz: seed $(FUZZ_SEED) ops $(FUZZ_OPS): booting $< ($*, smp=$(SMP), mem=$(MEM), timeout $(FUZZ_TIMEOUT) s)"
	@status=0; $(BOOT_TEST) --name fuzz-$* --timeout $(FUZZ_TIMEOUT) --log $(BUILD)/$*/fuzz.log \
		$(if $(call yes,$(verbose)),--verbose) --expect "ok mm-fuzz" --guest-results -- $(call qemu_cmd,$*,$<) \
		|| status=$$?; \
	sed -n 's/^\[ *[0-9]* ms\] \(mm-fuzz: .*\|ok mm-fuzz\|FAIL mm-fuzz.*\)$$/fuzz-$*: \1/p' $(BUILD)/$*/fuzz.log; \
	echo "fuzz-$*: seed $(FUZZ_SEED) ops $(FUZZ_OPS): $$([ $$status = 0 ] && echo passed || echo FAILED)"; \
	exit $$status
