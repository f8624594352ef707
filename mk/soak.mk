# mk/soak.mk — `make soak [n=N] [arch=ARCH]`: the boot, console and power
# tests booted again and again, to catch what fails only now and then (a
# race shows up once in many boots, not in one `make test`).
#
# The images are built once; then n rounds (default 20), each booting, for
# each arch (the one given with arch= or ARCH= on the command line, else
# both), the same three tests as `make test`:
#   boot-<arch>     test.img: boot, banner figures and the in-guest suite
#   console-<arch>  console-test.img: the scripted shell session, Ctrl-C
#   power-<arch>    harddrive.img: mmapdemo and shutdown at the prompt
# Each boot prints the harness's `ok NAME` / `FAIL NAME: why` lines after
# `soak R/N `; a failed boot's log is kept as build/soak/NAME-R.log (the
# usual build/<arch>/*-test.log is overwritten by the next round). The last
# line counts boots (not guest tests): exactly `N passed, N failed`; the
# exit status is 1 if any boot failed.

.PHONY: soak
SOAK_N := $(or $(n),20)
ifneq ($(filter soak,$(MAKECMDGOALS)),)
ifeq ($(shell printf '%s' '$(SOAK_N)' | grep -Ex '[1-9][0-9]*'),)
$(error n must be a whole number of rounds, 1 or more (got "$(SOAK_N)"); e.g. make soak n=20)
endif
endif
SOAK_ARCHES := $(if $(filter command line,$(origin arch) $(origin ARCH)),$(ARCH),$(ARCHES))
SOAK_DIR := $(BUILD)/soak
SOAK_KINDS := boot console power
SOAK_IMAGE.boot := test
SOAK_IMAGE.console := console-test
SOAK_IMAGE.power := harddrive
SOAK_FLAGS.boot = $(BOOT_EXPECT) --guest-results
SOAK_FLAGS.console = $(CONSOLE_EXPECT)
SOAK_FLAGS.power = $(POWER_EXPECT)

# $(call soak_run,KIND,ARCH): one boot, counted in $pass or $fail.
define soak_run
if $(call boot_test,$(1),$(2),$(BUILD)/$(2)/$(SOAK_IMAGE.$(1)).img,$(SOAK_FLAGS.$(1))) \
	| sed "s|^|soak $$round/$(SOAK_N) |"; then pass=$$((pass + 1)); \
else fail=$$((fail + 1)); cp $(BUILD)/$(2)/$(1)-test.log $(SOAK_DIR)/$(1)-$(2)-$$round.log || true; fi;
endef

soak: $(foreach a,$(SOAK_ARCHES),$(foreach k,$(SOAK_KINDS),$(BUILD)/$(a)/$(SOAK_IMAGE.$(k)).img)) \
		$(CONSOLE_INPUTS) $(POWER_INPUT) $(BOOT_TEST) | deps
	@rm -rf $(SOAK_DIR) && mkdir -p $(SOAK_DIR)
	@$(foreach a,$(SOAK_ARCHES),$(call kvm_notice,$(a));)
	@echo "==> soak: $(SOAK_N) round(s) of $(SOAK_KINDS) on $(SOAK_ARCHES)"
	@pass=0; fail=0; \
	for round in $$(seq 1 $(SOAK_N)); do \
		$(foreach a,$(SOAK_ARCHES),$(foreach k,$(SOAK_KINDS),$(call soak_run,$(k),$(a)))) \
	done; \
	echo "$$pass passed, $$fail failed"; \
	[ $$fail -eq 0 ]
