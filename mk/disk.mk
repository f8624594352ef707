# mk/disk.mk — disk images, made by the installer (installer/) from
# installer/config/<config>.toml and the inputs in build/<arch>/:
#   build/<arch>/harddrive.img   config default     (`make qemu`)
#   build/<arch>/test.img        config test        (boot test: exits QEMU with 33)
#   build/<arch>/test-fault.img  config test-fault  (deliberate fault: KERNEL FAULT, 35)

.PHONY: images
INSTALLER := $(TARGET_DIR)/release/installer

# Rebuilt by cargo when its sources change; the images depend on it.
$(INSTALLER): FORCE | deps
	$(CARGO) build --release -p installer

CONFIG.harddrive := default
CONFIG.test := test
CONFIG.test-fault := test-fault

# One rule per image name, for every arch: $(call image_rule,NAME)
define image_rule
$(ARCHES:%=$(BUILD)/%/$(1).img): $(BUILD)/%/$(1).img: installer/config/$(CONFIG.$(1)).toml \
		$(BUILD)/%/tessera-bootloader.efi $(BUILD)/%/kernel $(BUILD)/%/initfs $(INSTALLER)
	$(CARGO) run --release -q -p installer -- --config $$< --arch $$* \
		--loader $(BUILD)/$$*/tessera-bootloader.efi --kernel $(BUILD)/$$*/kernel \
		--initfs $(BUILD)/$$*/initfs --output $$@
endef
$(foreach name,$(IMAGE_NAMES),$(eval $(call image_rule,$(name))))

images: $(IMAGE_NAMES:%=$(BUILD)/$(ARCH)/%.img)
