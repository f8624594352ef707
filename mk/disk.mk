# mk/disk.mk — disk images, made by the installer (installer/) from
# installer/config/<config>.toml and the inputs in build/<arch>/:
#   build/<arch>/harddrive.img   config default     (`make qemu`; its root
#                                filesystem is kept across rebuilds, below)
#   build/<arch>/test.img        config test        (boot test: exits QEMU with 33)
#   build/<arch>/test-fault.img  config test-fault  (deliberate fault: KERNEL FAULT, 35)
#   build/<arch>/bad-kernel.img  config test, but `\kernel` is the initfs
#                                placeholder (not an ELF: the loader must say so)
#   build/<arch>/console-test.img  config test, with the normal initfs: the
#                                console, driven by the console boot test
#   build/<arch>/persist.img     config default, always with a new root (the
#                                normal image as a fresh `make qemu` gets
#                                it): the persistence boot tests copy it
#   build/disk-test.img          the data disk the test machines attach as
#                                virtio-blk (mk/qemu.mk), read-only to them
#                                (QEMU snapshot=on): 8 MiB, a GPT of two
#                                partitions, made by mkgpt (schemes/virtio-blkd)
#   build/<arch>/disk.img        the same layout for `make qemu`, made once and
#                                kept between runs (delete it for a new one)
#   build/disk-faulty.img        64 KiB of zeroes: the test machines' second
#                                virtio-blk disk, behind QEMU's blkdebug
#                                (every write fails; mk/qemu.mk)
# harddrive.img and console-test.img carry build/<arch>/initfs (init runs
# `console`); the other test images carry build/<arch>/initfs-test (init
# starts the daemon `echod`, then runs `testrunner`).

.PHONY: images
INSTALLER := $(TARGET_DIR)/release/installer
MKGPT := $(TARGET_DIR)/release/mkgpt
DISK_TEST := $(BUILD)/disk-test.img
DISK_FAULTY := $(BUILD)/disk-faulty.img
# 16384 sectors (8 MiB): partition 1 at LBA 2048-6143 (2 MiB), partition 2
# at 6144-14335 (4 MiB); the guest test disk-blk relies on this layout.
DISK_LAYOUT := 16384 tessera-a:2048:6143 tessera-b:6144:14335

$(MKGPT): FORCE | deps
	$(CARGO) build --release -p virtio-blkd --features std --bin mkgpt

$(DISK_TEST): $(MKGPT)
	@mkdir -p $(@D)
	$(MKGPT) $@ $(DISK_LAYOUT)

$(DISK_FAULTY):
	@mkdir -p $(@D)
	head -c 65536 /dev/zero > $@

# Made only when missing (or with fresh=yes): what `make qemu` wrote to it stays.
$(ARCHES:%=$(BUILD)/%/disk.img): $(if $(call yes,$(fresh)),FORCE) | $(MKGPT)
	@mkdir -p $(@D)
	$(MKGPT) $@ $(DISK_LAYOUT)

# Rebuilt by cargo when its sources change; the images depend on it.
$(INSTALLER): FORCE | deps
	$(CARGO) build --release -p installer

CONFIG.harddrive := default
CONFIG.test := test
CONFIG.test-fault := test-fault
CONFIG.bad-kernel := test
CONFIG.console-test := test
CONFIG.persist := default
# The file in build/<arch>/ that goes on the ESP as `\kernel`; only the
# loader-error test image differs (and so needs no kernel build at all).
KERNEL_FILE = $(or $(KERNEL_FILE.$(1)),kernel)
KERNEL_FILE.bad-kernel := initfs-test
# Kernel env lines an image adds to its config's [env] (installer --env;
# later lines win), e.g. IMAGE_ENV.bench in mk/bench.mk.
# The initfs in build/<arch>/ that goes on the ESP as `\initfs`.
INITFS.harddrive := initfs
INITFS.test := initfs-test
INITFS.test-fault := initfs-test
INITFS.bad-kernel := initfs-test
INITFS.console-test := initfs
INITFS.persist := initfs

# The normal image keeps its root filesystem when it is rebuilt (a new
# kernel or initfs): what the guest wrote at the prompt survives, and the
# config's [[files]] reach only a new root (installer --keep-root,
# installer/src/keep.rs). `fresh=yes` rebuilds it from scratch, and the
# data disk build/<arch>/disk.img with it. The test images are booted with
# snapshot=on (mk/qemu.mk), so they never change.
KEEP_ROOT.harddrive = $(if $(call yes,$(fresh)),,--keep-root)
FRESH.harddrive = $(if $(call yes,$(fresh)),FORCE)

# A config's [packages] (docs/cookbook.md): build/<arch>/NAME.packages lists
# them with their run-time dependencies (`installer --list-packages`, which
# fails on a package without a recipe before anything is cooked); they are
# cooked for the image's arch, and the installer copies their stages from
# build/<arch>/cookbook/<name>/stage onto the root filesystem. With packages
# the list is touched on every run, so the image follows their stages; an
# empty list only changes when the config does. Like [[files]], they reach
# only a new root: the normal image's kept one needs `fresh=yes`.
# One rule per image name, for every arch: $(call image_rule,NAME)
define image_rule
$(ARCHES:%=$(BUILD)/%/$(1).packages): $(BUILD)/%/$(1).packages: installer/config/$(CONFIG.$(1)).toml $(INSTALLER) FORCE
	@mkdir -p $$(@D)
	$(INSTALLER) --list-packages $$< --recipes cookbook/recipes > $$@.new
	@if [ -s $$@.new ]; then $(MAKE) --no-print-directory cook arch=$$* recipe="$$$$(tr '\n' ' ' < $$@.new)" && mv $$@.new $$@; \
	else $$(call copy_if_changed,$$@.new,$$@); fi

$(ARCHES:%=$(BUILD)/%/$(1).img): $(BUILD)/%/$(1).img: installer/config/$(CONFIG.$(1)).toml $(BUILD)/%/$(1).packages \
		$(BUILD)/%/tessera-bootloader.efi $(BUILD)/%/$(call KERNEL_FILE,$(1)) $(BUILD)/%/$(INITFS.$(1)) $(INSTALLER) \
		$$(FRESH.$(1)) | $(DISK_TEST) $(DISK_FAULTY)
	$(CARGO) run --release -q -p installer -- --config $$< --arch $$* \
		--loader $(BUILD)/$$*/tessera-bootloader.efi --kernel $(BUILD)/$$*/$(call KERNEL_FILE,$(1)) \
		--initfs $(BUILD)/$$*/$(INITFS.$(1)) $$(KEEP_ROOT.$(1)) $(IMAGE_ENV.$(1):%=--env %) --recipes cookbook/recipes \
		--cookbook-build $(BUILD)/$$*/cookbook --output $$@
endef
# bad-kernel, console-test and persist are test images only, so they are not img= choices.
$(foreach name,$(IMAGE_NAMES) bad-kernel console-test persist,$(eval $(call image_rule,$(name))))

images: $(IMAGE_NAMES:%=$(BUILD)/$(ARCH)/%.img)
