# mk/kernel.mk — builds what goes on a disk, per arch: the kernel ELF, the
# UEFI loader and the initfs (the user programs, packed), each into
# build/<arch>/.
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
# The user programs for the arch, staged in build/<arch>/initfs-root/:
#   bin/<program>     init, testrunner and the test programs (static ELF)
#   etc/init.rc       what init runs: the test runner
#   etc/tests.list    what the test runner runs
# packed by mkinitfs (kernel/initfs) into build/<arch>/initfs. One initfs
# serves every image for now (harddrive.img too, until there is a console
# program to run there instead). mkinitfs output is deterministic, so the
# copy-if-changed step keeps the images from rebuilding when nothing changed.
USER_PACKAGES := init tessera-guest-tests
USER_PROGRAMS := init testrunner hello syscall-errors kvd user-scheme proc-lifecycle pipe-16m user-faults syscall-fuzz fpu-state clock preempt
INIT_RC_PROGRAMS := testrunner
GUEST_TESTS := hello syscall-errors user-scheme proc-lifecycle pipe-16m user-faults syscall-fuzz fpu-state clock preempt
MKINITFS := $(TARGET_DIR)/release/mkinitfs

$(MKINITFS): FORCE | deps
	$(CARGO) build --release -p tessera-initfs --features std --bin mkinitfs

$(ARCHES:%=$(BUILD)/%/initfs): $(BUILD)/%/initfs: $(MKINITFS) FORCE | deps
	$(CARGO) build --release $(USER_PACKAGES:%=-p %) --target $(USER_TARGET.$*)
	@rm -rf $(BUILD)/$*/initfs-root
	@mkdir -p $(BUILD)/$*/initfs-root/bin $(BUILD)/$*/initfs-root/etc
	@cp $(USER_PROGRAMS:%=$(TARGET_DIR)/$(USER_TARGET.$*)/release/%) $(BUILD)/$*/initfs-root/bin/
	@printf '%s\n' '# Programs init runs, in order (schemes/init).' $(INIT_RC_PROGRAMS) \
		> $(BUILD)/$*/initfs-root/etc/init.rc
	@printf '%s\n' '# Tests the test runner runs, in order (tests/guest).' $(GUEST_TESTS) \
		> $(BUILD)/$*/initfs-root/etc/tests.list
	$(MKINITFS) --output $(BUILD)/$*/initfs.new $(BUILD)/$*/initfs-root
	@$(call copy_if_changed,$(BUILD)/$*/initfs.new,$@)

kernel: $(BUILD)/$(ARCH)/kernel
loader: $(BUILD)/$(ARCH)/tessera-bootloader.efi
initfs: $(BUILD)/$(ARCH)/initfs
