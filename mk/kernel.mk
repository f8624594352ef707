# mk/kernel.mk — builds what goes on a disk, per arch: the kernel ELF, the
# UEFI loader and the initfs, each into build/<arch>/.
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

# A placeholder until the initfs format lands; the loader only needs a file.
$(ARCHES:%=$(BUILD)/%/initfs): $(BUILD)/%/initfs:
	@mkdir -p $(@D)
	printf 'TESSERA-INITFS placeholder\n' > $@

kernel: $(BUILD)/$(ARCH)/kernel
loader: $(BUILD)/$(ARCH)/tessera-bootloader.efi
initfs: $(BUILD)/$(ARCH)/initfs
