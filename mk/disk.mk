# mk/disk.mk — disk images, made by the installer (installer/) from
# installer/config/<config>.toml and the inputs in build/<arch>/:
#   build/<arch>/harddrive.img   config default     (`make qemu`)
#   build/<arch>/test.img        config test        (boot test: exits QEMU with 33)
#   build/<arch>/test-fault.img  config test-fault  (deliberate fault: KERNEL FAULT, 35)
#   build/<arch>/bad-kernel.img  config test, but `\kernel` is the initfs
#                                placeholder (not an ELF: the loader must say so)

.PHONY: images
INSTALLER := $(TARGET_DIR)/release/installer

# Rebuilt by cargo when its sources change; the images depend on it.
$(INSTALLER): FORCE | deps
	$(CARGO) build --release -p installer

CONFIG.harddrive := default
CONFIG.test := test
CONFIG.test-fault := test-fault
CONFIG.bad-kernel := test
# The file in build/<arch>/ that goes on the ESP as `\kernel`; only the
# loader-error test image differs (and so needs no kernel build at all).
KERNEL_FILE = $(or $(KERNEL_FILE.$(1)),kernel)
KERNEL_FILE.bad-kernel := initfs

# One rule per image name, for every arch: $(call image_rule,NAME)
define image_rule
$(ARCHES:%=$(BUILD)/%/$(1).img): $(BUILD)/%/$(1).img: installer/config/$(CONFIG.$(1)).toml \
		$(BUILD)/%/tessera-bootloader.efi $(BUILD)/%/$(call KERNEL_FILE,$(1)) $(BUILD)/%/initfs $(INSTALLER)
	$(CARGO) run --release -q -p installer -- --config $$< --arch $$* \
		--loader $(BUILD)/$$*/tessera-bootloader.efi --kernel $(BUILD)/$$*/$(call KERNEL_FILE,$(1)) \
		--initfs $(BUILD)/$$*/initfs --output $$@
endef
# bad-kernel is a test image only, so it is not one of the img= choices.
$(foreach name,$(IMAGE_NAMES) bad-kernel,$(eval $(call image_rule,$(name))))

images: $(IMAGE_NAMES:%=$(BUILD)/$(ARCH)/%.img)
