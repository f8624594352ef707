//! The `no_std` userspace runtime for Tessera programs and scheme daemons.
//!
//! It will hold the program entry (`_start`), raw syscall wrappers over
//! `redox_syscall`, a heap allocator, a panic handler that exits with a status,
//! and the scheme-server loop daemons use. Nothing is here yet: user processes
//! arrive with the kernel-core work (see `docs/roadmap.md`).
#![no_std]
