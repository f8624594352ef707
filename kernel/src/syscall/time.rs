//! Time calls: `clock_gettime` (CLOCK_MONOTONIC, CLOCK_REALTIME) and
//! `nanosleep`, on the arch clock sources (x86_64: TSC calibrated against
//! the PIT, wall time from the CMOS RTC; aarch64: the generic timer, wall
//! time from the PL031). Sleeps end at the first timer tick after their
//! deadline (ticks are 10 ms apart). `futex` is here too: its waits are
//! sleeps with an optional deadline.

use tessera_abi::TimeSpec;
use tessera_abi::error::{EINTR, EINVAL, ENOSYS, Error, Result};
use tessera_abi::flag::{CLOCK_MONOTONIC, CLOCK_REALTIME, FUTEX_REQUEUE, FUTEX_WAIT, FUTEX_WAIT64, FUTEX_WAKE};

use super::with_space;
use crate::usercopy::UserSlice;
use crate::{arch, futex, process, sched};

const NANOS_PER_SEC: u64 = 1_000_000_000;
const TIMESPEC_BYTES: usize = core::mem::size_of::<TimeSpec>();

fn to_timespec(ns: u64) -> TimeSpec {
    TimeSpec { tv_sec: (ns / NANOS_PER_SEC) as i64, tv_nsec: (ns % NANOS_PER_SEC) as i32 }
}

fn write_timespec(ptr: usize, ns: u64) -> Result<()> {
    let out = UserSlice::new(ptr, TIMESPEC_BYTES)?;
    with_space(|space| out.write(space, &to_timespec(ns)))
}

pub fn clock_gettime(clock: usize, out: usize) -> Result<usize> {
    let ns = match clock {
        CLOCK_MONOTONIC => arch::time::monotonic_ns(),
        CLOCK_REALTIME => arch::time::realtime_ns(),
        _ => return Err(Error::new(EINVAL)),
    };
    write_timespec(out, ns).map(|()| 0)
}

/// The relative `TimeSpec` at `ptr`, in ns; EINVAL if negative or
/// unnormalised.
fn read_duration(ptr: usize) -> Result<u64> {
    let time: TimeSpec = with_space(|space| UserSlice::new(ptr, TIMESPEC_BYTES)?.read_value(space))?;
    let (sec, nsec) = (time.tv_sec, time.tv_nsec);
    if sec < 0 || !(0..NANOS_PER_SEC as i32).contains(&nsec) {
        return Err(Error::new(EINVAL));
    }
    Ok((sec as u64).saturating_mul(NANOS_PER_SEC).saturating_add(nsec as u64))
}

pub fn nanosleep(request: usize, remaining: usize) -> Result<usize> {
    let duration = read_duration(request)?;
    let deadline = arch::time::monotonic_ns().saturating_add(duration);
    while arch::time::monotonic_ns() < deadline {
        sched::sleep_until(deadline);
        if process::kill_pending() {
            return Err(Error::new(EINTR));
        }
    }
    if remaining != 0 {
        write_timespec(remaining, 0)?;
    }
    Ok(0)
}

/// `futex(addr, op, value, timeout_ptr)`: FUTEX_WAIT sleeps while the `u32`
/// at `addr` equals `value`, for at most the relative `TimeSpec` at
/// `timeout_ptr` (0: no limit); FUTEX_WAKE wakes up to `value` waiters and
/// returns how many. Redox's REQUEUE and WAIT64 are not implemented
/// (ENOSYS); unknown operations are EINVAL.
pub fn futex(addr: usize, op: usize, value: usize, timeout_ptr: usize) -> Result<usize> {
    match op {
        FUTEX_WAIT => {
            let expected = u32::try_from(value).map_err(|_| Error::new(EINVAL))?;
            let deadline = if timeout_ptr == 0 {
                None
            } else {
                let duration = read_duration(timeout_ptr)?;
                Some(arch::time::monotonic_ns().saturating_add(duration))
            };
            futex::wait(addr, expected, deadline)
        }
        FUTEX_WAKE => {
            // EINVAL / EFAULT for a word a waiter could never have used.
            if !addr.is_multiple_of(4) {
                return Err(Error::new(EINVAL));
            }
            UserSlice::new(addr, 4)?;
            Ok(futex::wake(process::current().pid, addr, value))
        }
        FUTEX_REQUEUE | FUTEX_WAIT64 => Err(Error::new(ENOSYS)),
        _ => Err(Error::new(EINVAL)),
    }
}
