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
//! registers: the test reaches them with inline assembly only
//! (tessera-sys's `probe::simd_through_syscall`), which saves and restores
//! them around its use (`fxsave64`/`fxrstor64`) because it cannot name them
//! as clobbers. aarch64 user code is hard-float: the
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
use tessera_runtime::{Args, println, probe, sys};

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
struct Regs([u128; probe::SIMD_REGS]);

#[cfg(target_arch = "x86_64")]
mod regs {
    //! x86_64: `xmm0`-`xmm15` and MXCSR (Intel SDM Vol. 1 §10.2.3).
    /// MXCSR bits compared: rounding control, flush-to-zero, the masks
    /// (not the sticky exception flags, bits 0-5).
    pub const CONTROL_MASK: u64 = 0xFFC0;
    /// Two distinct control values: all exceptions masked, and rounding
    /// toward zero with flush-to-zero / rounding down.
    pub const CONTROLS: [u64; 2] = [0x1F80 | 3 << 13 | 1 << 15, 0x1F80 | 1 << 13];
}

#[cfg(target_arch = "aarch64")]
mod regs {
    //! aarch64: `v0`-`v31` and FPCR (Arm ARM C5.2.8).
    /// FPCR bits compared: RMode (23:22), FZ (24), DN (25).
    pub const CONTROL_MASK: u64 = 0x03C0_0000;
    /// Round toward zero with flush-to-zero; round toward minus infinity
    /// with default NaN.
    pub const CONTROLS: [u64; 2] = [3 << 22 | 1 << 24, 2 << 22 | 1 << 25];
}

/// Loads `values` into the SIMD registers and `control` into the FP
/// control register, makes syscall `number`, and returns what they hold
/// after it, with the syscall's raw result (tessera-sys's probe).
fn through_syscall(number: usize, values: &Regs, control: u64) -> (Regs, u64, usize) {
    let (out, control_out, result) = probe::simd_through_syscall(number, &values.0, control);
    (Regs(out), control_out, result)
}

/// Register values for `worker` in `round`: distinct per register, worker
/// and round.
fn pattern(worker: usize, round: usize) -> Regs {
    let mut rng = Rng::new(0xF9F9_0000 ^ (worker as u64) << 40 ^ round as u64);
    let mut regs = Regs([0; probe::SIMD_REGS]);
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
        let (got, got_control, _) = through_syscall(SYS_YIELD, &values, control);
        if got != values && status & 1 == 0 {
            let bad = (0..probe::SIMD_REGS).find(|&i| got.0[i] != values.0[i]).unwrap_or(0);
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
    let (got, got_control, pid) = through_syscall(SYS_FORK, &values, control);
    let intact = got == values && got_control & regs::CONTROL_MASK == control & regs::CONTROL_MASK;
    if pid == 0 {
        if !intact {
            let bad = (0..probe::SIMD_REGS).find(|&i| got.0[i] != values.0[i]);
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
