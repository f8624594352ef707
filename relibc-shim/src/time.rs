//! Clocks, sleeping and calendar time. The kernel has CLOCK_REALTIME and
//! CLOCK_MONOTONIC (Redox's `TimeSpec`, nanoseconds as `i32`); calendar
//! conversions are UTC (no time zones exist), so `localtime` is `gmtime`.

use core::ffi::{c_char, c_int, c_long};
use core::ptr::null_mut;

use tessera_abi::TimeSpec;
use tessera_abi::error::{EINVAL, EOVERFLOW};
use tessera_abi::flag::CLOCK_MONOTONIC;
use tessera_sys::sys as calls;

use crate::sys::{self, ret_zero};

/// `struct timespec` as `<time.h>` lays it out.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy)]
pub struct timespec {
    pub tv_sec: i64,
    pub tv_nsec: c_long,
}

/// `struct timeval` as `<sys/time.h>` lays it out.
#[repr(C)]
pub struct Timeval {
    tv_sec: i64,
    tv_usec: c_long,
}

/// `struct tm` as `<time.h>` lays it out.
#[repr(C)]
pub struct Tm {
    tm_sec: c_int,
    tm_min: c_int,
    tm_hour: c_int,
    tm_mday: c_int,
    tm_mon: c_int,
    tm_year: c_int,
    tm_wday: c_int,
    tm_yday: c_int,
    tm_isdst: c_int,
    tm_gmtoff: c_long,
    tm_zone: *const c_char,
}

