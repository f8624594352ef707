//! Compile-time limits shared by the arch code and the rest of the kernel.
//! A leaf: it names no other module, so any module may use it.

/// The most CPUs the kernel runs on (per-CPU tables are this long).
pub const MAX_CPUS: usize = 16;
