# mk/test.mk — `make test` (the one test command; CI runs it) and `make lint`.
#
# `make test` runs every step even when one fails, records each result, and
# ends with `boot-test summary`, whose exit status is the status of the run:
#   1. host `cargo test` (default members = host crates, the kernel's pure
#      logic among them: tessera-exec, tessera-time, tessera-abi's scheme
#      response checks, tessera-mm, rmm; then the libraries in
#      HOST_TESTED_LIBS), log in build/cargo-test.log
#   2. `make lint`, counted as one result
#   2b. tests/c built with the host's cc and libc and run (`make
#      c-test-host`, mk/relibc.mk), counted as `c-host`
#   3. per arch: build test.img / test-fault.img / bad-kernel.img, then the
#      boot tests boot-<arch> (normal, and the banner's `memory:` and
#      `cpus: $(SMP) (` lines must appear; --guest-results: each in-guest
#      test is one more result, `guest-<arch>:NAME`), fault-<arch>
#      (--expect-fail: the kernel's fault report) and loader-error-<arch>
#      (--expect-fail: the loader refuses a `\kernel` that is not an ELF,
#      with a clear error), then console-<arch>: console-test.img (the
#      normal initfs in a test image: init, consoled, sh respawned) gets
#      the $(CONSOLE_INPUTS) stages typed into the serial console, the
#      first at the shell's prompt; the answers must appear, the timing line
#      gives QEMU start to prompt, and `shutdown` (the unprivileged tool,
#      carried out by init through `init:power`) must end the run with
#      QEMU's status 33; and power-<arch>: the normal image (harddrive.img)
#      runs `mmapdemo` and `shutdown` typed at the prompt, and must power
#      off (QEMU's status 0)
#   4. the summary: every host test, lint, boot test and guest test;
#      `N passed, N failed` last.
# Each step appends `pass <name>` / `fail <name>` to build/results.txt.

.PHONY: test lint test-start test-cargo test-lint
RESULTS := $(BUILD)/results.txt
CARGO_TEST_LOG := $(BUILD)/cargo-test.log
CARGO_TEST_STATUS := $(BUILD)/cargo-test.status
# A sub-make for one step whose failure must be recorded, not fatal.
SUBMAKE = $(MAKE) --no-print-directory DEPS_CHECKED=1

test: deps test-start test-cargo test-lint test-c-host $(BOOT_TEST) \
		$(foreach a,$(ARCHES),test-boot-$(a) test-fault-$(a) test-loader-error-$(a) test-console-$(a) test-power-$(a) test-persist-$(a))
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
	$(call boot_step,boot,$*,$(BUILD)/$*/test.img,$(BOOT_EXPECT) $(GUARDS_EXPECT.$*) --guest-results)
$(ARCHES:%=test-fault-%): test-fault-%: | deps
	$(call boot_step,fault,$*,$(BUILD)/$*/test-fault.img,--expect-fail)
$(ARCHES:%=test-loader-error-%): test-loader-error-%: | deps
	$(call boot_step,loader-error,$*,$(BUILD)/$*/bad-kernel.img,$(LOADER_ERROR_EXPECT))

# The shell on the console (programs/sh over schemes/consoled), driven
# through the serial port in four stages, each typed once its trigger shows:
#   1. at the first prompt: builtins, the C suite's ioctl-winsize case on
#      the console (TIOCGWINSZ / TIOCSWINSZ answered by consoled), a
#      pipeline into a file, `<` and `>>`,
#      `cd`/`PWD` on the initfs, a missing command and `$?`, `||` and `&&`,
#      line editing (BS, an arrow key's escape sequence, DEL erasing a
#      two-byte character, CR LF), then a command that prints and sleeps;
#   2. once it printed: Ctrl-C, which must interrupt it (status 130);
#   3. after the `^C` echo: `$?`, then `exit 7` (init restarts the shell);
#   4. once init reports that: `shutdown`, which ends the run (QEMU's
#      status 33 in a test image). The shell and the tool are unprivileged:
#      the tool asks init (`init:power`), which reports it and writes
#      `sys:power` (docs/kernel.md, "Privilege").
# Expected texts are outputs the typed lines do not contain themselves
# (the console echoes what is typed).
CONSOLE_PROMPT := tessera:/$$ 
CONSOLE_INPUTS := $(foreach n,1 2 3 4,$(BUILD)/console-input-$(n).txt)
CONSOLE_EXPECT := --prompt "$(CONSOLE_PROMPT)" \
	--stdin $(BUILD)/console-input-1.txt --stdin-after "$(CONSOLE_PROMPT)" \
	--stdin $(BUILD)/console-input-2.txt --stdin-after "napping" \
	--stdin $(BUILD)/console-input-3.txt --stdin-after "^C" \
	--stdin $(BUILD)/console-input-4.txt --stdin-after "exited with status 7; restarting" \
	--expect "Tessera shell on" --expect "tessera:/$$ help" --expect "cd [DIR]" \
	--expect "the console's window size is 24 x 80" --expect "c-tests: ok ioctl-winsize" \
	--expect "hello-world" --expect "moworld" --expect "tessera:initfs:/etc$$" --expect "respawn sh" \
	--expect "sh: frobnicate: not found" --expect "status=127" --expect "or-world" --expect "and-world" \
	--expect "XY-ok" --expect "after-interrupt=130" --expect "asked to power off" --expect "kernel: power off"
