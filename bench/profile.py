#!/usr/bin/env python3
"""bench/profile.py — a sampling profile of a guest under QEMU, by function.

`make profile arch=x86_64|aarch64` boots the bench image with QEMU's gdb
stub and, while the guest runs, stops it every few milliseconds and reads
each CPU's program counter. Kernel addresses are named from the kernel's
symbols; each sample is put in the benchmark case that was running (the
case whose `# <case> rounds=` line the serial log printed next). The
table per case: share of that case's samples per function, both CPUs
together, idle included. Under TCG the guest's time is QEMU's time, so a
function's share is what it costs in the benchmark.

User-space PCs are `[user]`; with `--user-elf ELF` (e.g. redoxfsd's) they
are named from that program's symbols as `[user] NAME`. Every program is
linked at the same address, so a name is right only for samples taken in
that program: on x86_64 each user sample is tagged with its address space
(CR3, from QEMU's `g` packet) as `[user@N]`, numbered by first appearance,
and only the space where the ELF's symbols are hit most is named.

Usage: profile.py --arch ARCH --kernel ELF [--user-elf ELF] [--interval-ms N]
                  [--top N] [--log FILE] -- QEMU-COMMAND...
"""

import argparse
import bisect
import re
import socket
import subprocess
import sys
import threading
import time

PC_REGISTER = {"x86_64": 16, "aarch64": 32}  # 64-bit registers before rip / pc in `g`
# x86_64: hex digits before CR3 in QEMU's `g` reply: 17 64-bit registers
# (rax..rip), eflags and 6 segment selectors (32-bit), fs/gs/kernel-gs
# base, cr0 and cr2 (64-bit).
CR3_OFFSET = {"x86_64": (17 * 8 + 7 * 4 + 5 * 8) * 2}


class Stub:
    """The gdb remote protocol, just what sampling needs."""

    def __init__(self, port):
        deadline = time.time() + 30
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _read_packet(self):
        while True:
            start = self.buf.find(b"$")
            end = self.buf.find(b"#", start) if start >= 0 else -1
            if start >= 0 and end >= 0 and len(self.buf) >= end + 3:
                body = self.buf[start + 1 : end]
                self.buf = self.buf[end + 3 :]
                self.sock.sendall(b"+")
                return body.decode()
            data = self.sock.recv(65536)
            if not data:
                raise EOFError
            self.buf += data

    def send(self, body, reply=True):
        csum = sum(body.encode()) & 0xFF
        self.sock.sendall(b"$%s#%02x" % (body.encode(), csum))
        return self._read_packet() if reply else None

    def interrupt(self):
        self.sock.sendall(b"\x03")
        return self._read_packet()


def symbols(elf):
    out = subprocess.run(["nm", "-n", "-C", elf], capture_output=True, text=True, check=True).stdout
    addrs, names = [], []
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in "tTwW":
            addrs.append(int(parts[0], 16))
            names.append(parts[2])
    return addrs, names


