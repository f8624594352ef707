# mk/disk.mk — disk images, made by the installer (installer/) from
# installer/config/<config>.toml and the inputs in build/<arch>/:
#   build/<arch>/harddrive.img   config default     (`make qemu`)
#   build/<arch>/test.img        config test        (boot test: exits QEMU with 33)
#   build/<arch>/test-fault.img  config test-fault  (deliberate fault: KERNEL FAULT, 35)
#   build/<arch>/bad-kernel.img  config test, but `\kernel` is the initfs
#                                placeholder (not an ELF: the loader must say so)
#   build/<arch>/console-test.img  config test, with the normal initfs: the
#                                console, driven by the console boot test
# harddrive.img and console-test.img carry build/<arch>/initfs (init runs
# `console`); the other test images carry build/<arch>/initfs-test (init
# starts the daemon `echod`, then runs `testrunner`).

.PHONY: images
INSTALLER := $(TARGET_DIR)/release/installer

# Rebuilt by cargo when its sources change; the images depend on it.
$(INSTALLER): FORCE | deps
	$(CARGO) build --release -p installer

CONFIG.harddrive := default
CONFIG.test := test
CONFIG.test-fault := test-fault
CONFIG.bad-kernel := test
CONFIG.console-test := test
# The file in build/<arch>/ that goes on the ESP as `\kernel`; only the
# loader-error test image differs (and so needs no kernel build at all).
KERNEL_FILE = $(or $(KERNEL_FILE.$(1)),kernel)
KERNEL_FILE.bad-kernel := initfs-test
# The initfs in build/<arch>/ that goes on the ESP as `\initfs`.
INITFS.harddrive := initfs
INITFS.test := initfs-test
INITFS.test-fault := initfs-test
INITFS.bad-kernel := initfs-test
INITFS.console-test := initfs

# One rule per image name, for every arch: $(call image_rule,NAME)
define image_rule
$(ARCHES:%=$(BUILD)/%/$(1).img): $(BUILD)/%/$(1).img: installer/config/$(CONFIG.$(1)).toml \
		$(BUILD)/%/tessera-bootloader.efi $(BUILD)/%/$(call KERNEL_FILE,$(1)) $(BUILD)/%/$(INITFS.$(1)) $(INSTALLER)
	$(CARGO) run --release -q -p installer -- --config $$< --arch $$* \
		--loader $(BUILD)/$$*/tessera-bootloader.efi --kernel $(BUILD)/$$*/$(call KERNEL_FILE,$(1)) \
		--initfs $(BUILD)/$$*/$(INITFS.$(1)) --output $$@
endef
# bad-kernel and console-test are test images only, so they are not img= choices.
$(foreach name,$(IMAGE_NAMES) bad-kernel console-test,$(eval $(call image_rule,$(name))))

images: $(IMAGE_NAMES:%=$(BUILD)/$(ARCH)/%.img)
