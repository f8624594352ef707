//! `memcpy`, `memmove` and `memset` for the x86_64 kernel and Rust
//! programs (target `x86_64-unknown-none`), in the style of Linux's
//! `memcpy_orig` / `memset_orig`: eight 8-byte moves per loop turn, then
//! single words, then bytes.
//!
//! Why not compiler_builtins' versions, which these replace (its are weak
//! symbols): they are `rep movsq` / `rep stosq` with `rep movsb` for the
//! ends. Linux uses `rep` string moves only on CPUs that say they are fast
//! (ERMS, FSRM), and not on the `qemu64` CPU model; and QEMU's TCG, which
//! the tests and benchmarks run under, executes a `rep` instruction one
//! element per turn of a translated block (docs/kernel.md, "Copying
//! memory"). On aarch64 compiler_builtins' word loops are kept. On an
//! x86_64 host the routines are built under their own (mangled) names, for
//! the tests, and replace nothing.
#![cfg_attr(not(test), no_std)]

#[cfg(target_arch = "x86_64")]
pub mod x86_64;
