# mk/bench.mk — `make bench`: mmbench in the guest against the Linux yardstick.
# Not runnable yet; it says so and fails (exit 2) rather than pretend.

.PHONY: bench
bench:
	@echo "bench: mmbench (shared/bench/mmbench.c) runs inside the guest, ported through"
	@echo "bench: relibc-shim, as a user process; relibc-shim and user processes are not"
	@echo "bench: built yet, so there is nothing to run. No measurement was made."
	@exit 2