fn now(clock: usize) -> Result<timespec, c_int> {
    let ts = calls::clock_gettime(clock).map_err(sys::errno)?;
    Ok(timespec { tv_sec: ts.tv_sec, tv_nsec: ts.tv_nsec as c_long })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn clock_gettime(clock: c_int, out: *mut timespec) -> c_int {
    match now(clock as usize) {
        Ok(ts) => {
            // SAFETY: the caller passes a writable timespec.
            unsafe { out.write(ts) };
            0
        }
        Err(e) => sys::fail(e),
    }
}

/// Both clocks count in nanoseconds.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn clock_getres(clock: c_int, out: *mut timespec) -> c_int {
    if let Err(e) = now(clock as usize) {
        return sys::fail(e);
    }
    // SAFETY: the caller passes a writable timespec or NULL.
    if let Some(out) = unsafe { out.as_mut() } {
        *out = timespec { tv_sec: 0, tv_nsec: 1 };
    }
    0
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    // SAFETY: the caller passes a valid timespec.
    let req = unsafe { *req };
    if !(0..1_000_000_000).contains(&req.tv_nsec) || req.tv_sec < 0 {
        return sys::fail(EINVAL);
    }
    let kernel_req = TimeSpec { tv_sec: req.tv_sec, tv_nsec: req.tv_nsec as i32 };
    let mut kernel_rem = TimeSpec::default();
    let r = calls::nanosleep(&kernel_req, Some(&mut kernel_rem));
    if r.is_err()
        // SAFETY: the caller passes a writable timespec or NULL.
        && let Some(rem) = unsafe { rem.as_mut() }
    {
        *rem = timespec { tv_sec: kernel_rem.tv_sec, tv_nsec: kernel_rem.tv_nsec as c_long };
    }
    ret_zero(r)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn time(out: *mut i64) -> i64 {
    let t = match now(tessera_abi::flag::CLOCK_REALTIME) {
        Ok(ts) => ts.tv_sec,
        Err(e) => return sys::fail(e) as i64,
    };
    // SAFETY: the caller passes a writable time_t or NULL.
    if let Some(out) = unsafe { out.as_mut() } {
        *out = t;
    }
    t
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn gettimeofday(tv: *mut Timeval, _tz: *mut core::ffi::c_void) -> c_int {
    match now(tessera_abi::flag::CLOCK_REALTIME) {
        Ok(ts) => {
            // SAFETY: the caller passes a writable timeval or NULL.
            if let Some(tv) = unsafe { tv.as_mut() } {
                *tv = Timeval { tv_sec: ts.tv_sec, tv_usec: ts.tv_nsec / 1000 };
            }
            0
        }
        Err(e) => sys::fail(e),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn timespec_get(out: *mut timespec, base: c_int) -> c_int {
    const TIME_UTC: c_int = 1;
    if base != TIME_UTC {
        return 0;
    }
    match now(tessera_abi::flag::CLOCK_REALTIME) {
        Ok(ts) => {
            // SAFETY: the caller passes a writable timespec.
            unsafe { out.write(ts) };
            base
        }
        Err(_) => 0,
    }
}

/// No per-process CPU time is kept: `clock` is the monotonic time since
/// the first call, in microseconds (CLOCKS_PER_SEC), so differences
/// between two calls measure elapsed time.
#[unsafe(no_mangle)]
pub extern "C" fn clock() -> c_long {
    static START: core::sync::atomic::AtomicI64 = core::sync::atomic::AtomicI64::new(-1);
    let Ok(ts) = now(CLOCK_MONOTONIC) else { return -1 };
    let micros = ts.tv_sec * 1_000_000 + ts.tv_nsec / 1000;
    let _ = START.compare_exchange(
        -1,
        micros,
        core::sync::atomic::Ordering::Relaxed,
        core::sync::atomic::Ordering::Relaxed,
    );
    micros - START.load(core::sync::atomic::Ordering::Relaxed)
}

/// Returns a `double` to C: the float-ABI boundary tests/c checks.
#[unsafe(no_mangle)]
pub extern "C" fn difftime(end: i64, start: i64) -> f64 {
    end as f64 - start as f64
}

const SECS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01: (year, month 1-12, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmtime_r(t: *const i64, out: *mut Tm) -> *mut Tm {
    // SAFETY: the caller passes a valid time_t.
    let t = unsafe { *t };
    let (days, secs) = (t.div_euclid(SECS_PER_DAY), t.rem_euclid(SECS_PER_DAY));
    let (year, month, day) = civil_from_days(days);
    if year - 1900 > c_int::MAX as i64 || year - 1900 < c_int::MIN as i64 {
        sys::set_errno(EOVERFLOW);
        return null_mut();
    }
    let yday = days - days_from_civil(year, 1, 1);
    let tm = Tm {
        tm_sec: (secs % 60) as c_int,
        tm_min: (secs / 60 % 60) as c_int,
        tm_hour: (secs / 3600) as c_int,
        tm_mday: day as c_int,
        tm_mon: (month - 1) as c_int,
        tm_year: (year - 1900) as c_int,
        tm_wday: (days + 4).rem_euclid(7) as c_int,
        tm_yday: yday as c_int,
        tm_isdst: 0,
        tm_gmtoff: 0,
        tm_zone: c"UTC".as_ptr(),
    };
    // SAFETY: the caller passes a writable tm.
    unsafe { out.write(tm) };
    out
}

static mut TM_BUF: Tm = Tm {
    tm_sec: 0,
    tm_min: 0,
    tm_hour: 0,
    tm_mday: 0,
    tm_mon: 0,
    tm_year: 0,
    tm_wday: 0,
    tm_yday: 0,
    tm_isdst: 0,
    tm_gmtoff: 0,
    tm_zone: core::ptr::null(),
};

#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmtime(t: *const i64) -> *mut Tm {
    // SAFETY: the caller's contract; the static buffer is C's (not
    // thread-safe, as the standard says).
    unsafe { gmtime_r(t, &raw mut TM_BUF) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn localtime_r(t: *const i64, out: *mut Tm) -> *mut Tm {
    // SAFETY: the caller's contract.
    unsafe { gmtime_r(t, out) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn localtime(t: *const i64) -> *mut Tm {
    // SAFETY: the caller's contract.
    unsafe { gmtime(t) }
}

/// Normalises `tm` (fields may be out of range) and returns its time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn timegm(tm: *mut Tm) -> i64 {
    // SAFETY: the caller passes a valid tm.
    let t = unsafe { &mut *tm };
    let months = t.tm_year as i64 * 12 + t.tm_mon as i64;
    let (year, month) = (1900 + months.div_euclid(12), months.rem_euclid(12) + 1);
    let days = days_from_civil(year, month, 1) + t.tm_mday as i64 - 1;
    let secs = days * SECS_PER_DAY + t.tm_hour as i64 * 3600 + t.tm_min as i64 * 60 + t.tm_sec as i64;
    // SAFETY: writes the normalised fields back into the caller's tm.
    if unsafe { gmtime_r(&secs, tm) }.is_null() {
        return -1;
    }
    secs
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn mktime(tm: *mut Tm) -> i64 {
    // SAFETY: the caller's contract (local time is UTC).
    unsafe { timegm(tm) }
}
