# mk/cookbook.mk — the cookbook (docs/cookbook.md): the sysroot's other
# cross tools, and `make cook`.
#
#   build/<arch>/sysroot/bin/<arch>-unknown-tessera-{ar,ranlib,pkg-config}
#   build/<arch>/sysroot/share/cmake/<arch>-unknown-tessera.cmake
#                       made from cookbook/sysroot/*.in; part of `make sysroot`
#   build/<arch>/cookbook/<recipe>/{source,build,sysroot,stage}
#                       `make cook arch=… recipe=NAME` (dependencies first)
#   build/cookbook-cache/   the verified sources, shared by both arches
#
# `make cook` fetches what is missing (network); `offline=yes` (or
# COOKBOOK_OFFLINE=1) uses only the cache and names what is missing.
# `make cook-fetch recipe=NAME` only fetches and verifies.

.PHONY: cook cook-fetch cookbook-tool

RECIPE ?= $(recipe)
COOKBOOK_OFFLINE = $(if $(filter yes 1,$(offline)),--offline)
COOKBOOK_FLAGS = --arch $(ARCH) $(COOKBOOK_OFFLINE)
COOKBOOK_TOOLS := ar ranlib pkg-config

cookbook-tool: | deps
	$(CARGO) build -q -p cookbook

cook: sysroot cookbook-tool
	@test -n "$(RECIPE)" || { echo "make cook: name the recipe: make cook arch=$(ARCH) recipe=zlib" >&2; exit 2; }
	$(TARGET_DIR)/debug/cookbook $(COOKBOOK_FLAGS) cook $(RECIPE)

cook-fetch: cookbook-tool
	@test -n "$(RECIPE)" || { echo "make cook-fetch: name the recipe: make cook-fetch recipe=zlib" >&2; exit 2; }
	$(TARGET_DIR)/debug/cookbook $(COOKBOOK_FLAGS) fetch $(RECIPE)

# $(call cookbook_sysroot_rules,ARCH)
define cookbook_sysroot_rules
sysroot-$(1)-cookbook := $(COOKBOOK_TOOLS:%=$(BUILD)/$(1)/sysroot/bin/$(1)-unknown-tessera-%) \
	$(BUILD)/$(1)/sysroot/share/cmake/$(1)-unknown-tessera.cmake

$(BUILD)/$(1)/sysroot/bin/$(1)-unknown-tessera-%: cookbook/sysroot/tessera-%.in
	@mkdir -p $$(dir $$@)
	sed -e 's/@ARCH@/$(1)/g' $$< > $$@
	@chmod +x $$@

$(BUILD)/$(1)/sysroot/share/cmake/$(1)-unknown-tessera.cmake: cookbook/sysroot/tessera.cmake.in
	@mkdir -p $$(dir $$@)
	sed -e 's/@ARCH@/$(1)/g' $$< > $$@
endef
$(foreach a,$(ARCHES),$(eval $(call cookbook_sysroot_rules,$(a))))

sysroot: $(sysroot-$(ARCH)-cookbook)

# ---- recipes whose programs go into the initfs ------------------------------
# zlib's own test program (`example`: compress, gz files, inflate/deflate
# round trips, dictionaries) runs in the guest suite as zlib-example. Its
# first build fetches zlib's source (Debian's, into build/cookbook-cache);
# offline=yes uses only the cache and says what is missing.
COOKBOOK_PROGRAMS := zlib-example lua
COOKBOOK_PROGRAM.zlib-example := zlib usr/bin/example
# Lua 5.4's interpreter (Debian's source) as bin/lua; the guest test
# lua-test (tests/lua/lua-test.c, a C program) runs it on
# tests/lua/lua-test.lua, which the test initfs carries in etc/.
COOKBOOK_PROGRAM.lua := lua54 usr/bin/lua
C_PROGRAMS += $(COOKBOOK_PROGRAMS) lua-test
C_SRCS.lua-test := tests/lua/lua-test.c
C_GUEST_TESTS += zlib-example lua-test
ETC_FILES.initfs-test += tests/lua/lua-test.lua
$(ARCHES:%=$(BUILD)/%/c-bin/lua-test): tests/lua/lua-test.c tests/common/run.h
# bzip2 1.0.8 (Debian's source) as bin/bzip2; the guest test bzip2-test
# (tests/bzip2/bzip2-test.c) compresses and decompresses files and pipes
# with it and feeds it corrupted input.
COOKBOOK_PROGRAMS += bzip2
COOKBOOK_PROGRAM.bzip2 := bzip2 usr/bin/bzip2
C_PROGRAMS += bzip2 bzip2-test
C_SRCS.bzip2-test := tests/bzip2/bzip2-test.c
C_GUEST_TESTS += bzip2-test
$(ARCHES:%=$(BUILD)/%/c-bin/bzip2-test): tests/bzip2/bzip2-test.c tests/common/run.h
# SQLite 3.44's shell (recipe sqlite3: the library and shell.c) as
# bin/sqlite3; the guest test `sqlite` (tests/sqlite/sqlite-test.c) runs it
# on tests/sqlite/sqlite-test.sql (etc/ of the test initfs), then checks
# the database's mapping in sys:maps and WAL with a writer and a reader.
COOKBOOK_PROGRAMS += sqlite3
COOKBOOK_PROGRAM.sqlite3 := sqlite3 usr/bin/sqlite3
C_PROGRAMS += sqlite3 sqlite
C_SRCS.sqlite := tests/sqlite/sqlite-test.c
C_GUEST_TESTS += sqlite
ETC_FILES.initfs-test += tests/sqlite/sqlite-test.sql
$(ARCHES:%=$(BUILD)/%/c-bin/sqlite): tests/sqlite/sqlite-test.c

# $(call cookbook_program_rules,ARCH,PROGRAM): an explicit rule, so that it
# wins over mk/relibc.mk's c-bin pattern rule.
define cookbook_program_rules
$(BUILD)/$(1)/c-bin/$(2): $(BUILD)/$(1)/sysroot/lib/libc.a $(BUILD)/$(1)/sysroot/bin/$(1)-unknown-tessera-cc \
		$$(sysroot-$(1)-cookbook) cookbook-tool
	$(TARGET_DIR)/debug/cookbook --arch $(1) $(COOKBOOK_OFFLINE) cook $(word 1,$(COOKBOOK_PROGRAM.$(2)))
	@mkdir -p $$(dir $$@)
	@cp $(BUILD)/$(1)/cookbook/$(word 1,$(COOKBOOK_PROGRAM.$(2)))/stage/$(word 2,$(COOKBOOK_PROGRAM.$(2))) $$@
endef
$(foreach a,$(ARCHES),$(foreach p,$(COOKBOOK_PROGRAMS),$(eval $(call cookbook_program_rules,$(a),$(p)))))
