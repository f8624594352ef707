//! `clock`: `clock_gettime` and `nanosleep`.
//!
//! Monotonic time never goes back; real time is a plausible date; a 50 ms
//! sleep takes at least 50 ms (and not seconds); bad clocks, bad times and
//! bad pointers are refused with EINVAL / EFAULT. A time read from user
//! memory across two pages is read whole, whichever page is still untouched
//! (the kernel's user copy faults it in, then copies both pieces).
#![no_std]
#![no_main]

use tessera_guest_tests::Checks;
use tessera_runtime::abi::TimeSpec;
use tessera_runtime::abi::error::{EFAULT, EINVAL};
use tessera_runtime::abi::flag::{CLOCK_MONOTONIC, CLOCK_REALTIME};
use tessera_runtime::abi::number::{SYS_CLOCK_GETTIME, SYS_NANOSLEEP};
use tessera_runtime::mm::{self, MAP_PRIVATE, PROT_RW};
use tessera_runtime::syscall::syscall2;
use tessera_runtime::{Args, sys};

tessera_runtime::entry!(main);

/// 2020-01-01 00:00:00 UTC.
const YEAR_2020_S: i64 = 1_577_836_800;

fn ns(t: TimeSpec) -> u64 {
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

const PAGE: usize = 4096;

/// nanosleep of a `TimeSpec` whose `tv_sec` ends one page and `tv_nsec`
/// starts the next, in a fresh two-page mapping: `tv_nsec` is written only
/// if `touch_second` (else that page is untouched and reads as zero), and
/// the first page is touched only if `touch_first` (its `tv_sec` stays 0).
fn straddling_sleep(tv_nsec: i32, touch_first: bool, touch_second: bool) -> Result<(), i64> {
    let Ok(base) = mm::mmap_anonymous(2 * PAGE, PROT_RW, MAP_PRIVATE) else { return Err(-1) };
    let at = base + PAGE - 8;
    // SAFETY: both words lie inside the fresh read-write mapping.
    unsafe {
        if touch_first {
            ((at - 8) as *mut u64).write_volatile(0);
        }
        if touch_second {
            ((at + 8) as *mut i32).write_volatile(tv_nsec);
        }
    }
    // SAFETY: `at` points at 16 bytes of the mapping (`TimeSpec`'s size).
    let got = unsafe { syscall2(SYS_NANOSLEEP, at, 0) }.map(drop).map_err(|e| e.errno as i64);
    // SAFETY: the mapping is this function's alone.
    let _ = unsafe { mm::munmap(base, 2 * PAGE) };
    got
}

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("clock");
    let a = sys::clock_gettime(CLOCK_MONOTONIC).map(ns);
    let b = sys::clock_gettime(CLOCK_MONOTONIC).map(ns);
    checks.check(
        "monotonic time never goes back",
        matches!((a, b), (Ok(x), Ok(y)) if y >= x),
        format_args!("{a:?} then {b:?}"),
    );
    let real = sys::clock_gettime(CLOCK_REALTIME);
    checks.check(
        "real time is after 2020",
        real.is_ok_and(|t| t.tv_sec > YEAR_2020_S && (0..1_000_000_000).contains(&t.tv_nsec)),
        format_args!("{real:?}"),
    );
    checks.expect_errno("clock_gettime(unknown clock)", sys::clock_gettime(999).map(|_| 0), EINVAL);
    // SAFETY: the kernel must refuse the unmapped pointer without writing.
    let got = unsafe { syscall2(SYS_CLOCK_GETTIME, CLOCK_MONOTONIC, 0x1000) };
    checks.expect_errno("clock_gettime(bad pointer)", got, EFAULT);

    let before = sys::clock_gettime(CLOCK_MONOTONIC).map(ns).unwrap_or(0);
    let slept = sys::nanosleep(&TimeSpec { tv_sec: 0, tv_nsec: 50_000_000 }, None);
    let elapsed = sys::clock_gettime(CLOCK_MONOTONIC).map(ns).unwrap_or(0).saturating_sub(before);
    checks.check(
        "nanosleep(50 ms) sleeps at least 50 ms, under 2 s",
        slept.is_ok() && (50_000_000..2_000_000_000).contains(&elapsed),
        format_args!("{slept:?}, {elapsed} ns"),
    );
    let bad_nsec = sys::nanosleep(&TimeSpec { tv_sec: 0, tv_nsec: 1_000_000_000 }, None);
    checks.expect_errno("nanosleep(tv_nsec = 1e9)", bad_nsec.map(|()| 0), EINVAL);
    let negative = sys::nanosleep(&TimeSpec { tv_sec: -1, tv_nsec: 0 }, None);
    checks.expect_errno("nanosleep(negative)", negative.map(|()| 0), EINVAL);
    // SAFETY: the kernel must refuse the unmapped pointer.
    let got = unsafe { syscall2(SYS_NANOSLEEP, 0x1000, 0) };
    checks.expect_errno("nanosleep(bad pointer)", got, EFAULT);

    const NSEC_BAD: i32 = 1_000_000_000;
    let cases = [
        (
            "nanosleep(time across two pages, tv_nsec = 1e9) is EINVAL",
            straddling_sleep(NSEC_BAD, true, true),
            Err(EINVAL as i64),
        ),
        ("nanosleep(time across two pages, tv_nsec = 1000) sleeps", straddling_sleep(1000, true, true), Ok(())),
        (
            "nanosleep(time across two pages, the first untouched, tv_nsec = 1e9) is EINVAL",
            straddling_sleep(NSEC_BAD, false, true),
            Err(EINVAL as i64),
        ),
        (
            "nanosleep(time across two pages, the second untouched: zero) sleeps",
            straddling_sleep(NSEC_BAD, true, false),
            Ok(()),
        ),
    ];
    for (what, got, want) in cases {
        checks.check(what, got == want, format_args!("{got:?}"));
    }
    checks.finish()
}
