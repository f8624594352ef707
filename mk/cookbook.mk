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
COOKBOOK_FLAGS = --arch $(ARCH) $(if $(filter yes 1,$(offline)),--offline)
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