def name_of(pc, addrs, names, space=None, user=None):
    if pc < (1 << 47):
        tag = "[user]" if space is None else "[user@%d]" % space
        if user is not None and user[0] == space:
            i = bisect.bisect_right(user[1], pc) - 1
            if i >= 0:
                return "%s %s" % (tag, re.sub(r"::h[0-9a-f]{16}$", "", user[2][i]))
        return tag
    i = bisect.bisect_right(addrs, pc) - 1
    if i < 0:
        return "[kernel ?]"
    name = re.sub(r"::h[0-9a-f]{16}$", "", names[i])
    return name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", required=True, choices=sorted(PC_REGISTER))
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--user-elf")
    ap.add_argument("--interval-ms", type=float, default=2.0)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--port", type=int, default=12345)
    ap.add_argument("--log")
    ap.add_argument("qemu", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = [a for a in args.qemu if a != "--"] + ["-gdb", "tcp:127.0.0.1:%d" % args.port, "-S"]
    qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []  # (time, line)
    logf = open(args.log, "w") if args.log else None

    def reader():
        for raw in qemu.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            lines.append((time.time(), line))
            if logf:
                logf.write(line + "\n")
                logf.flush()

    threading.Thread(target=reader, daemon=True).start()
    stub = Stub(args.port)
    threads = []
    reply = stub.send("qfThreadInfo")
    while reply.startswith("m"):
        threads += [t for t in reply[1:].split(",") if t]
        reply = stub.send("qsThreadInfo")
    offset = PC_REGISTER[args.arch] * 16  # hex digits before the pc in a `g` reply
    cr3_at = CR3_OFFSET.get(args.arch)
    spaces = {}  # CR3 -> number, by first appearance
    samples = []  # (time, [(pc, space)...])
    stub.send("c", reply=False)
    try:
        while qemu.poll() is None:
            time.sleep(args.interval_ms / 1000.0)
            try:
                stub.interrupt()
                pcs = []
                for t in threads:
                    stub.send("Hg" + t)
                    regs = stub.send("g")
                    val = regs[offset : offset + 16]
                    pc = int.from_bytes(bytes.fromhex(val), "little") if re.fullmatch("[0-9a-f]{16}", val) else 0
                    space = None
                    cr3 = regs[cr3_at : cr3_at + 16] if cr3_at is not None else ""
                    if pc < (1 << 47) and re.fullmatch("[0-9a-f]{16}", cr3):
                        space = spaces.setdefault(int.from_bytes(bytes.fromhex(cr3), "little") & ~0xFFF, len(spaces))
                    pcs.append((pc, space))
                samples.append((time.time(), pcs))
                stub.send("c", reply=False)
            except (EOFError, OSError):
                break
    finally:
        qemu.wait()
    addrs, names = symbols(args.kernel)
    user = None
    if args.user_elf:
        uaddrs, unames = symbols(args.user_elf)
        # The space whose user PCs fall inside the ELF's text most often.
        lo, hi = (uaddrs[0], uaddrs[-1]) if uaddrs else (0, 0)
        hits = {}
        for _, pcs in samples:
            for pc, space in pcs:
                if pc < (1 << 47) and lo <= pc <= hi:
                    hits[space] = hits.get(space, 0) + 1
        if hits:
            user = (max(hits, key=hits.get), uaddrs, unames)
            print("user address spaces (CR3: number): %s; %s named as %s" % (
                ", ".join("%#x: %d" % kv for kv in spaces.items()), "[user@%s]" % user[0], args.user_elf))

    # Case boundaries: "# mmbench 2 ... file=F" starts a run of mmbench-c,
    # "# mmbench rounds=" one of the Rust mmbench (its scale benchmark's
    # cases are named with their population, "scale_mprotect@32000");
    # "# CASE [mappings=N] rounds=" ends a case.
    bounds = []  # (end_time, label)
    run = "?"
    start = None
    for t, line in lines:
        body = re.sub(r"^\[ *\d+ ms\] ", "", line)
        m = re.match(r"# mmbench 2 .*file=(\S+)|# mmbench (rounds)=", body)
        if m:
            run = m.group(1) or "mmbench"
            start = t
            continue
        m = re.match(r"# (\S+)(?: mappings=(\d+))? rounds=", body)
        if m and start is not None:
            case = m.group(1) + ("@" + m.group(2) if m.group(2) else "")
            bounds.append((start, t, "%s (%s)" % (case, run)))
            start = t
    for lo, hi, label in bounds:
        counts = {}
        total = 0
        for t, pcs in samples:
            if lo <= t < hi:
                for pc, space in pcs:
                    n = name_of(pc, addrs, names, space, user)
                    counts[n] = counts.get(n, 0) + 1
                    total += 1
        if not total:
            continue
        print("== %s: %d samples" % (label, total))
        for n, c in sorted(counts.items(), key=lambda kv: -kv[1])[: args.top]:
            print("  %5.1f%%  %s" % (100.0 * c / total, n[:150]))
    return qemu.returncode


if __name__ == "__main__":
    sys.exit(main())
