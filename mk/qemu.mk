# mk/qemu.mk — the QEMU command line (defined here only; the boot tests reuse
# it) and the targets that run it: `make qemu`, `make qemu-test`.
#
# TCG by default. kvm=yes uses KVM only if the guest arch is the host arch,
# /dev/kvm is readable and writable, and (on x86_64) the CPU shows vmx/svm;
# otherwise it says why in one line and stays on TCG.

.PHONY: qemu qemu-test

QEMU.x86_64 := qemu-system-x86_64
QEMU.aarch64 := qemu-system-aarch64
MACHINE.x86_64 := q35
# acpi=off: AAVMF then publishes QEMU's device tree in the UEFI configuration
# table (with ACPI on it publishes only the RSDP), and the aarch64 kernel
# reads the DTB (DESIGN.md §3).
MACHINE.aarch64 := virt,acpi=off,gic-version=3
CPU.x86_64 := max
CPU.aarch64 := cortex-a76
FIRMWARE.x86_64 := /usr/share/ovmf/OVMF.fd
FIRMWARE.aarch64 := /usr/share/qemu-efi-aarch64/QEMU_EFI.fd
# x86_64: the test kernel writes 0x10 to port 0xf4 and QEMU exits with
# (0x10 << 1) | 1 = 33. aarch64: splash-time=0 skips AAVMF's 5 s boot-menu
# wait, and semihosting lets the kernel pick QEMU's exit status (33 / 35).
QEMU_EXTRA.x86_64 := -device isa-debug-exit,iobase=0xf4,iosize=0x04
QEMU_EXTRA.aarch64 := -boot menu=on,splash-time=0 -semihosting-config enable=on,target=native
KVM_MACHINE.aarch64 := ,gic-version=host
# A PCI device on both machines for the driver support (docs/drivers.md;
# the `pci-devices` guest test finds it): a virtio entropy source needs no
# image.
QEMU_DEVICES := -device virtio-rng-pci
# The data disk, virtio-blk-pci on both machines, served by virtio-blkd as
# disk: (docs/drivers.md): the test machines get build/disk-test.img and
# never change it (snapshot=on: writes go to a temporary overlay, so
# several QEMUs can share it); `make qemu` gets build/<arch>/disk.img
# and keeps what the guest writes. serial= is the ID the guest reads.
QEMU_DISK = $(DISK_TEST),snapshot=on
qemu: QEMU_DISK = $(BUILD)/$(ARCH)/disk.img
qemu_disk = -drive if=none,id=disk0,format=raw,file=$(QEMU_DISK) -device virtio-blk-pci,drive=disk0,serial=tessera-disk0
# The test machines' second virtio-blk disk fails on purpose (QEMU's
# blkdebug under the raw format, whose read_aio/write_aio events it
# hooks): every write, and any read touching sector 64, get EIO; the
# guest test disk-blk checks that disk: passes it on. Nothing is ever
# written to the file, so QEMUs share it without locking.
QEMU_FAULTY = -blockdev '{"driver":"raw","node-name":"faulty","file":{"driver":"blkdebug","inject-error":[{"event":"write_aio","errno":5},{"event":"read_aio","sector":64,"errno":5}],"image":{"driver":"file","filename":"$(DISK_FAULTY)","locking":"off"}}}' \
	-device virtio-blk-pci,drive=faulty,serial=tessera-faulty
qemu: QEMU_FAULTY =
# The persistence boots' third virtio-blk disk (mk/test.mk): blkdebug with
# a state machine the guest drives by flushing the disk. State 1 (the
# start): writes work; a flush moves to state 2: every write fails (EIO);
# the next flush moves to state 3: writes work again (the fault is
# lifted). (blkdebug keeps the last activated error rule active until an
# event activates another: the errno-0 rule of state 3 replaces it; the
# state-2 rule fails only writes, so the flush that lifts it succeeds.) Its file, a per-run copy, keeps what is written (no snapshot),
# for the next boot to check (`persist fault-write` / `fault-check`).
QEMU_FLAKY =
flaky_disk = -blockdev '{"driver":"raw","node-name":"flaky","file":{"driver":"blkdebug","inject-error":[{"event":"write_aio","state":2,"iotype":"write","errno":5},{"event":"write_aio","state":3,"errno":0}],"set-state":[{"event":"flush_to_os","state":1,"new_state":2},{"event":"flush_to_os","state":2,"new_state":3}],"image":{"driver":"file","filename":"$(1)"}}}' \
	-device virtio-blk-pci,drive=flaky,serial=tessera-flaky
GDB.x86_64 := gdb
GDB.aarch64 := gdb-multiarch

# Why KVM cannot run guest arch $(1) here; empty if it can.
kvm_blocker = $(shell \
	if [ "$(1)" != "$$(uname -m)" ]; then echo "the host is $$(uname -m), not $(1)"; \
	elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then echo "/dev/kvm is not readable and writable"; \
	elif [ "$(1)" = x86_64 ] && ! grep -qwE 'vmx|svm' /proc/cpuinfo; then echo "the CPU shows no vmx/svm"; \
	fi)
