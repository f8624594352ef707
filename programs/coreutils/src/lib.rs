//! What the core tools share: reporting errors and exit statuses
//! ([`Tool`]), file operations ([`files`]), option parsing ([`opts`]),
//! paths relative to the current directory ([`path`]), errno names
//! ([`errno`], tessera-sys's table), signal names ([`signal`]) and the parsers of the kernel's
//! `sys:` text ([`sysinfo`]); `sleep`'s number format ([`parse_seconds`])
//! and what `shutdown` / `reboot` share ([`power`]).
//!
//! Every tool is one binary (`src/bin/<tool>.rs`) on the `no_std`
//! runtime and follows the same conventions (docs/tools.md):
//!
//! - exit status 0 on success, 1 when an operation failed ([`EXIT_FAILURE`]),
//!   2 for a usage error: an unknown option, a missing or malformed
//!   operand ([`EXIT_USAGE`]);
//! - errors go to fd 2 as `TOOL: SUBJECT: ENAME (text)`, e.g.
//!   `cat: file:/nope: ENOENT (No such file or directory)`, and the tool
//!   carries on with its next operand;
//! - `--help` prints the usage line on fd 1 and exits with 0.
//!
//! The modules hold plain logic, so they build and unit-test on the host
//! (`cargo test -p coreutils --lib`).
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod files;
pub mod opts;
pub mod path;
pub mod signal;
pub mod sysinfo;

/// Errno names and messages: the one table, tessera-sys's.
pub use tessera_runtime::errno;

use core::fmt;

use tessera_runtime::{Args, Error, eprintln, println};

/// Everything worked.
pub const EXIT_SUCCESS: i32 = 0;
/// An operation failed (a missing file, a refused call); reported on fd 2.
pub const EXIT_FAILURE: i32 = 1;
/// The command line was wrong: an unknown option, a missing or malformed
/// operand. Reported on fd 2 with the usage line.
pub const EXIT_USAGE: i32 = 2;

/// One run of a tool: its name for messages, its usage line, and whether
/// anything failed so far.
pub struct Tool {
    name: &'static str,
    usage: &'static str,
    failed: bool,
}

impl Tool {
    /// `usage` is the synopsis after the name, e.g. `[-l] [PATH...]`.
    pub fn new(name: &'static str, usage: &'static str) -> Self {
        Self { name, usage, failed: false }
    }

    /// The tool's name, as messages start.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Reports `error` about `subject` (`TOOL: SUBJECT: ENAME (text)`) and
    /// remembers the failure.
    pub fn error(&mut self, subject: &str, error: Error) {
        eprintln!("{}: {subject}: {}", self.name, errno::Described(error));
        self.failed = true;
    }

    /// Reports a failure in words (`TOOL: message`) and remembers it.
    pub fn fail(&mut self, message: fmt::Arguments<'_>) {
        eprintln!("{}: {message}", self.name);
        self.failed = true;
    }

    /// Reports a usage error (`TOOL: message` and the usage line) and
    /// returns [`EXIT_USAGE`] for `main` to return.
    pub fn usage_error(&self, message: fmt::Arguments<'_>) -> i32 {
        eprintln!("{}: {message}", self.name);
        eprintln!("usage: {} {}", self.name, self.usage);
        EXIT_USAGE
    }

    /// Prints the usage line on fd 1 (for `--help`) and returns 0.
    pub fn help(&self) -> i32 {
        println!("usage: {} {}", self.name, self.usage);
        EXIT_SUCCESS
    }

    /// Parses `args` (after `argv[0]`) with the option letters `letters`;
    /// `Err(status)` when `main` should return at once (`--help`, or a
    /// usage error already reported).
    pub fn options<'a>(&self, args: &'a [&'a str], letters: &str) -> Result<opts::Parsed<'a>, i32> {
        match opts::parse(args, letters) {
            Ok(parsed) => Ok(parsed),
            Err(opts::OptError::Help) => Err(self.help()),
            Err(opts::OptError::Unknown(c)) => Err(self.usage_error(format_args!("unknown option -{c}"))),
        }
    }

    /// [`EXIT_FAILURE`] if anything was reported, else [`EXIT_SUCCESS`].
    pub fn status(&self) -> i32 {
        if self.failed { EXIT_FAILURE } else { EXIT_SUCCESS }
    }
}

/// The operands of a program's command line: `argv` without `argv[0]`.
pub fn operands(args: &Args) -> &'static [&'static str] {
    args.argv().get(1..).unwrap_or_default()
}

/// A number of seconds as `sleep` takes it, in nanoseconds: digits with an
/// optional `.` and fraction (`1`, `0.25`, `.5`, `2.`); digits past the
/// ninth decimal are dropped. `None` for anything else (a sign, a unit,
/// no digit at all) or a value too large.
pub fn parse_seconds(word: &str) -> Option<u64> {
    const NANOS_PER_SEC: u64 = 1_000_000_000;
    let (whole, fraction) = word.split_once('.').unwrap_or((word, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return None;
    }
    let seconds: u64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let mut nanos = 0u64;
    let mut scale = NANOS_PER_SEC / 10;
    for digit in fraction.bytes().take(9) {
        nanos += u64::from(digit - b'0') * scale;
        scale /= 10;
    }
    seconds.checked_mul(NANOS_PER_SEC)?.checked_add(nanos)
}

/// `shutdown` and `reboot`: writes `command` to init's `init:power` after
/// saying so; init, which is privileged, carries it out through the
/// kernel's `sys:power` (which refuses every unprivileged process, as the
/// tools are; docs/init.md). Returns the exit status: 0 if init took the
/// command (the machine is going down), 1 with the error otherwise
/// (`ENODEV` when no init serves `init:`, e.g. under a second init).
pub fn power(tool: &mut Tool, args: &Args, command: &str, doing: &str) -> i32 {
    use tessera_runtime::abi::O_CLOEXEC;
    use tessera_runtime::abi::flag::O_WRONLY;
    use tessera_runtime::{io, sys};

    const SOURCE: &str = "init:power";
    let parsed = match tool.options(operands(args), "") {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    if let Some(extra) = parsed.operands.first() {
        return tool.usage_error(format_args!("unexpected operand {extra}"));
    }
    let fd = match sys::open(SOURCE, O_WRONLY | O_CLOEXEC) {
        Ok(fd) => fd,
        Err(e) => {
            tool.error(SOURCE, e);
            return tool.status();
        }
    };
    println!("{}: {doing}", tool.name());
    if let Err(e) = io::write_all(fd, command.as_bytes()) {
        tool.error(SOURCE, e);
    }
    let _ = sys::close(fd);
    tool.status()
}

#[cfg(test)]
mod tests {
    use super::parse_seconds;

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("1"), Some(1_000_000_000));
        assert_eq!(parse_seconds("0.1"), Some(100_000_000));
        assert_eq!(parse_seconds(".5"), Some(500_000_000));
        assert_eq!(parse_seconds("2."), Some(2_000_000_000));
        assert_eq!(parse_seconds("0.0000000019"), Some(1));
        for bad in ["", ".", "-1", "1s", "1.2.3", "+1", "a"] {
            assert_eq!(parse_seconds(bad), None, "{bad}");
        }
    }
}