$(CONSOLE_INPUTS): FORCE
	@mkdir -p $(dir $@)
	@printf '%b' 'help\nCTEST_CONSOLE=1 c-tests ioctl-winsize\nexport GREETING=world\necho hello-$$GREETING | cat > /greeting\ncat /greeting\n' \
		'echo mo$$GREETING >> /greeting\ncat < /greeting\ncd initfs:etc\ncat < init.rc\ncd /\n' \
		'frobnicate\necho status=$$?\nfalse || echo or-$$GREETING\ntrue && echo and-$$GREETING\n' \
		'echo X\033[AY-\0303\0251\0177o\010ok\r\n' \
		"W=ping sh -c 'echo nap\$$W; sleep 20'\n" > $(BUILD)/console-input-1.txt
	@printf '\003' > $(BUILD)/console-input-2.txt
	@printf '%s\n' 'echo after-interrupt=$$?' 'exit 7' > $(BUILD)/console-input-3.txt
	@printf '%s\n' 'shutdown' > $(BUILD)/console-input-4.txt
.PHONY: $(ARCHES:%=test-console-%)
$(ARCHES:%=test-console-%): test-console-%: $(CONSOLE_INPUTS) | deps
	$(call boot_step,console,$*,$(BUILD)/$*/console-test.img,$(CONSOLE_EXPECT))

# The normal image (harddrive.img, not a test image) as a user meets it:
# at the shell's prompt `mmapdemo` (the README's first thing to try) must
# succeed, then `shutdown` (unprivileged, as the shell: init carries it out,
# docs/init.md) must power the machine off through the firmware (ACPI S5 /
# PSCI SYSTEM_OFF), which ends QEMU with status 0.
POWER_INPUT := $(BUILD)/power-input.txt
POWER_EXPECT := --prompt "$(CONSOLE_PROMPT)" --stdin $(POWER_INPUT) --stdin-after "$(CONSOLE_PROMPT)" \
	--expect "mmapdemo: ok" --expect "asked to power off" --expect "kernel: power off" --pass-status 0
$(POWER_INPUT): FORCE
	@mkdir -p $(dir $@)
	@printf '%s\n' 'mmapdemo' 'shutdown' > $@
.PHONY: $(ARCHES:%=test-power-%)
$(ARCHES:%=test-power-%): test-power-%: $(POWER_INPUT) | deps
	$(call boot_step,power,$*,$(BUILD)/$*/harddrive.img,$(POWER_EXPECT))

# Persistence of the root filesystem (redoxfsd on the boot disk's
# TESSERA_ROOT partition, docs/redoxfs.md): three boots of one copy of the
# normal image (build/<arch>/persist.img, always with a new root: mk/disk.mk),
# build/<arch>/persist-run.img, made new for each run, booted
# without snapshot=on so that what the guest writes stays:
#   persist-shutdown: at the prompt, a file made by the shell, and a file
#     written through a MAP_SHARED mapping and msync'ed (`persist write`,
#     tests/guest/src/bin/persist.rs); disk faults: on a third disk behind
#     blkdebug (QEMU_FLAKY, mk/qemu.mk, a new empty file per run) msync and
#     munmap give EIO while writes fail and the retries succeed once the
#     fault is lifted (`persist fault-write`); then `shutdown` (QEMU's
#     status 0);
#   (also: a SQLite database in WAL mode made by the package /usr/bin/sqlite3
#     on the root, installer [packages]);
#   persist-kill: both files read back (`cat`; `persist check`: read() and
#     a new mapping), the database queried (123457 * 3), the faulty disk's
#     files too (`persist fault-check`:
#     what the retries wrote is on it), then a second file written and
#     msync'ed, and QEMU
#     killed with SIGKILL the moment `msync returned` is printed (a power
#     cut: nothing is unmounted or flushed after it);
#   persist-reboot: the second file read back, the package lua (installer
#     [packages], docs/cookbook.md) run from the root's /usr/bin, then
#     `shutdown`.
# Expected texts are outputs, never parts of the typed lines.
PERSIST_INPUTS := $(foreach n,1 2 3,$(BUILD)/persist-input-$(n).txt)
$(PERSIST_INPUTS): FORCE
	@mkdir -p $(dir $@)
	@printf '%s\n' 'export W=prompt' 'echo typed-at-the-$$W > /persist-note' 'persist write /persist-data one' \
		"/usr/bin/sqlite3 /persist.db 'pragma journal_mode=wal; create table t(x); insert into t values(123457);'" \
		'persist fault-write tessera-flaky' 'shutdown' > $(BUILD)/persist-input-1.txt
	@printf '%s\n' 'cat /persist-note' 'persist check /persist-data one' 'persist fault-check tessera-flaky' \
		"/usr/bin/sqlite3 /persist.db 'select x * 3 from t; pragma integrity_check;'" \
		'persist write /persist-kill two' \
		> $(BUILD)/persist-input-2.txt
	@printf '%s\n' 'persist check /persist-kill two' 'persist check /persist-data one' \
		"/usr/bin/lua -e 'print(6 * 7 .. \"-from-the-root\")'" 'shutdown' > $(BUILD)/persist-input-3.txt
