# mk/test.mk — `make test` (the one test command; CI runs it) and `make lint`.
#
# `make test` runs every step even when one fails, records each result, and
# ends with `boot-test summary`, whose exit status is the status of the run:
#   1. host `cargo test` (default members = host crates, then the libraries
#      in HOST_TESTED_LIBS), log in build/cargo-test.log
#   2. `make lint`, counted as one result
#   3. per arch: build test.img / test-fault.img / bad-kernel.img, then the
#      boot tests boot-<arch> (normal, and the banner's `memory:` and
#      `cpus: $(SMP) (` lines must appear; --guest-results: each in-guest
#      test is one more result, `guest-<arch>:NAME`), fault-<arch>
#      (--expect-fail: the kernel's fault report) and loader-error-<arch>
#      (--expect-fail: the loader refuses a `\kernel` that is not an ELF,
#      with a clear error), then console-<arch>: console-test.img (the
#      normal initfs in a test image) gets $(CONSOLE_INPUT) typed into the
#      console once its banner appears; its answers must appear and
#      `exit 0` must end the run with QEMU's status 33
#   4. the summary: every host test, lint, boot test and guest test;
#      `N passed, N failed` last.
# Each step appends `pass <name>` / `fail <name>` to build/results.txt.

.PHONY: test lint test-start test-cargo test-lint
RESULTS := $(BUILD)/results.txt
CARGO_TEST_LOG := $(BUILD)/cargo-test.log
CARGO_TEST_STATUS := $(BUILD)/cargo-test.status
# A sub-make for one step whose failure must be recorded, not fatal.
SUBMAKE = $(MAKE) --no-print-directory DEPS_CHECKED=1

test: deps test-start test-cargo test-lint $(BOOT_TEST) \
		$(foreach a,$(ARCHES),test-boot-$(a) test-fault-$(a) test-loader-error-$(a) test-console-$(a))
	@echo "==> summary"
	@$(BOOT_TEST) summary --results $(RESULTS) --cargo-log $(CARGO_TEST_LOG) \
		--cargo-exit "$$(cat $(CARGO_TEST_STATUS) 2>/dev/null || echo 1)"

# The harness (tests/harness); cargo decides whether it needs rebuilding.
$(BOOT_TEST): FORCE | deps
	$(CARGO) build -q -p tessera-harness

test-start:
	@mkdir -p $(BUILD)
	@rm -f $(RESULTS) $(CARGO_TEST_LOG) $(CARGO_TEST_STATUS)

# Host crates (default members), then the host-testable libraries of
# user-only packages (their binaries exist only on the user targets).
HOST_TESTED_LIBS := coreutils
test-cargo: | deps
	@echo "==> cargo test (host crates)"
	@{ status=0; $(CARGO) test --no-fail-fast || status=$$?; \
		for lib in $(HOST_TESTED_LIBS); do $(CARGO) test --no-fail-fast -p $$lib --lib || status=$$?; done; \
		echo $$status > $(CARGO_TEST_STATUS); } 2>&1 | tee $(CARGO_TEST_LOG)

test-lint: | deps
	@echo "==> lint"
	@if $(SUBMAKE) lint; then echo "ok lint"; echo "pass lint" >> $(RESULTS); \
		else echo "FAIL lint"; echo "fail lint" >> $(RESULTS); fi

# $(call boot_step,KIND,ARCH,IMAGE,EXTRA-FLAGS): build the image in a
# sub-make, then boot it; a failed build is recorded as a failed test.
define boot_step
	@echo "==> $(1)-$(2): $(3)"
	@if $(SUBMAKE) $(3); then \
		$(call kvm_notice,$(2)); \
		$(call boot_test,$(1),$(2),$(3),--results $(RESULTS) $(4)) || true; \
	else echo "FAIL $(1)-$(2): could not build $(3)"; echo "fail $(1)-$(2)" >> $(RESULTS); fi
endef

# What the boot tests require beyond `kernel: boot ok`: the banner's memory
# and CPU figures (`memory: 511 MiB total, ...`, `cpus: 2 (ACPI MADT)`).
# In variables, because `(` cannot stand unbalanced in a $(call ...).
LOADER_ERROR_EXPECT := --expect-fail --expect-fail-line "tessera-loader: error"

.PHONY: $(ARCHES:%=test-boot-%) $(ARCHES:%=test-fault-%) $(ARCHES:%=test-loader-error-%)
$(ARCHES:%=test-boot-%): test-boot-%: | deps
	$(call boot_step,boot,$*,$(BUILD)/$*/test.img,$(BOOT_EXPECT) --guest-results)
$(ARCHES:%=test-fault-%): test-fault-%: | deps
	$(call boot_step,fault,$*,$(BUILD)/$*/test-fault.img,--expect-fail)
$(ARCHES:%=test-loader-error-%): test-loader-error-%: | deps
	$(call boot_step,loader-error,$*,$(BUILD)/$*/bad-kernel.img,$(LOADER_ERROR_EXPECT))

# The console (schemes/console), driven through the serial port: every
# command once, line editing (DEL erasing a two-byte character, BS, an
# arrow key's escape sequence, CR LF), an unknown command, a program that
# fails, and `exit 0`, which ends init with 0 and so QEMU with 33.
CONSOLE_INPUT := $(BUILD)/console-input.txt
CONSOLE_EXPECT := --stdin $(CONSOLE_INPUT) --stdin-after "Tessera console on" \
	--expect "tessera> help" --expect "keys: backspace erases" \
	--expect "What init runs (schemes/init)" --expect "syscall-fuzz" --expect "free_frames " \
	--expect 'hello: argv[1] = "x"' --expect "console: kvd exited with status 2" \
	--expect "console: unknown command: frobnicate" --expect "init: console exited with status 0"
$(CONSOLE_INPUT): FORCE
	@mkdir -p $(dir $@)
	@printf '%b' 'help\n\033[Acat etc/init.rc\r\nls bim\010n\ncat sys:mem\0303\0251\0177ory\n' \
		'hello x\nkvd --bad\nfrobnicate\nexit 0\n' > $@
.PHONY: $(ARCHES:%=test-console-%)
$(ARCHES:%=test-console-%): test-console-%: $(CONSOLE_INPUT) | deps
	$(call boot_step,console,$*,$(BUILD)/$*/console-test.img,$(CONSOLE_EXPECT))

# fmt (lists unformatted files; `cargo fmt --all` fixes them), then clippy
# with -D warnings for the host crates and for the kernel and the loader on
# each of their targets. Runs every check, fails if any did.
LINT_CHECKS := \
	"$(CARGO) fmt --all --check -- --files-with-diff" \
	"$(CARGO) clippy --all-targets -- -D warnings" \
	$(foreach a,$(ARCHES), \
		"$(CARGO) clippy --release -p kernel --target $(KERNEL_TARGET.$(a)) -- -D warnings" \
		"$(CARGO) clippy --release -p tessera-bootloader --target $(LOADER_TARGET.$(a)) -- -D warnings" \
		"$(CARGO) clippy --release -p init -p console -p ramfs -p coreutils -p tessera-guest-tests -p tessera-runtime --target $(USER_TARGET.$(a)) -- -D warnings") \
	"$(CARGO) clippy -p tessera-initfs --all-targets --features std -- -D warnings"

lint: | deps
	@failed=0; for check in $(LINT_CHECKS); do \
		echo "lint: $$check"; $$check || { echo "lint: FAILED: $$check"; failed=$$((failed + 1)); }; \
	done; \
	if [ $$failed -gt 0 ]; then echo "lint: $$failed check(s) failed"; exit 1; fi
