//! `fpu-state`: the kernel keeps each thread's FP/SIMD registers and FP
//! control register apart.
//!
//! | check | expected |
//! |---|---|
//! | two processes each load their own values into every SIMD register (x86_64 `xmm0`-`xmm15`, aarch64 `v0`-`v31`) and a rounding mode into the control register (MXCSR / FPCR), yield, and read them back, 300 rounds | every value and mode intact |
//! | the same two processes sum a series in `f64`, yielding between steps | bit-identical to the sum computed without yields |
//! | registers loaded just before `fork` | the same in the child as in the parent (fork copies the registers) |
//!
//! The x86_64 user target is soft-float, so Rust code never touches the SSE
//! registers: the test reaches them with inline assembly only, and saves
//! and restores them around its use (`fxsave64`/`fxrstor64`) because it
//! cannot name them as clobbers. aarch64 user code is hard-float: the
//! compiler keeps `f64` values in the SIMD registers across the `svc` of
//! `sched_yield`, which is what the series check relies on.
#![no_std]
#![no_main]

extern crate alloc;

use core::hint::black_box;

use tessera_guest_tests::Checks;
use tessera_guest_tests::rng::Rng;
use tessera_guest_tests::system::{fork_with, reap};
use tessera_runtime::abi::number::{SYS_FORK, SYS_YIELD};
use tessera_runtime::{Args, println, sys};

tessera_runtime::entry!(main);

/// Rounds of load / yield / check per worker.
const ROUNDS: usize = 300;
/// Terms of the series.
const TERMS: usize = 3000;
/// The series yields every this many terms.
const YIELD_EVERY: usize = 25;

/// The SIMD registers' contents, lowest register first.
#[repr(C, align(16))]
#[derive(Clone, Copy, PartialEq, Eq)]
struct Regs([u128; regs::COUNT]);

#[cfg(target_arch = "x86_64")]
mod regs {
    //! x86_64: `xmm0`-`xmm15` and MXCSR (Intel SDM Vol. 1 §10.2.3).
    use core::arch::asm;

    use super::Regs;

    pub const COUNT: usize = 16;
    /// MXCSR bits compared: rounding control, flush-to-zero, the masks
    /// (not the sticky exception flags, bits 0-5).
    pub const CONTROL_MASK: u64 = 0xFFC0;
    /// Two distinct control values: all exceptions masked, and rounding
    /// toward zero with flush-to-zero / rounding down.
    pub const CONTROLS: [u64; 2] = [0x1F80 | 3 << 13 | 1 << 15, 0x1F80 | 1 << 13];

    /// The 512-byte `fxsave` image.
    #[repr(C, align(16))]
    struct FxArea([u8; 512]);

    /// Loads `values` into the registers and `control` into MXCSR, makes
    /// syscall `number`, and returns what the registers and MXCSR hold after
    /// it, with the syscall's raw result. Everything is put back as it was.
    pub fn through_syscall(number: usize, values: &Regs, control: u64) -> (Regs, u64, usize) {
        let mut saved = FxArea([0; 512]);
        let mut out = Regs([0; COUNT]);
        let control_in = control as u32;
        let mut control_out = 0u32;
        let result: usize;
        // SAFETY: the SSE state is saved first and restored last, so the
        // block leaves every register it touches as it found it (the
        // compiler cannot be told about xmm clobbers on a soft-float
        // target). The pointers are to locals of the right size and
        // alignment. The syscall clobbers only rax, rcx and r11; `fork`
        // gives the child a copy of this stack, so the same addresses are
        // valid on both sides.
        unsafe {
            asm!(
                "fxsave64 [{saved}]",
                "movdqu xmm0, [{input}]",
                "movdqu xmm1, [{input} + 16]",
                "movdqu xmm2, [{input} + 32]",
                "movdqu xmm3, [{input} + 48]",
                "movdqu xmm4, [{input} + 64]",
                "movdqu xmm5, [{input} + 80]",
                "movdqu xmm6, [{input} + 96]",
                "movdqu xmm7, [{input} + 112]",
                "movdqu xmm8, [{input} + 128]",
                "movdqu xmm9, [{input} + 144]",
                "movdqu xmm10, [{input} + 160]",
                "movdqu xmm11, [{input} + 176]",
                "movdqu xmm12, [{input} + 192]",
                "movdqu xmm13, [{input} + 208]",
                "movdqu xmm14, [{input} + 224]",
                "movdqu xmm15, [{input} + 240]",
                "ldmxcsr [{control_in}]",
                "syscall",
                "movdqu [{out}], xmm0",
                "movdqu [{out} + 16], xmm1",
                "movdqu [{out} + 32], xmm2",
                "movdqu [{out} + 48], xmm3",
                "movdqu [{out} + 64], xmm4",
                "movdqu [{out} + 80], xmm5",
                "movdqu [{out} + 96], xmm6",
                "movdqu [{out} + 112], xmm7",
                "movdqu [{out} + 128], xmm8",
                "movdqu [{out} + 144], xmm9",
                "movdqu [{out} + 160], xmm10",
                "movdqu [{out} + 176], xmm11",
                "movdqu [{out} + 192], xmm12",
                "movdqu [{out} + 208], xmm13",
                "movdqu [{out} + 224], xmm14",
                "movdqu [{out} + 240], xmm15",
                "stmxcsr [{control_out}]",
                "fxrstor64 [{saved}]",
                saved = in(reg) saved.0.as_mut_ptr(),
                input = in(reg) values.0.as_ptr(),
                out = in(reg) out.0.as_mut_ptr(),
                control_in = in(reg) &control_in,
                control_out = in(reg) &mut control_out,
                inout("rax") number => result,
                out("rcx") _,
                out("r11") _,
                options(nostack),
            )
        };
        (out, control_out as u64, result)
    }
}

