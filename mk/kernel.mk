# mk/kernel.mk — builds what goes on a disk, per arch: the kernel ELF, the
# UEFI loader and the two initfs archives (the user programs, packed: the
# normal image's and the test images'), each into build/<arch>/.
#
# Cargo tracks Rust sources itself, so these rules always run cargo (a no-op
# when nothing changed) and copy its output into build/<arch>/ only when the
# bytes differ. The images (mk/disk.mk) then rebuild exactly when an input
# really changed, and no edit is ever missed.

.PHONY: FORCE kernel loader initfs
FORCE:

# $(call copy_if_changed,FROM,TO)
copy_if_changed = mkdir -p $(dir $(2)) && { cmp -s $(1) $(2) || cp $(1) $(2); }

$(ARCHES:%=$(BUILD)/%/kernel): $(BUILD)/%/kernel: FORCE | deps
	$(CARGO) build --release -p kernel --target $(KERNEL_TARGET.$*)
	@$(call copy_if_changed,$(TARGET_DIR)/$(KERNEL_TARGET.$*)/release/kernel,$@)

$(ARCHES:%=$(BUILD)/%/tessera-bootloader.efi): $(BUILD)/%/tessera-bootloader.efi: FORCE | deps
	$(CARGO) build --release -p tessera-bootloader --target $(LOADER_TARGET.$*)
	@$(call copy_if_changed,$(TARGET_DIR)/$(LOADER_TARGET.$*)/release/tessera-bootloader.efi,$@)

# ---- the initfs -------------------------------------------------------------
# Two initfs archives per arch, the same programs with a different init.rc:
#   build/<arch>/initfs        the normal image's: init starts `ramfs` as
#                              `file:`, waits for it, sets PATH and HOME,
#                              starts `consoled` (console:), moves its
#                              stdio there and respawns `sh` on it
#   build/<arch>/initfs-test   the test images': the same `ramfs` start,
#                              then the daemon `echod`, then `testrunner`
# Each is staged in build/<arch>/<name>-root/:
#   bin/<program>     init, consoled, sh, testrunner, the test programs and
#                     daemons (static ELF)
#   etc/init.rc       what init runs (schemes/init, docs/init.md: `daemon`,
#                     `wait-scheme`, `export`, `stdio`, `respawn` lines;
#                     other lines run in order)
#   etc/tests.list    what the test runner runs (GUEST_TESTS then GUEST_TEST_LINES, or an
#                     initfs's own TESTS_LIST.<name>: one quoted line per
#                     test, arguments allowed)
#   etc/init-check.rc (test initfs) the list `init-rc` gives a second init
# and packed by mkinitfs (kernel/initfs). mkinitfs output is deterministic,
# so the copy-if-changed step keeps the images from rebuilding when nothing
# changed. init.rc lines are quoted words for printf (one line each).
USER_PACKAGES := init consoled sh ramfs redoxfsd coreutils tessera-guest-tests virtio-blkd
# The core tools (programs/coreutils, docs/tools.md), in bin/ of both initfs.
COREUTILS := ls cat echo mkdir rm cp mv touch ps kill free pmap uname sleep true false shutdown reboot mmapdemo
USER_PROGRAMS := init consoled sh ramfs redoxfsd testrunner hello syscall-errors kvd user-scheme ramfs-files fmap-ramfs fmap-races exec-fmap exec-probe sys-files proc-lifecycle pipe-16m user-faults \
	syscall-fuzz fpu-state clock preempt echod init-daemon init-rc kernel-heap threads \
	mm-map mm-protect mm-remap mm-advise mm-fork mm-threads mm-inject mm-stack heap-grow mmbench \
	mm-limit mm-physical hostile hostile-lender privilege privilege-exec mm-fuzz tools shell proc-race fmapcheck redoxfs-files redoxfs-evict driver-support virtio-blkd disk-blk disk-redoxfs root-fs persist tlb-tags $(COREUTILS)
# Privilege (docs/kernel.md): init is privileged, and a program it starts is
# only when its line says `privileged`. In the normal image only the disk
# driver virtio-blkd is (it needs pci:, irq: and DMA memory); in the test
# images also the test runner, so that it can pass the privilege on to the
# tests PRIVILEGED_GUEST_TESTS names.
# The root: virtio-blkd serves the disks as disk:, redoxfsd mounts the
# installer's TESSERA_ROOT partition as file: (docs/redoxfs.md), and ramfs
# serves tmp: (/scheme/tmp), memory that is gone at power-off.
INIT_RC.root := 'privileged daemon virtio-blkd' 'wait-scheme disk' 'daemon redoxfsd --partition TESSERA_ROOT file' 'wait-scheme file' \
	'daemon ramfs tmp' 'wait-scheme tmp'
INIT_RC.initfs := '\# Only the disk driver is privileged (it needs pci:, irq: and DMA memory).' \
	$(INIT_RC.root) 'export PATH=/usr/bin:/bin:/scheme/initfs/bin' 'export HOME=/' \
	'daemon consoled' 'wait-scheme console' 'stdio console:' 'respawn sh'
