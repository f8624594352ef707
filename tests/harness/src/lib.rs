//! The host side of Tessera's boot tests.
//!
//! `boot-test` (see `src/main.rs`) starts QEMU on a test image, reads the
//! guest's serial output line by line, and judges it by the guest protocol:
//! progress markers (`tessera-loader: starting`, `kernel: entered`,
//! `kernel: boot ok`), failure lines (`KERNEL PANIC`, `KERNEL FAULT`,
//! `tessera-loader: error`, `panicked at`) and QEMU's exit status (33 means
//! pass in test mode, on both arches). A test may also require lines of its
//! own (`--expect TEXT`), and an expect-fail test names the failure line it
//! waits for (`--expect-fail-line TEXT`); see [`verdict`]. With
//! `--guest-results` it also counts the in-guest tests' own `ok NAME` /
//! `FAIL NAME: WHY` lines, one result each (see [`guest`]). `boot-test
//! summary` adds up a whole `make test` run.
//!
//! Modules, in the order data flows:
//!
//! ```text
//! process  (spawn, read lines, deadline, kill the process group)
//!    │  OutputLine { at_ms, stream, text }      classify (clean + line kind)
//!    ▼                                               │
//! observe  (first appearance of each marker, guest results) ◄──┘
//!    ▼
//! verdict  (normal / expect-fail)  ──►  report (log, timing line)
//!    ▼
//! boot_test (one test end to end)   summary (results + cargo log)
//! ```

pub mod boot_test;
pub mod classify;
pub mod cli;
pub mod guest;
pub mod observe;
pub mod process;
pub mod report;
pub mod signal;
pub mod summary;
pub mod verdict;

use std::fs;
use std::io::{self, Write};

use cli::{Invocation, SummaryOptions};
use verdict::Verdict;

/// Exit status for a failed test or summary.
pub const EXIT_FAIL: i32 = 1;
/// Exit status for a usage error or a failure of the harness itself.
pub const EXIT_ERROR: i32 = 2;

/// Runs `boot-test` with `args` (without the program name) and returns the
/// process exit status.
pub fn main_with_args(args: &[String]) -> i32 {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match cli::parse(args) {
        Ok(Invocation::Help) => {
            let _ = writeln!(out, "{}", cli::USAGE);
            0
        }
        Ok(Invocation::Test(opts)) => {
            signal::catch_stop_signals();
            let outcome = boot_test::run_test(&opts, &mut out);
            let _ = out.flush();
            signal::reraise_stop_signal();
            match outcome {
                Ok(Verdict::Pass) => 0,
                Ok(Verdict::Fail(_)) => EXIT_FAIL,
                Err(e) => {
                    let _ = writeln!(out, "FAIL {}: harness error: {e}", opts.name);
                    if let Some(results) = &opts.results {
                        let _ = boot_test::record_result(results, &opts.name, false);
                    }
                    EXIT_ERROR
                }
            }
        }
        Ok(Invocation::Summary(opts)) => match run_summary(&opts, &mut out) {
            Ok(true) => 0,
            Ok(false) => EXIT_FAIL,
            Err(e) => {
                let _ = writeln!(out, "summary: {e}");
                EXIT_ERROR
            }
        },
        Err(message) => {
            eprintln!("boot-test: {message}\n\n{}", cli::USAGE);
            EXIT_ERROR
        }
    }
}

/// Reads the summary's inputs, prints the summary, and says whether the
/// whole run succeeded. A missing results file means no step recorded
/// anything; a missing cargo log (when one was named) counts as a failure.
pub fn run_summary(opts: &SummaryOptions, out: &mut dyn Write) -> io::Result<bool> {
    let results = match fs::read_to_string(&opts.results) {
        Ok(text) => summary::parse_results(&text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => summary::Results::default(),
        Err(e) => {
            return Err(io::Error::new(e.kind(), format!("{}: {e}", opts.results.display())));
        }
    };
    let cargo = opts.cargo_log.as_ref().map(|path| match fs::read_to_string(path) {
        Ok(text) => summary::parse_cargo_log(&text, opts.cargo_exit),
        Err(e) => summary::Counts {
            passed: 0,
            failed: 1,
            failures: vec![format!("cargo test (log {}: {e})", path.display())],
        },
    });
    let (text, total) = summary::render(&results, cargo.as_ref());
    out.write_all(text.as_bytes())?;
    Ok(total.success())
}