PERSIST_EXPECT.shutdown := --stdin $(BUILD)/persist-input-1.txt --stdin-after "$(CONSOLE_PROMPT)" \
	--expect "persist: /persist-data: msync returned" --expect "persist: /persist-data: written" \
	--expect "persist: fault: msync and munmap gave EIO while the disk failed; the daemon lives" \
	--expect "persist: fault: once the fault was lifted the retried msync and fsync wrote the data" \
	--expect "kernel: power off" --pass-status 0
PERSIST_EXPECT.kill := --stdin $(BUILD)/persist-input-2.txt --stdin-after "$(CONSOLE_PROMPT)" \
	--expect "typed-at-the-prompt" --expect "persist: /persist-data: read and mapping ok" \
	--expect "persist: fault: after a reboot both files are on the disk" --expect "370371" \
	--kill-after "persist: /persist-kill: msync returned"
PERSIST_EXPECT.reboot := --stdin $(BUILD)/persist-input-3.txt --stdin-after "$(CONSOLE_PROMPT)" \
	--expect "persist: /persist-kill: read and mapping ok" --expect "persist: /persist-data: read and mapping ok" \
	--expect "42-from-the-root" --expect "kernel: power off" --pass-status 0
.PHONY: $(ARCHES:%=test-persist-%)
$(ARCHES:%=test-persist-%): BOOT_SNAPSHOT =
$(ARCHES:%=test-persist-%): QEMU_FLAKY = $(call flaky_disk,$(BUILD)/$*/persist-flaky.img)
$(ARCHES:%=test-persist-%): test-persist-%: $(PERSIST_INPUTS) | deps
	@echo "==> persist-$*: three boots of a copy of the normal image"
	@if $(SUBMAKE) $(BUILD)/$*/persist.img && cp $(BUILD)/$*/persist.img $(BUILD)/$*/persist-run.img \
		&& rm -f $(BUILD)/$*/persist-flaky.img && truncate -s 8M $(BUILD)/$*/persist-flaky.img; then \
		$(call kvm_notice,$*); \
		$(call persist_boot,$*,shutdown) || true; \
		$(call persist_boot,$*,kill) || true; \
		$(call persist_boot,$*,reboot) || true; \
	else echo "FAIL persist-$*: could not build the image"; echo "fail persist-$*" >> $(RESULTS); fi
# $(call persist_boot,ARCH,STEP): one boot of build/ARCH/persist.img.
persist_boot = $(call boot_test,persist-$(2),$(1),$(BUILD)/$(1)/persist-run.img,--results $(RESULTS) --prompt "$(CONSOLE_PROMPT)" $(PERSIST_EXPECT.$(2)))

# fmt (lists unformatted files; `cargo fmt --all` fixes them), then clippy
# with -D warnings for the host crates and for the kernel and the loader on
# each of their targets, and relibc-shim on its two hard-float targets. Runs
# every check, fails if any did.
LINT_CHECKS := \
	"$(CARGO) fmt --all --check -- --files-with-diff" \
	"$(CARGO) clippy --all-targets -- -D warnings" \
	$(foreach a,$(ARCHES), \
		"$(CARGO) clippy --release -p kernel --target $(KERNEL_TARGET.$(a)) -- -D warnings" \
		"$(CARGO) clippy --release -p tessera-bootloader --target $(LOADER_TARGET.$(a)) -- -D warnings" \
		"$(CARGO) clippy --release -p init -p consoled -p sh -p ramfs -p redoxfsd -p coreutils -p tessera-guest-tests -p tessera-runtime -p tessera-sys -p virtio-blkd --target $(USER_TARGET.$(a)) -- -D warnings") \
	$(foreach a,$(ARCHES), \
		"$(CARGO) clippy --release -p relibc-shim --target $(RELIBC_TARGET.$(a)) $(RELIBC_CARGO_FLAGS) -- -D warnings") \
	"$(CARGO) clippy -p tessera-initfs --all-targets --features std -- -D warnings" \
	"$(CARGO) clippy -p virtio-blkd --all-targets --features std -- -D warnings"

lint: | deps
	@failed=0; for check in $(LINT_CHECKS); do \
		echo "lint: $$check"; $$check || { echo "lint: FAILED: $$check"; failed=$$((failed + 1)); }; \
	done; \
	if [ $$failed -gt 0 ]; then echo "lint: $$failed check(s) failed"; exit 1; fi