INIT_RC.initfs-test := $(INIT_RC.root) 'daemon echod' 'privileged testrunner'
# Files from the tree copied into etc/, per initfs (mk/cookbook.mk adds some).
ETC_FILES.initfs-test += tests/guest/etc/init-check.rc
GUEST_TESTS := hello syscall-errors user-scheme ramfs-files fmap-ramfs fmap-races exec-fmap sys-files proc-lifecycle pipe-16m user-faults syscall-fuzz fpu-state clock \
	preempt init-daemon init-rc kernel-heap threads \
	mm-map mm-protect mm-remap mm-advise mm-fork mm-threads mm-inject mm-stack heap-grow \
	mm-limit mm-physical hostile hostile-lender privilege privilege-exec mm-fuzz tools shell proc-race fmapcheck redoxfs-files redoxfs-evict driver-support disk-blk disk-redoxfs root-fs tlb-tags
# Test lines with arguments, after GUEST_TESTS: the benchmarks at 1% of
# their rounds' operations (the scale benchmark's populations stay full),
# so that `make test` shows on both arches that `make bench` runs to its
# end with every check passed (mmbench-c verifies what it wrote and what
# a forked child saw; a target not met is printed, never a failure).
GUEST_TEST_LINES := 'mmbench 1' 'mmbench-c /scheme/tmp/mmbench.dat 1' 'mmbench-c /mmbench.dat 1'
# The tests that run privileged (`privileged NAME` in tests.list): they need
# `memory:physical` (mm-physical, hostile-lender), drive a PCI device
# (driver-support), raise `sys:limits`, turn
# off shootdowns (mm-threads), force TLB-tag rollovers (tlb-tags), or check what the privilege does. Every other
# test runs unprivileged.
PRIVILEGED_GUEST_TESTS := mm-physical mm-limit privilege-exec init-rc mm-threads hostile-lender driver-support tlb-tags
# The C programs' tests (mk/relibc.mk, built with relibc-shim).
GUEST_TESTS += $(C_GUEST_TESTS)
MKINITFS := $(TARGET_DIR)/release/mkinitfs

$(MKINITFS): FORCE | deps
	$(CARGO) build --release -p tessera-initfs --features std --bin mkinitfs

# $(call initfs_rule,NAME): build/<arch>/NAME for every arch. Cargo runs for
# each (the second run per arch is a no-op).
define initfs_rule
$(ARCHES:%=$(BUILD)/%/$(1)): $(BUILD)/%/$(1): $(MKINITFS) FORCE $(addprefix $(BUILD)/%/c-bin/,$(C_PROGRAMS)) | deps
	$(CARGO) build --release $(USER_PACKAGES:%=-p %) --target $$(USER_TARGET.$$*)
	@rm -rf $(BUILD)/$$*/$(1)-root
	@mkdir -p $(BUILD)/$$*/$(1)-root/bin $(BUILD)/$$*/$(1)-root/etc
	@cp $(USER_PROGRAMS:%=$(TARGET_DIR)/$$(USER_TARGET.$$*)/release/%) $(BUILD)/$$*/$(1)-root/bin/
	$(if $(C_PROGRAMS),@cp $(addprefix $(BUILD)/$$*/c-bin/,$(C_PROGRAMS)) $(BUILD)/$$*/$(1)-root/bin/)
	@printf '%s\n' '# What init runs (schemes/init, docs/init.md): daemon, wait-scheme, export, stdio and respawn lines; other lines run in order.' \
		'# A line starting with `privileged` keeps init'"'"'s privilege; every other program runs unprivileged.' \
		$(INIT_RC.$(1)) > $(BUILD)/$$*/$(1)-root/etc/init.rc
	@printf '%s\n' '# Tests the test runner runs, in order (tests/guest); `privileged NAME` keeps the runner'"'"'s privilege.' \
		$(or $(TESTS_LIST.$(1)),$(foreach t,$(GUEST_TESTS),$(if $(filter $(t),$(PRIVILEGED_GUEST_TESTS)),'privileged $(t)',$(t))) $(GUEST_TEST_LINES)) \
		> $(BUILD)/$$*/$(1)-root/etc/tests.list
	$(if $(ETC_FILES.$(1)),@cp $(ETC_FILES.$(1)) $(BUILD)/$$*/$(1)-root/etc/)
	$(MKINITFS) --output $(BUILD)/$$*/$(1).new $(BUILD)/$$*/$(1)-root
	@$$(call copy_if_changed,$(BUILD)/$$*/$(1).new,$$@)
endef
$(foreach name,initfs initfs-test,$(eval $(call initfs_rule,$(name))))

kernel: $(BUILD)/$(ARCH)/kernel
loader: $(BUILD)/$(ARCH)/tessera-bootloader.efi
initfs: $(BUILD)/$(ARCH)/initfs $(BUILD)/$(ARCH)/initfs-test