use_kvm = $(if $(call yes,$(kvm)),$(if $(call kvm_blocker,$(1)),,yes))
# A shell command for recipes: the one-line notice when kvm=yes falls back.
kvm_notice = $(if $(call yes,$(kvm)),$(if $(call use_kvm,$(1)),true,echo "qemu: kvm=yes ignored for $(1): $(call kvm_blocker,$(1)); using TCG"),true)

# Machine, accelerator and CPU model for arch $(1); cpu= overrides the model.
# icount=yes (TCG only) runs the guest's clock on its instruction count, one
# nanosecond per instruction (-icount shift=0): benchmark figures are then
# instructions, the same from run to run whatever the host's load, for
# comparing two builds (docs/mm.md, "Benchmark"); not for comparing with Linux.
qemu_accel = $(if $(call use_kvm,$(1)), \
	-machine $(MACHINE.$(1))$(KVM_MACHINE.$(1)) -accel kvm -cpu $(or $(cpu),host), \
	-machine $(MACHINE.$(1)) -accel tcg$(if $(call yes,$(icount)), -icount shift=0) -cpu $(or $(cpu),$(CPU.$(1))))

# The boot disk: virtio-blk-pci on both machines (OVMF and AAVMF boot from
# it), so that virtio-blkd serves it as a `disk:` and redoxfsd mounts its
# root partition (TESSERA_ROOT) as `file:` (docs/redoxfs.md). The boot
# tests never change their image (snapshot=on: writes go to a temporary
# overlay, so a rerun starts from the same root and several QEMUs can
# share an image); `make qemu` (of the normal image, img=harddrive) and the
# persistence test keep what the guest writes (BOOT_SNAPSHOT empty).
SNAPSHOT_ON := ,snapshot=on
BOOT_SNAPSHOT = $(SNAPSHOT_ON)
qemu: BOOT_SNAPSHOT = $(if $(filter harddrive,$(IMG)),,$(SNAPSHOT_ON))
boot_drive = -drive if=none,id=boot,format=raw,file=$(1)$(BOOT_SNAPSHOT) -device virtio-blk-pci,drive=boot,serial=tessera-boot,bootindex=0

# $(call qemu_cmd,ARCH,IMAGE[,SERIAL]) — SERIAL defaults to stdio.
qemu_cmd = $(QEMU.$(1)) $(strip $(call qemu_accel,$(1))) \
	-smp $(SMP) -m $(MEM) -bios $(FIRMWARE.$(1)) $(call boot_drive,$(2)) \
	-display none -serial $(or $(3),stdio) -no-reboot -net none $(QEMU_DEVICES) $(qemu_disk) $(QEMU_FAULTY) $(QEMU_FLAKY) $(QEMU_EXTRA.$(1))

# Interactive: the monitor shares the terminal, so Ctrl-A X quits and
# Ctrl-A C opens the QEMU monitor.
qemu: $(BUILD)/$(ARCH)/$(IMG).img | deps $(BUILD)/$(ARCH)/disk.img
	@$(call kvm_notice,$(ARCH))
	@echo "qemu: booting $< ($(ARCH), smp=$(SMP), mem=$(MEM)); quit with Ctrl-A X"
ifneq ($(call yes,$(gdb)),)
	@echo "qemu: waiting for gdb on localhost:1234; attach with: $(GDB.$(ARCH)) $(BUILD)/$(ARCH)/kernel -ex 'target remote :1234'"
endif
	$(call qemu_cmd,$(ARCH),$<,mon:stdio) $(if $(call yes,$(gdb)),-s -S)

# Lines a normal boot test requires: the banner's memory and CPU figures,
# and the TLB shootdown self-test (every other CPU acknowledged).
# (In a variable: an unbalanced "(" would break $(call ...).)
BOOT_EXPECT := --expect "memory: " --expect "cpus: $(SMP) (" --expect "smp: $(SMP) of $(SMP) CPUs running" \
	--expect "tlb: shootdown to "
# The hardware guards that keep the kernel out of user memory, which the
# boot self-test must find working on every CPU (kernel/src/selftest.rs):
# SMEP and SMAP on x86_64, PAN and PXN on aarch64; and on x86_64, that a
# user root maps only the entry shadow of the kernel (page-table isolation).
GUARDS_EXPECT.x86_64 := --expect "selftest: smep on, smap on (every CPU)" --expect "selftest: kpti on ("
GUARDS_EXPECT.aarch64 := --expect "selftest: pan on, pxn on (every CPU)"

# $(call boot_test,KIND,ARCH,IMAGE[,EXTRA-FLAGS]) — KIND is boot, fault or loader-error;
# the test is named KIND-ARCH and logs to build/ARCH/KIND-test.log.
boot_test = $(BOOT_TEST) --name $(1)-$(2) --timeout $(or $(TIMEOUT.$(1)),$(TIMEOUT)) \
	--log $(BUILD)/$(2)/$(1)-test.log $(if $(call yes,$(verbose)),--verbose) $(4) \
	-- $(call qemu_cmd,$(2),$(3))

# One arch's normal boot test.
qemu-test: $(BUILD)/$(ARCH)/test.img $(BOOT_TEST) | deps
	@$(call kvm_notice,$(ARCH))
	$(call boot_test,boot,$(ARCH),$<,$(BOOT_EXPECT) $(GUARDS_EXPECT.$(ARCH)) --guest-results)
