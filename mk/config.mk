# mk/config.mk — what to build and for which arch: ARCH, the Rust targets per
# arch, output paths, and the knobs given on the command line (`make help`).
# Everything per-arch is a `NAME.<arch>` variable, so rules can be written
# once for both arches (`make test` builds and boots both in one run).

ARCHES := x86_64 aarch64

# `make qemu arch=aarch64` and `make qemu ARCH=aarch64` both work; `arch=` wins.
ARCH ?= x86_64
ifneq ($(arch),)
override ARCH := $(arch)
endif
ifneq ($(words $(ARCH)),1)
$(error ARCH must be one of: $(ARCHES) (got "$(ARCH)"))
endif
ifeq ($(filter $(ARCH),$(ARCHES)),)
$(error ARCH must be one of: $(ARCHES) (got "$(ARCH)"); e.g. make qemu arch=aarch64)
endif

# Rust targets (the five in rust-toolchain.toml; the kernel is soft-float).
KERNEL_TARGET.x86_64 := x86_64-unknown-none
KERNEL_TARGET.aarch64 := aarch64-unknown-none-softfloat
LOADER_TARGET.x86_64 := x86_64-unknown-uefi
LOADER_TARGET.aarch64 := aarch64-unknown-uefi
# User programs (the initfs): static ELF executables. aarch64 user code is
# hard-float (the kernel saves FP/SIMD state per thread).
USER_TARGET.x86_64 := x86_64-unknown-none
USER_TARGET.aarch64 := aarch64-unknown-none

CARGO ?= cargo
# Cargo's output directory; honour CARGO_TARGET_DIR like cargo does.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

# build/<arch>/ holds every input of the images (kernel, loader, initfs) and
# the images themselves; build/ holds the test results of `make test`.
BUILD := build
IMAGE_NAMES := harddrive test test-fault

# The host harness that boots test images and judges them (tests/harness).
BOOT_TEST := $(TARGET_DIR)/debug/boot-test

# ---- knobs (lower case on the command line) --------------------------------
SMP := $(or $(smp),2)
MEM := $(or $(mem),512M)
# Seconds a boot test may run before the harness kills QEMU; the boot test
# that runs the whole guest suite (boot-<arch>, `qemu-test`) gets more: it
# includes mm-fuzz's 100,000 operations (about 30 s of the guest's time).
TIMEOUT := $(or $(timeout),90)
TIMEOUT.boot := $(or $(timeout),600)
# The persistence boots (mk/test.mk) type at the prompt of the normal image.
$(foreach step,shutdown kill reboot,$(eval TIMEOUT.persist-$(step) := $$(or $$(timeout),180)))
# The image `make qemu` boots: harddrive (default), test or test-fault.
IMG := $(or $(img),harddrive)
ifeq ($(filter $(IMG),$(IMAGE_NAMES)),)
$(error img must be one of: $(IMAGE_NAMES) (got "$(IMG)"))
endif
# cpu=MODEL overrides -cpu; gdb=yes, kvm=yes and verbose=yes are read where
# they apply (mk/qemu.mk, mk/test.mk).
yes = $(filter yes 1 true,$(1))
