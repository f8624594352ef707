//! `<math.h>`: the C faces of the `libm` crate (a port of musl's libm).
//!
//! Every function here takes or returns `double`/`float`, so it crosses the
//! C/Rust boundary with floating-point values in FP registers: this crate is
//! built only for hard-float targets (docs/relibc.md, float ABI), and
//! tests/c's `libm-table` checks results against glibc's on both arches.
//! `libm.a` stays empty: everything is in `libc.a`, as in musl.
//!
//! The functions that return a second result through a pointer (`frexp`,
//! `modf`, `remquo`, `lgamma_r`, `sincos`) write it only when the pointer
//! is not NULL (C requires it non-NULL; a NULL is not turned into a fault).
//! `errno` is never set (`math_errhandling` is `MATH_ERREXCEPT` only in
//! spirit: no exceptions are raised either); results of domain and range
//! errors are the IEEE ones (NaN, ±HUGE_VAL, 0).

use core::ffi::{c_int, c_long, c_longlong};

/// `double f(double)` and `float f(float)` entry points, each the `libm`
/// function of the same name.
macro_rules! unary {
    ($t:ty: $($name:ident),* $(,)?) => {$(
        #[unsafe(no_mangle)]
        pub extern "C" fn $name(x: $t) -> $t {
            libm::$name(x)
        }
    )*};
}

/// `double f(double, double)` and the `float` ones.
macro_rules! binary {
    ($t:ty: $($name:ident),* $(,)?) => {$(
        #[unsafe(no_mangle)]
        pub extern "C" fn $name(x: $t, y: $t) -> $t {
            libm::$name(x, y)
        }
    )*};
}

unary!(f64: acos, acosh, asin, asinh, atan, atanh, cbrt, ceil, cos, cosh, erf, erfc, exp, exp10, exp2, expm1, fabs,
    floor, j0, j1, lgamma, log, log10, log1p, log2, rint, round, roundeven, sin, sinh, sqrt, tan, tanh, tgamma,
    trunc, y0, y1);
unary!(f32: acosf, acoshf, asinf, asinhf, atanf, atanhf, cbrtf, ceilf, cosf, coshf, erff, erfcf, expf, exp10f,
    exp2f, expm1f, fabsf, floorf, j0f, j1f, lgammaf, logf, log10f, log1pf, log2f, rintf, roundf, roundevenf, sinf,
    sinhf, sqrtf, tanf, tanhf, tgammaf, truncf, y0f, y1f);
binary!(f64: atan2, copysign, fdim, fmax, fmin, fmod, hypot, nextafter, pow, remainder);
binary!(f32: atan2f, copysignf, fdimf, fmaxf, fminf, fmodf, hypotf, nextafterf, powf, remainderf);

/// `nearbyint`: `rint` without the inexact exception (none is raised here).
#[unsafe(no_mangle)]
pub extern "C" fn nearbyint(x: f64) -> f64 {
    libm::rint(x)
}

#[unsafe(no_mangle)]
pub extern "C" fn nearbyintf(x: f32) -> f32 {
    libm::rintf(x)
}

/// Entry points whose arguments go to the `libm` function of the same
/// name as they are.
macro_rules! forward {
    ($(fn $name:ident($($arg:ident: $t:ty),*) -> $ret:ty;)*) => {$(
        #[unsafe(no_mangle)]
        pub extern "C" fn $name($($arg: $t),*) -> $ret {
            libm::$name($($arg),*)
        }
    )*};
}

forward! {
    fn fma(x: f64, y: f64, z: f64) -> f64;
    fn fmaf(x: f32, y: f32, z: f32) -> f32;
    fn ldexp(x: f64, n: c_int) -> f64;
    fn ldexpf(x: f32, n: c_int) -> f32;
    fn scalbn(x: f64, n: c_int) -> f64;
    fn scalbnf(x: f32, n: c_int) -> f32;
    fn ilogb(x: f64) -> c_int;
    fn ilogbf(x: f32) -> c_int;
    fn jn(n: c_int, x: f64) -> f64;
    fn yn(n: c_int, x: f64) -> f64;
}

/// `scalbln`: the exponent clamped to `int` (beyond ±2^31 the result is
/// 0 or infinity either way).
#[unsafe(no_mangle)]
pub extern "C" fn scalbln(x: f64, n: c_long) -> f64 {
    libm::scalbn(x, n.clamp(c_int::MIN.into(), c_int::MAX.into()) as c_int)
}

/// Writes `value` through `out` unless it is NULL.
fn put<T>(out: *mut T, value: T) {
    // SAFETY: C's contract: `out` points at a writable T (or is NULL).
    if let Some(out) = unsafe { out.as_mut() } {
        *out = value;
    }
}

/// Entry points that return a second result through a pointer: `libm`
/// returns both as a pair, the first is the C result (`frexp`'s mantissa,
/// `modf`'s fractional part, `remquo`'s remainder, `lgamma_r`'s value).
macro_rules! second_through {
    ($(fn $name:ident($($arg:ident: $t:ty),*; $out:ident: *mut $o:ty) -> $ret:ty;)*) => {$(
        #[unsafe(no_mangle)]
        pub extern "C" fn $name($($arg: $t,)* $out: *mut $o) -> $ret {
            let (value, second) = libm::$name($($arg),*);
            put($out, second);
            value
        }
    )*};
}

second_through! {
    fn frexp(x: f64; exp: *mut c_int) -> f64;
    fn frexpf(x: f32; exp: *mut c_int) -> f32;
    fn modf(x: f64; ip: *mut f64) -> f64;
    fn modff(x: f32; ip: *mut f32) -> f32;
    fn remquo(x: f64, y: f64; quo: *mut c_int) -> f64;
    fn remquof(x: f32, y: f32; quo: *mut c_int) -> f32;
    fn lgamma_r(x: f64; sign: *mut c_int) -> f64;
}

#[unsafe(no_mangle)]
pub extern "C" fn sincos(x: f64, s: *mut f64, c: *mut f64) {
    let (sin, cos) = libm::sincos(x);
    put(s, sin);
    put(c, cos);
}

#[unsafe(no_mangle)]
pub extern "C" fn sincosf(x: f32, s: *mut f32, c: *mut f32) {
    let (sin, cos) = libm::sincosf(x);
    put(s, sin);
    put(c, cos);
}

/// The conversions to integers: rounded (`lround`: halfway away from zero;
/// `lrint`: to even), then converted. A value outside the integer type
/// has no defined result in C (glibc raises FE_INVALID); Rust's `as`
/// saturates and gives 0 for NaN.
macro_rules! to_integer {
    ($($name:ident($t:ty) -> $int:ty = $round:ident;)*) => {$(
        #[unsafe(no_mangle)]
        pub extern "C" fn $name(x: $t) -> $int {
            libm::$round(x) as $int
        }
    )*};
}

to_integer! {
    lround(f64) -> c_long = round;
    lroundf(f32) -> c_long = roundf;
    llround(f64) -> c_longlong = round;
    lrint(f64) -> c_long = rint;
    lrintf(f32) -> c_long = rintf;
    llrint(f64) -> c_longlong = rint;
}
