# mk/relibc.mk — relibc-shim, the C library, and the C programs built with
# it, per arch (docs/relibc.md):
#
#   build/<arch>/sysroot/include/            the headers (relibc-shim/include)
#   build/<arch>/sysroot/lib/libc.a          Rust half (relibc-shim/src, built
#                                            for a hard-float target) + C half
#                                            (relibc-shim/c, clang)
#   build/<arch>/sysroot/lib/crt0.o          _start (crt1.o is a copy; crti.o,
#                                            crtn.o, libm.a and libpthread.a
#                                            are empty, for link lines that
#                                            name them)
#   build/<arch>/sysroot/bin/<arch>-unknown-tessera-cc   the compiler wrapper
#   build/<arch>/c-bin/<program>             C programs for the initfs
#                                            (C_PROGRAMS; the initfs rule in
#                                            mk/kernel.mk copies them)
#
# `make c-test-host` builds tests/c with the host's cc and libc and runs it
# (part of `make test` as `c-host`). `make sysroot` builds ARCH's sysroot.

.PHONY: sysroot c-test-host test-c-host

# Hard-float Rust targets for the Rust half: C passes floats in FP
# registers, x86_64-unknown-none does not (docs/relibc.md, float ABI).
RELIBC_TARGET.x86_64 := x86_64-unknown-linux-gnu
RELIBC_TARGET.aarch64 := aarch64-unknown-none
CLANG_TARGET.x86_64 := x86_64-unknown-none-elf
CLANG_TARGET.aarch64 := aarch64-unknown-none-elf
# Its own target directory: panic=abort for this crate only, and the
# shared user-target directories keep their fingerprints.
RELIBC_CARGO_FLAGS := --target-dir $(TARGET_DIR)/relibc --config profile.release.panic=\"abort\"
RELIBC_CARGO := $(CARGO) build --release -p relibc-shim $(RELIBC_CARGO_FLAGS)

# llvm-ar when present: GNU ar then loads LLVM's bfd plugin, which cannot
# read the bitcode rustc's objects carry and says so for every member.
RELIBC_AR := $(or $(shell command -v llvm-ar 2>/dev/null),ar)

