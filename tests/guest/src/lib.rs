//! Helpers shared by the in-guest test programs: a check list that prints
//! each check's outcome and turns the lot into an exit status, and errno
//! names for the messages (the one errno table's).
//!
//! [`rng`] has seeded random numbers and a checksum, [`system`] process
//! and memory helpers (fork a closure, reap, pipe messages, free frames),
//! [`mm`] what the memory tests share (check groups in children, the
//! free-frame baseline, page patterns, mapping wrappers, `sys:maps` checks,
//! accesses that must fault).
//!
//! A test program exits with 0 when it passed; anything else (or a signal)
//! is a failure the `testrunner` reports with the status.
#![no_std]

extern crate alloc;

pub mod mm;
pub mod ramfs;
pub mod rng;
pub mod system;

use core::fmt;

use tessera_runtime::{Result, println};

/// The symbolic name of an errno (`E?` for a value without one), from
/// the one errno table (tessera-sys's).
pub use tessera_runtime::errno::name as errno_name;

/// A result as a test message shows it: `Ok(5)` or `Err(EBADF = 9)`.
pub struct Shown(pub Result<usize>);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Ok(value) => write!(f, "Ok({value})"),
            Err(e) => write!(f, "Err({} = {})", errno_name(e.errno), e.errno),
        }
    }
}

/// A test program's checks: each prints one line, prefixed with the
/// program's name; [`Checks::finish`] gives the exit status.
pub struct Checks {
    program: &'static str,
    failed: usize,
    total: usize,
}

impl Checks {
    pub fn new(program: &'static str) -> Self {
        Self { program, failed: 0, total: 0 }
    }

    /// Records `ok`, printing `what` and, on failure, `detail`.
    pub fn check(&mut self, what: &str, ok: bool, detail: fmt::Arguments<'_>) {
        self.total += 1;
        if ok {
            println!("{}: ok: {what}", self.program);
        } else {
            self.failed += 1;
            println!("{}: FAILED: {what}: {detail}", self.program);
        }
    }

    /// Checks that `got` is the error `errno`.
    pub fn expect_errno(&mut self, what: &str, got: Result<usize>, errno: i32) {
        let ok = matches!(got, Err(e) if e.errno == errno);
        self.check(what, ok, format_args!("expected Err({}), got {}", errno_name(errno), Shown(got)));
    }

    /// Prints the tally and returns the exit status: 0 when all passed.
    pub fn finish(self) -> i32 {
        println!("{}: {} of {} checks passed", self.program, self.total - self.failed, self.total);
        if self.failed == 0 { 0 } else { 1 }
    }
}
