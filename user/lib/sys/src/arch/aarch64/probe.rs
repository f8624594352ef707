//! aarch64 probes of the system-call entry (see `crate::probe`).

use core::arch::asm;

use tessera_abi::number::{SYS_EXIT, SYS_FORK, SYS_WRITE};

/// The SIMD registers a probe loads: `v0`-`v31` (Arm ARM C5.2).
pub const SIMD_REGS: usize = 32;

/// Loads `values` into the registers and `control` into FPCR, makes
/// syscall `number`, and returns what the registers and FPCR hold after
/// it, with the syscall's raw result. FPCR is put back as it was; the
/// vector registers are declared clobbered.
pub fn simd_through_syscall(
    number: usize,
    values: &[u128; SIMD_REGS],
    control: u64,
) -> ([u128; SIMD_REGS], u64, usize) {
    let mut out = [0u128; SIMD_REGS];
    let control_out: u64;
    let result: usize;
    // SAFETY: the pointers are to locals of the right size and
    // alignment; every vector register is declared clobbered and FPCR
    // is restored before the block ends. `svc` changes only x0; `fork`
    // gives the child a copy of this stack, so the same addresses are
    // valid on both sides.
    unsafe {
        asm!(
            "mrs {saved}, fpcr",
            "ldp q0, q1, [{input}]",
            "ldp q2, q3, [{input}, #32]",
            "ldp q4, q5, [{input}, #64]",
            "ldp q6, q7, [{input}, #96]",
            "ldp q8, q9, [{input}, #128]",
            "ldp q10, q11, [{input}, #160]",
            "ldp q12, q13, [{input}, #192]",
            "ldp q14, q15, [{input}, #224]",
            "ldp q16, q17, [{input}, #256]",
            "ldp q18, q19, [{input}, #288]",
            "ldp q20, q21, [{input}, #320]",
            "ldp q22, q23, [{input}, #352]",
            "ldp q24, q25, [{input}, #384]",
            "ldp q26, q27, [{input}, #416]",
            "ldp q28, q29, [{input}, #448]",
            "ldp q30, q31, [{input}, #480]",
            "msr fpcr, {control}",
            "svc #0",
            "stp q0, q1, [{out}]",
            "stp q2, q3, [{out}, #32]",
            "stp q4, q5, [{out}, #64]",
            "stp q6, q7, [{out}, #96]",
            "stp q8, q9, [{out}, #128]",
            "stp q10, q11, [{out}, #160]",
            "stp q12, q13, [{out}, #192]",
            "stp q14, q15, [{out}, #224]",
            "stp q16, q17, [{out}, #256]",
            "stp q18, q19, [{out}, #288]",
            "stp q20, q21, [{out}, #320]",
            "stp q22, q23, [{out}, #352]",
            "stp q24, q25, [{out}, #384]",
            "stp q26, q27, [{out}, #416]",
            "stp q28, q29, [{out}, #448]",
            "stp q30, q31, [{out}, #480]",
            "mrs {control_out}, fpcr",
            "msr fpcr, {saved}",
            saved = out(reg) _,
            input = in(reg) values.as_ptr(),
            out = in(reg) out.as_mut_ptr(),
            control = in(reg) control,
            control_out = out(reg) control_out,
            in("x8") number,
            inout("x0") 0usize => result,
            out("v0") _, out("v1") _, out("v2") _, out("v3") _, out("v4") _, out("v5") _, out("v6") _,
            out("v7") _, out("v8") _, out("v9") _, out("v10") _, out("v11") _, out("v12") _, out("v13") _,
            out("v14") _, out("v15") _, out("v16") _, out("v17") _, out("v18") _, out("v19") _, out("v20") _,
            out("v21") _, out("v22") _, out("v23") _, out("v24") _, out("v25") _, out("v26") _, out("v27") _,
            out("v28") _, out("v29") _, out("v30") _, out("v31") _,
            options(nostack),
        )
    };
    (out, control_out, result)
}

/// `fork`; in the child `exit(0)` at once; in the parent `write(fd,
/// message)` with no store to memory in between. The raw result of `fork`
/// (a pid, or `-errno`).
pub fn fork_then_write(fd: usize, message: &'static [u8]) -> usize {
    let result: usize;
    // SAFETY: the block only makes system calls: fork; in the child exit
    // (it never returns); in the parent a write of `message` (static,
    // read-only) to `fd`. No memory is stored to (`nostack`), the
    // registers the calls use are declared, and the fork result is kept
    // in x9 across the write.
    unsafe {
        asm!(
            "mov x8, x14",
            "svc #0",
            "cbnz x0, 2f",
            "mov x8, x15",
            "mov x0, xzr",
            "svc #0",
            "udf #0",
            "2:",
            "mov x9, x0",
            "mov x8, x10",
            "mov x0, x11",
            "mov x1, x12",
            "mov x2, x13",
            "svc #0",
            "mov x0, x9",
            lateout("x0") result,
            in("x10") SYS_WRITE,
            in("x11") fd,
            in("x12") message.as_ptr(),
            in("x13") message.len(),
            in("x14") SYS_FORK,
            in("x15") SYS_EXIT,
            out("x1") _,
            out("x2") _,
            out("x8") _,
            out("x9") _,
            options(nostack),
        );
    }
    result
}