#[cfg(target_arch = "aarch64")]
mod regs {
    //! aarch64: `v0`-`v31` and FPCR (Arm ARM C5.2.8).
    use core::arch::asm;

    use super::Regs;

    pub const COUNT: usize = 32;
    /// FPCR bits compared: RMode (23:22), FZ (24), DN (25).
    pub const CONTROL_MASK: u64 = 0x03C0_0000;
    /// Round toward zero with flush-to-zero; round toward minus infinity
    /// with default NaN.
    pub const CONTROLS: [u64; 2] = [3 << 22 | 1 << 24, 2 << 22 | 1 << 25];

    /// Loads `values` into the registers and `control` into FPCR, makes
    /// syscall `number`, and returns what the registers and FPCR hold after
    /// it, with the syscall's raw result. FPCR is put back as it was; the
    /// vector registers are declared clobbered.
    pub fn through_syscall(number: usize, values: &Regs, control: u64) -> (Regs, u64, usize) {
        let mut out = Regs([0; COUNT]);
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
                input = in(reg) values.0.as_ptr(),
                out = in(reg) out.0.as_mut_ptr(),
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
}

/// Register values for `worker` in `round`: distinct per register, worker
/// and round.
fn pattern(worker: usize, round: usize) -> Regs {
    let mut rng = Rng::new(0xF9F9_0000 ^ (worker as u64) << 40 ^ round as u64);
    let mut regs = Regs([0; regs::COUNT]);
    for value in &mut regs.0 {
        *value = (rng.next_u64() as u128) << 64 | rng.next_u64() as u128;
    }
    regs
}

/// Σ 1/k², yielding every `YIELD_EVERY` terms when `yielding`.
fn series(yielding: bool) -> f64 {
    let mut sum = 0.0f64;
    for k in 1..=TERMS {
        let k = black_box(k as f64);
        sum += 1.0 / (k * k);
        if yielding && (k as usize).is_multiple_of(YIELD_EVERY) {
            let _ = sys::sched_yield();
        }
    }
    sum
}

/// One worker: `ROUNDS` rounds of load / yield / check, then the series.
/// Exit status: bit 0 registers, bit 1 control register, bit 2 series.
fn worker(index: usize, expected_series: f64) -> i32 {
    let mut status = 0;
    let control = regs::CONTROLS[index];
    for round in 0..ROUNDS {
        let values = pattern(index, round);
        let (got, got_control, _) = regs::through_syscall(SYS_YIELD, &values, control);
        if got != values && status & 1 == 0 {
            let bad = (0..regs::COUNT).find(|&i| got.0[i] != values.0[i]).unwrap_or(0);
            println!(
                "fpu-state: worker {index} round {round}: register {bad} is {:#034x}, was {:#034x}",
                got.0[bad], values.0[bad]
            );
            status |= 1;
        }
        if got_control & regs::CONTROL_MASK != control & regs::CONTROL_MASK && status & 2 == 0 {
            println!("fpu-state: worker {index} round {round}: control {got_control:#x}, was {control:#x}");
            status |= 2;
        }
    }
    let sum = series(true);
    if sum.to_bits() != expected_series.to_bits() {
        println!("fpu-state: worker {index}: series {sum:e}, expected {expected_series:e}");
        status |= 4;
    }
    status
}

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("fpu-state");

    // fork copies the registers: load, fork, read back on both sides.
    let values = pattern(7, 0);
    let control = regs::CONTROLS[0];
    let (got, got_control, pid) = regs::through_syscall(SYS_FORK, &values, control);
    let intact = got == values && got_control & regs::CONTROL_MASK == control & regs::CONTROL_MASK;
    if pid == 0 {
        if !intact {
            let bad = (0..regs::COUNT).find(|&i| got.0[i] != values.0[i]);
            println!("fpu-state: fork child: register {bad:?} / control {got_control:#x} differ from the parent's");
        }
        sys::exit(usize::from(!intact));
    }
    checks.check("the parent's registers survive fork", intact, format_args!("control {got_control:#x}"));
    if pid > usize::MAX - 4096 {
        checks.check("fork", false, format_args!("errno {}", pid.wrapping_neg()));
    } else {
        match reap(pid) {
            Ok((_, status)) => checks.check(
                "the child of fork starts with the parent's SIMD registers and control register",
                status.success(),
                format_args!("{status}"),
            ),
            Err(e) => checks.check("reap the fork child", false, format_args!("{e}")),
        }
    }

    // Two workers switching back and forth.
    let expected_series = series(false);
    let workers = [0, 1].map(|index| fork_with(|| worker(index, expected_series)));
    for (index, pid) in workers.into_iter().enumerate() {
        match pid.and_then(reap) {
            Ok((_, status)) => checks.check(
                &alloc::format!("worker {index}: registers, control register and f64 series intact across yields"),
                status.success(),
                format_args!("{status} (bit 0: registers, bit 1: control, bit 2: series)"),
            ),
            Err(e) => checks.check("run a worker", false, format_args!("{e}")),
        }
    }
    checks.finish()
}