RELIBC_HEADERS := $(shell find relibc-shim/include -name '*.h')
RELIBC_C_SRCS := $(wildcard relibc-shim/c/*.c)
RELIBC_C_HEADERS := $(wildcard relibc-shim/c/*.h)
# libc's own C: no builtins (mem.c must not become calls to itself), no
# errno from math builtins.
RELIBC_CFLAGS = --target=$(CLANG_TARGET.$(1)) -O2 -std=gnu11 -ffreestanding -fno-math-errno -fno-pic \
	-fno-stack-protector -ffunction-sections -fdata-sections -Wall -Wextra -Werror -Wno-unused-parameter \
	-nostdinc -isystem relibc-shim/include -isystem $(shell clang -print-resource-dir 2>/dev/null)/include

# The C programs in the initfs: name, sources.
C_PROGRAMS := c-hello c-tests mmbench-c
C_SRCS.c-hello := tests/c/hello.c
C_SRCS.c-tests := $(filter-out tests/c/hello.c,$(wildcard tests/c/*.c))
C_SRCS.mmbench-c := bench/mmbench.c
C_FLAGS := -O2 -Wall -Wextra -Werror
# The yardstick is compiled as it is, without our warning policy.
C_FLAGS.mmbench-c := -O2
# The ones testrunner runs in the test image (mk/kernel.mk adds them to
# GUEST_TESTS); mmbench-c runs under `make bench`, and at 1% in the guest
# suite (GUEST_TEST_LINES in mk/kernel.mk).
C_GUEST_TESTS := c-hello c-tests

sysroot: $(BUILD)/$(ARCH)/sysroot/lib/libc.a $(BUILD)/$(ARCH)/sysroot/bin/$(ARCH)-unknown-tessera-cc

# $(call relibc_rules,ARCH)
define relibc_rules
SYSROOT.$(1) := $(BUILD)/$(1)/sysroot
RELIBC_OBJ.$(1) := $(RELIBC_C_SRCS:relibc-shim/c/%.c=$(BUILD)/$(1)/relibc/%.o) \
	$(BUILD)/$(1)/relibc/setjmp.o $(BUILD)/$(1)/relibc/clear_cache.o

$(BUILD)/$(1)/relibc/librelibc_shim.a: FORCE | deps
	$(RELIBC_CARGO) --target $(RELIBC_TARGET.$(1))
	@$$(call copy_if_changed,$(TARGET_DIR)/relibc/$(RELIBC_TARGET.$(1))/release/librelibc_shim.a,$$@)

$(BUILD)/$(1)/relibc/%.o: relibc-shim/c/%.c $(RELIBC_HEADERS) $(RELIBC_C_HEADERS) | deps
	@mkdir -p $$(dir $$@)
	clang $(call RELIBC_CFLAGS,$(1)) -c $$< -o $$@

$(BUILD)/$(1)/relibc/%.o: relibc-shim/c/$(1)/%.S | deps
	@mkdir -p $$(dir $$@)
	clang --target=$(CLANG_TARGET.$(1)) -c $$< -o $$@

$(BUILD)/$(1)/sysroot/include/.stamp: $(RELIBC_HEADERS)
	@rm -rf $(BUILD)/$(1)/sysroot/include
	@mkdir -p $(BUILD)/$(1)/sysroot
	cp -r relibc-shim/include $(BUILD)/$(1)/sysroot/include
	@touch $$@

$(BUILD)/$(1)/sysroot/lib/libc.a: $(BUILD)/$(1)/relibc/librelibc_shim.a $$(RELIBC_OBJ.$(1)) \
		$(BUILD)/$(1)/relibc/crt0.o $(BUILD)/$(1)/sysroot/include/.stamp
	@mkdir -p $$(dir $$@)
	@rm -f $$@.new
	cp $(BUILD)/$(1)/relibc/librelibc_shim.a $$@.new
	$(RELIBC_AR) qs $$@.new $$(RELIBC_OBJ.$(1))
	@mv $$@.new $$@
	@cp $(BUILD)/$(1)/relibc/crt0.o $$(dir $$@)crt0.o
	@cp $(BUILD)/$(1)/relibc/crt0.o $$(dir $$@)crt1.o
	@printf '' | clang --target=$(CLANG_TARGET.$(1)) -x assembler -c - -o $$(dir $$@)crti.o
	@cp $$(dir $$@)crti.o $$(dir $$@)crtn.o
	@printf '!<arch>\n' > $$(dir $$@)libm.a
	@printf '!<arch>\n' > $$(dir $$@)libpthread.a

$(BUILD)/$(1)/sysroot/bin/$(1)-unknown-tessera-cc: relibc-shim/cc/tessera-cc.in
	@mkdir -p $$(dir $$@)
	sed -e 's/@ARCH@/$(1)/g' -e 's/@CLANG_TARGET@/$(CLANG_TARGET.$(1))/g' $$< > $$@
	@chmod +x $$@

# A C program of the initfs, built with the wrapper.
$(BUILD)/$(1)/c-bin/%: $(BUILD)/$(1)/sysroot/lib/libc.a $(BUILD)/$(1)/sysroot/bin/$(1)-unknown-tessera-cc \
		$(wildcard tests/c/*.c tests/c/*.h bench/*.c)
	@mkdir -p $$(dir $$@)
	$(BUILD)/$(1)/sysroot/bin/$(1)-unknown-tessera-cc $$(or $$(C_FLAGS.$$*),$(C_FLAGS)) -o $$@ $$(C_SRCS.$$*)
endef
$(foreach a,$(ARCHES),$(eval $(call relibc_rules,$(a))))

# ---- tests/c on the host, with the system cc and libc -----------------------
HOST_CC ?= cc
# Some cases truncate on purpose (snprintf, strncpy): gcc warns about those.
C_HOST_FLAGS := -O2 -Wall -Wextra -Werror -Wno-format-truncation -Wno-stringop-truncation
C_HOST_BIN := $(BUILD)/host/c-tests

$(C_HOST_BIN): $(C_SRCS.c-tests) $(wildcard tests/c/*.h)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(C_HOST_FLAGS) -o $@ $(C_SRCS.c-tests) -lm

c-test-host: $(C_HOST_BIN)
	$(C_HOST_BIN)

# The `make test` step: records pass/fail c-host in build/results.txt.
test-c-host:
	@echo "==> c-host: tests/c with the host's libc"
	@if $(SUBMAKE) c-test-host; then echo "ok c-host"; echo "pass c-host" >> $(RESULTS); \
		else echo "FAIL c-host"; echo "fail c-host" >> $(RESULTS); fi
