#!/usr/bin/env python3
"""bench/trace-op.py — every instruction of one call of a user function, by function.

`make trace-op arch=x86_64|aarch64` boots the bench image with QEMU's gdb
stub; once the serial log shows that mmbench-c has started (`--after`), it
stops the guest at a breakpoint on a function of mmbench-c (`--func`,
default `mmap`), lets the first `--skip` calls go, then single-steps the
CPU that hit it until that CPU enters the function again: one whole
iteration of the case's loop, user and kernel, instruction by instruction
(`mmap_munmap_4k`'s loop is one mmap and one munmap). It prints the number
of instructions and how many ran in each function (kernel addresses named
from the kernel's symbols, user ones from mmbench-c's as `[u] NAME`), and
with `--runs` the runs of consecutive instructions in one function, in
order: the call's path.

Where `make profile` samples (and so shows where time goes, idle CPUs
included), this counts exactly what one operation executes: the figure to
compare before and after a change to a fast path. QEMU single-steps with
interrupts masked, so the count is the operation's own. A breakpoint is an
address in every address space: another program running code at that
address would stop there too, so the breakpoint is set only after
mmbench-c has started (the bench image then runs nothing else).

Usage: trace-op.py --arch ARCH --kernel ELF --user-elf ELF [--func NAME]
                   [--skip N] [--max-steps N] [--top N] [--runs]
                   [--after TEXT] -- QEMU-COMMAND...
"""

import argparse
import bisect
import collections
import os
import re
import subprocess
import sys
import threading


def load_profile():
    """bench/profile.py (its gdb stub client and symbol tables), loaded by
    path: `profile` is also the name of a standard-library module."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "profile.py")
    spec = importlib.util.spec_from_file_location("tessera_profile", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


profile = load_profile()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", required=True, choices=sorted(profile.PC_REGISTER))
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--user-elf", required=True)
    ap.add_argument("--func", default="mmap")
    ap.add_argument("--skip", type=int, default=2)
    ap.add_argument("--max-steps", type=int, default=50000)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--runs", action="store_true")
    ap.add_argument("--after", default="# mmbench 2 ")
    ap.add_argument("--port", type=int, default=12347)
    ap.add_argument("qemu", nargs=argparse.REMAINDER)
    args = ap.parse_args()

    kaddrs, knames = profile.symbols(args.kernel)
    uaddrs, unames = profile.symbols(args.user_elf)
    if args.func not in unames:
        sys.exit("trace-op: no function %r in %s" % (args.func, args.user_elf))
    func = uaddrs[unames.index(args.func)]

    cmd = [a for a in args.qemu if a != "--"] + ["-gdb", "tcp:127.0.0.1:%d" % args.port, "-S"]
    qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    started = threading.Event()

    def reader():
        for raw in qemu.stdout:
            if args.after in raw.decode(errors="replace"):
                started.set()

    threading.Thread(target=reader, daemon=True).start()
    pcs = []
    try:
        stub = profile.Stub(args.port)
        stub.send("c", reply=False)
        if not started.wait(600):
            sys.exit("trace-op: %r never appeared on the serial console" % args.after)
        stub.interrupt()
        if stub.send("Z0,%x,1" % func) != "OK":
            sys.exit("trace-op: the stub refused a breakpoint at %#x" % func)
        for _ in range(args.skip + 1):
            stub.send("c", reply=False)
            stop = stub._read_packet()
        thread = re.search(r"thread:([0-9a-f.p]+);", stop).group(1)
        stub.send("z0,%x,1" % func)
        stub.send("Hg" + thread)
        offset = profile.PC_REGISTER[args.arch] * 16
        for _ in range(args.max_steps):
            stub.send("vCont;s:" + thread)
            regs = stub.send("g")
            pc = int.from_bytes(bytes.fromhex(regs[offset : offset + 16]), "little")
            if pc == func:
                break
            pcs.append(pc)
        else:
            print("trace-op: %s was not called again within %d instructions" % (args.func, args.max_steps))
    finally:
        qemu.kill()
        qemu.wait()

    def name(pc):
        if pc < (1 << 47):
            i = bisect.bisect_right(uaddrs, pc) - 1
            return "[u] " + re.sub(r"::h[0-9a-f]{16}$", "", unames[i]) if i >= 0 else "[u] ?"
        return profile.name_of(pc, kaddrs, knames)

    names = [name(pc) for pc in [func] + pcs]
    print("# %s: %d instructions from one call of %s to the next" % (args.arch, len(names), args.func))
    counts = collections.Counter(names)
    for n, c in counts.most_common(args.top):
        print("%6d %5.1f%%  %s" % (c, 100.0 * c / len(names), n[:150]))
    if args.runs:
        print("# the path: instructions in a row per function")
        run = None
        for n in names + [None]:
            if run and run[0] == n:
                run[1] += 1
                continue
            if run:
                print("%6d  %s" % (run[1], run[0][:150]))
            run = [n, 1]
    return 0


if __name__ == "__main__":
    sys.exit(main())
