//! aarch64: the `_start` entry and the thread-stack bias. The system-call
//! instruction is tessera-sys's (`tessera_sys::syscall`).

// The kernel starts a program here with `sp` at `argc` (16-byte aligned)
// and every other register zero. Clearing the frame pointer and link
// register ends frame-record walks; the original `sp` is the first argument
// of `start`. `start` never returns; `brk` catches it if it did.
#[cfg(all(target_os = "none", not(test)))]
core::arch::global_asm!(
    ".section .text._start,\"ax\",%progbits",
    ".global _start",
    ".type _start,%function",
    "_start:",
    "    mov x29, xzr",
    "    mov x30, xzr",
    "    mov x0, sp",
    "    and x1, x0, #~15",
    "    mov sp, x1",
    "    bl {start}",
    "    brk #1",
    ".size _start, . - _start",
    start = sym crate::start::start,
);

/// How far below a 16-byte-aligned top a new thread's stack pointer starts:
/// AAPCS64 keeps `sp` 16-aligned at all times.
pub(crate) const THREAD_ENTRY_STACK_BIAS: usize = 0;
