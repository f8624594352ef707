//! x86_64: the `_start` entry and the thread-stack bias. The system-call
//! instruction is tessera-sys's (`tessera_sys::syscall`).

// The kernel starts a program here with `rsp` at `argc` (16-byte aligned)
// and every other register zero. `rbp = 0` ends frame-pointer walks; the
// original `rsp` is the first argument of `start`. `call` pushes the return
// address onto the aligned stack, as the SysV ABI expects at a call.
#[cfg(all(target_os = "none", not(test)))]
core::arch::global_asm!(
    ".section .text._start,\"ax\",@progbits",
    ".global _start",
    ".type _start,@function",
    "_start:",
    "    xor ebp, ebp",
    "    mov rdi, rsp",
    "    and rsp, -16",
    "    call {start}",
    "    ud2",
    ".size _start, . - _start",
    start = sym crate::start::start,
);

/// How far below a 16-byte-aligned top a new thread's stack pointer starts:
/// the SysV ABI expects `rsp + 8` to be 16-aligned at a function's entry
/// (a `call` has pushed the return address).
pub(crate) const THREAD_ENTRY_STACK_BIAS: usize = 8;
