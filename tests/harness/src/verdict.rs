//! Pass or fail, from what was observed and how the run ended.
//!
//! A **normal** test passes iff the guest printed `kernel: boot ok`, printed
//! no failure line, QEMU exited by itself with [`PASS_STATUS`], and every
//! `--expect TEXT` appeared as a substring of some cleaned line (any line,
//! before or after `boot ok`). When it fails, the reason given is the first
//! of, in order of how much it explains:
//!
//! 1. a timeout, or the harness being interrupted;
//! 2. a failure line (the first one);
//! 3. QEMU killed by a signal, or an exit status other than [`PASS_STATUS`]
//!    (QEMU could not start, the kernel reported 35);
//! 4. `kernel: boot ok` missing;
//! 5. with `--guest-results` ([`crate::guest`]): the guest summary line
//!    missing (the suite did not finish), or failed guest tests (a guest
//!    summary that disagrees with the result lines seen comes even before
//!    3: the count itself cannot be trusted);
//! 6. an `--expect` text missing (the first, in the order given): the boot
//!    itself went through, but a line it should have printed, such as the
//!    banner's `cpus:` figure, did not.
//!
//! An **expect-fail** test proves two things at once: the guest prints a
//! given failure line, and the harness counts that line as a failure. The
//! line is the first failure line containing the expected text
//! ([`Observations::fault_text`]: `KERNEL FAULT` by default, the kernel's
//! exception report; `--expect-fail-line` chooses another, e.g. the
//! loader's `tessera-loader: error`). The test passes iff such a line was
//! seen, the normal verdict fails *because of* it (it is the first failure
//! line), and the run did not time out. Ending because the harness stopped
//! QEMU after the failure line is fine: a loader that failed halts forever.

use std::fmt;
use std::time::Duration;

use crate::classify;
use crate::guest::{GuestResults, Problem};
use crate::observe::Observations;

/// QEMU's exit status when the kernel reports success in test mode: x86_64
/// `isa-debug-exit` turns the value 0x10 into `(0x10 << 1) | 1`, and the
/// aarch64 kernel passes 33 to semihosting `SYS_EXIT` directly.
pub const PASS_STATUS: i32 = 33;

/// How the child process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// It exited by itself with this status.
    Exited(i32),
    /// A signal the harness did not send killed it.
    Signalled(i32),
    /// The harness stopped it shortly after the first failure line.
    StoppedAfterFailure,
    /// The timeout passed; the harness killed it.
    TimedOut,
    /// The harness itself was interrupted (Ctrl-C, SIGTERM) and killed it.
    Interrupted,
    /// The harness killed it with SIGKILL at once, as `--kill-after` asked,
    /// when that text appeared (a power cut: nothing is shut down).
    KilledAsAsked,
}

/// Why a test failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The run hit the timeout.
    Timeout(Duration),
    /// The harness was interrupted before the guest finished.
    Interrupted,
    /// The command could not be started (QEMU missing, say) or waited for.
    CouldNotRun(String),
    /// A failure line was printed (the first one is kept).
    FailureLine(String),
    /// QEMU exited with a status other than [`PASS_STATUS`].
    ExitStatus(i32),
    /// QEMU was killed by a signal the harness did not send.
    Signal(i32),
    /// QEMU exited with [`PASS_STATUS`] but `kernel: boot ok` never came.
    MarkerMissing,
    /// The boot passed otherwise, but no line contained this `--expect` text.
    ExpectedMissing(String),
    /// `--guest-results`: the guest's own results are not all good.
    Guest(Problem),
    /// Expect-fail: no failure line containing `text` was printed; `instead`
    /// holds the normal verdict's reason, if the run failed for another
    /// reason (`None`: the boot passed).
    NoFaultReport {
        /// The expected failure text (`KERNEL FAULT` by default).
        text: String,
        /// Why the normal verdict failed, if it did.
        instead: Option<Box<Reason>>,
    },
    /// Expect-fail: the normal verdict passed although a fault was printed.
    FaultNotRecognised,
    /// Expect-fail: the normal verdict failed, but for another reason.
    OtherFailure(Box<Reason>),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Timeout(limit) => write!(f, "timeout after {} s", seconds(*limit)),
            Reason::Interrupted => write!(f, "interrupted"),
            Reason::CouldNotRun(why) => write!(f, "could not run {why}"),
            Reason::FailureLine(line) => write!(f, "failure line \"{line}\""),
            Reason::ExitStatus(status) => write!(f, "exit status {status}"),
            Reason::Signal(signal) => write!(f, "killed by signal {signal}"),
            Reason::MarkerMissing => write!(f, "marker missing (\"{}\")", classify::BOOT_OK),
            Reason::ExpectedMissing(text) => write!(f, "expected line missing: \"{text}\""),
            Reason::Guest(problem) => write!(f, "{problem}"),
            Reason::NoFaultReport { text, instead } => {
                write!(f, "no \"{text}\" report was printed")?;
                match instead {
                    Some(why) => write!(f, " (instead: {why})"),
                    None => write!(f, " (the boot passed)"),
                }
            }
            Reason::FaultNotRecognised => {
                write!(f, "the fault report was not recognised as a failure")
            }
            Reason::OtherFailure(why) => {
                write!(f, "failed for another reason than the fault report: {why}")
            }
        }
    }
}

/// Formats a duration as whole seconds when it is whole (`90`), else with
/// the fraction (`0.5`).
pub fn seconds(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 { duration.as_secs().to_string() } else { format!("{}", duration.as_secs_f64()) }
}

/// The verdict of one test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The test passed.
    Pass,
    /// The test failed, with the first reason found.
    Fail(Reason),
}

/// The verdict for a normal boot test. Reasons are checked in the order the
/// module documentation gives: timeout or interruption, failure line, a
/// guest summary that disagrees with the guest's result lines, signal or
/// exit status, missing `boot ok`, the other guest problems, missing
/// `--expect` text.
pub fn judge_normal(seen: &Observations, ending: Ending, timeout: Duration) -> Verdict {
    let guest = seen.guest.as_ref().and_then(GuestResults::check);
    let mismatch = guest.as_ref().filter(|p| matches!(p, Problem::Mismatch { .. }));
    let reason = match (ending, &seen.first_failure) {
        (Ending::TimedOut, _) => Some(Reason::Timeout(timeout)),
        (Ending::Interrupted, _) => Some(Reason::Interrupted),
        (_, Some(line)) => Some(Reason::FailureLine(line.text.clone())),
        // The harness stops a run early only after a failure line; should it
        // ever do so without one, that is still no pass.
        (Ending::StoppedAfterFailure, None) => Some(Reason::MarkerMissing),
        (_, None) if mismatch.is_some() => mismatch.cloned().map(Reason::Guest),
        (Ending::Signalled(signal), None) => Some(Reason::Signal(signal)),
        (Ending::Exited(status), None) if status != seen.pass_status => Some(Reason::ExitStatus(status)),
        (Ending::Exited(_) | Ending::KilledAsAsked, None) if seen.boot_ok_ms.is_none() => Some(Reason::MarkerMissing),
        (Ending::Exited(_) | Ending::KilledAsAsked, None) => guest
            .map(Reason::Guest)
            .or_else(|| seen.first_missing().map(|text| Reason::ExpectedMissing(text.to_owned()))),
    };
    reason.map_or(Verdict::Pass, Verdict::Fail)
}

/// The verdict for an expect-fail test (see the module documentation).
pub fn judge_expect_fail(seen: &Observations, ending: Ending, timeout: Duration) -> Verdict {
    match ending {
        Ending::TimedOut => return Verdict::Fail(Reason::Timeout(timeout)),
        Ending::Interrupted => return Verdict::Fail(Reason::Interrupted),
        _ => {}
    }
    let Some(fault) = &seen.fault_report else {
        let normal = match judge_normal(seen, ending, timeout) {
            Verdict::Pass => None,
            Verdict::Fail(why) => Some(Box::new(why)),
        };
        return Verdict::Fail(Reason::NoFaultReport { text: seen.fault_text.clone(), instead: normal });
    };
    match judge_normal(seen, ending, timeout) {
        Verdict::Fail(Reason::FailureLine(line)) if line == fault.text => Verdict::Pass,
        Verdict::Fail(other) => Verdict::Fail(Reason::OtherFailure(Box::new(other))),
        Verdict::Pass => Verdict::Fail(Reason::FaultNotRecognised),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(90);

    /// Observations of `lines` (100 ms apart) looking for each of `expect`
    /// and for a failure line containing `fault_text`.
    fn seen_with(lines: &[&str], expect: &[&str], fault_text: &str) -> Observations {
        let expect: Vec<String> = expect.iter().map(|t| (*t).to_owned()).collect();
        let mut seen = Observations::new(&expect, fault_text);
        for (i, line) in lines.iter().enumerate() {
            seen.record(i as u64 * 100, line);
        }
        seen
    }

    fn seen(lines: &[&str]) -> Observations {
        seen_with(lines, &[], classify::KERNEL_FAULT)
    }

    fn seen_expecting(lines: &[&str], expect: &[&str]) -> Observations {
        seen_with(lines, expect, classify::KERNEL_FAULT)
    }

    fn seen_failing_with(lines: &[&str], fault_text: &str) -> Observations {
        seen_with(lines, &[], fault_text)
    }

    const GOOD: [&str; 3] = ["tessera-loader: starting", "kernel: entered", "kernel: boot ok"];

    #[test]
    fn normal_pass_needs_marker_no_failure_and_status_33() {
        assert_eq!(judge_normal(&seen(&GOOD), Ending::Exited(33), T), Verdict::Pass);
    }

    #[test]
    fn another_pass_status_replaces_33() {
        let mut powered_off = seen(&GOOD);
        powered_off.pass_status = 0;
        assert_eq!(judge_normal(&powered_off, Ending::Exited(0), T), Verdict::Pass);
        assert_eq!(judge_normal(&powered_off, Ending::Exited(33), T), Verdict::Fail(Reason::ExitStatus(33)));
    }

    #[test]
    fn normal_fails_on_wrong_status_or_missing_marker() {
        assert_eq!(judge_normal(&seen(&GOOD), Ending::Exited(35), T), Verdict::Fail(Reason::ExitStatus(35)));
        assert_eq!(judge_normal(&seen(&GOOD[..2]), Ending::Exited(33), T), Verdict::Fail(Reason::MarkerMissing));
        // QEMU could not start at all: the status explains more than the marker.
        assert_eq!(judge_normal(&seen(&[]), Ending::Exited(1), T), Verdict::Fail(Reason::ExitStatus(1)));
        assert_eq!(judge_normal(&seen(&GOOD), Ending::Signalled(9), T), Verdict::Fail(Reason::Signal(9)));
    }

    #[test]
    fn normal_fails_on_failure_line_even_with_status_33() {
        let lines = ["kernel: entered", "panicked at a.rs:1:1", "kernel: boot ok"];
        assert_eq!(
            judge_normal(&seen(&lines), Ending::Exited(33), T),
            Verdict::Fail(Reason::FailureLine("panicked at a.rs:1:1".into()))
        );
    }

    #[test]
    fn timeout_is_reported_first() {
        let verdict = judge_normal(&seen(&GOOD), Ending::TimedOut, T);
        assert_eq!(verdict, Verdict::Fail(Reason::Timeout(T)));
        let Verdict::Fail(reason) = verdict else { unreachable!() };
        assert_eq!(reason.to_string(), "timeout after 90 s");
    }

    #[test]
    fn expect_fail_passes_on_a_recognised_fault_that_ended() {
        let lines = ["kernel: entered", "KERNEL FAULT: #PF at 0x0", "rip=0x1"];
        for ending in [Ending::Exited(35), Ending::StoppedAfterFailure] {
            assert_eq!(judge_expect_fail(&seen(&lines), ending, T), Verdict::Pass);
        }
    }

    #[test]
    fn expect_fail_fails_without_fault_or_on_timeout() {
        assert_eq!(
            judge_expect_fail(&seen(&GOOD), Ending::Exited(33), T),
            Verdict::Fail(Reason::NoFaultReport { text: "KERNEL FAULT".into(), instead: None })
        );
        let panic = judge_expect_fail(&seen(&["KERNEL PANIC: oops"]), Ending::Exited(35), T);
        let Verdict::Fail(why) = panic else { panic!("{panic:?}") };
        assert_eq!(
            why.to_string(),
            "no \"KERNEL FAULT\" report was printed \
             (instead: failure line \"KERNEL PANIC: oops\")"
        );
        assert_eq!(
            judge_expect_fail(&seen(&["KERNEL FAULT: #UD"]), Ending::TimedOut, T),
            Verdict::Fail(Reason::Timeout(T))
        );
    }

    #[test]
    fn expect_fail_fails_when_another_failure_came_first() {
        let lines = ["panicked at k.rs:3:3", "KERNEL FAULT: #DF"];
        let verdict = judge_expect_fail(&seen(&lines), Ending::Exited(35), T);
        let Verdict::Fail(Reason::OtherFailure(why)) = verdict else { panic!("unexpected {verdict:?}") };
        assert_eq!(*why, Reason::FailureLine("panicked at k.rs:3:3".into()));
    }

    #[test]
    fn reasons_read_as_documented() {
        assert_eq!(Reason::FailureLine("KERNEL PANIC: x".into()).to_string(), "failure line \"KERNEL PANIC: x\"");
        assert_eq!(Reason::ExitStatus(35).to_string(), "exit status 35");
        assert_eq!(Reason::Timeout(Duration::from_millis(1500)).to_string(), "timeout after 1.5 s");
    }

    const BANNER: [&str; 5] = [
        "kernel: entered",
        "memory: 511 MiB total, 501 MiB free (25 areas); kernel 64 KiB at 0x1e257000",
        "cpus: 2 (ACPI MADT)",
        "kernel: boot ok",
        "initfs: 27 bytes at 0x1e37c000",
    ];

    #[test]
    fn expected_lines_pass_when_each_appears_somewhere() {
        let seen = seen_expecting(&BANNER, &["cpus: 2 (", "memory: "]);
        assert_eq!(judge_normal(&seen, Ending::Exited(33), T), Verdict::Pass);
        // No expectations: the protocol alone decides, as before.
        assert_eq!(judge_normal(&seen_expecting(&BANNER, &[]), Ending::Exited(33), T), Verdict::Pass);
    }

    #[test]
    fn a_missing_expected_line_fails_a_good_boot() {
        let seen = seen_expecting(&BANNER, &["memory: ", "cpus: 4 (", "never printed"]);
        let verdict = judge_normal(&seen, Ending::Exited(33), T);
        // The first missing text, in the order given, is the reason.
        assert_eq!(verdict, Verdict::Fail(Reason::ExpectedMissing("cpus: 4 (".into())));
        let Verdict::Fail(why) = verdict else { unreachable!() };
        assert_eq!(why.to_string(), "expected line missing: \"cpus: 4 (\"");
    }

    #[test]
    fn a_missing_expected_line_comes_after_the_other_reasons() {
        let expect = ["cpus: 8 ("];
        let without_boot_ok = seen_expecting(&BANNER[..3], &expect);
        assert_eq!(judge_normal(&without_boot_ok, Ending::Exited(33), T), Verdict::Fail(Reason::MarkerMissing));
        let banner = seen_expecting(&BANNER, &expect);
        assert_eq!(judge_normal(&banner, Ending::Exited(35), T), Verdict::Fail(Reason::ExitStatus(35)));
        assert_eq!(judge_normal(&banner, Ending::TimedOut, T), Verdict::Fail(Reason::Timeout(T)));
        let panicked = seen_expecting(&["cpus: 2 (x)", "KERNEL PANIC: oom", "kernel: boot ok"], &expect);
        assert_eq!(
            judge_normal(&panicked, Ending::Exited(33), T),
            Verdict::Fail(Reason::FailureLine("KERNEL PANIC: oom".into()))
        );
    }

    /// The loader-error image: the loader prints its error and halts
    /// forever, so the harness stops QEMU after the line.
    const LOADER_ERROR: [&str; 3] = [
        "BdsDxe: starting Boot0002",
        "tessera-loader: starting (arch x86_64)",
        "tessera-loader: error: \\kernel is not an ELF file",
    ];

    #[test]
    fn expect_fail_line_chooses_the_failure_to_wait_for() {
        let seen = seen_failing_with(&LOADER_ERROR, "tessera-loader: error");
        for ending in [Ending::StoppedAfterFailure, Ending::Exited(0)] {
            assert_eq!(judge_expect_fail(&seen, ending, T), Verdict::Pass, "{ending:?}");
        }
        // The default text still wants a kernel fault report.
        let verdict =
            judge_expect_fail(&seen_failing_with(&LOADER_ERROR, "KERNEL FAULT"), Ending::StoppedAfterFailure, T);
        let Verdict::Fail(why) = verdict else { panic!("{verdict:?}") };
        assert_eq!(
            why.to_string(),
            "no \"KERNEL FAULT\" report was printed \
             (instead: failure line \"tessera-loader: error: \\kernel is not an ELF file\")"
        );
    }

    #[test]
    fn expect_fail_line_can_fail() {
        let text = "tessera-loader: error";
        // The loader hung instead of reporting.
        let hung = seen_failing_with(&LOADER_ERROR[..2], text);
        assert_eq!(judge_expect_fail(&hung, Ending::TimedOut, T), Verdict::Fail(Reason::Timeout(T)));
        // It reported, but the run still timed out.
        let slow = seen_failing_with(&LOADER_ERROR, text);
        assert_eq!(judge_expect_fail(&slow, Ending::TimedOut, T), Verdict::Fail(Reason::Timeout(T)));
        // The bad kernel booted after all.
        assert_eq!(
            judge_expect_fail(&seen_failing_with(&GOOD, text), Ending::Exited(33), T),
            Verdict::Fail(Reason::NoFaultReport { text: text.into(), instead: None })
        );
        // Something else failed first: the loader error is not the first failure line.
        let crashed = seen_failing_with(&["panicked at loader.rs:1:1", LOADER_ERROR[2]], text);
        assert_eq!(
            judge_expect_fail(&crashed, Ending::StoppedAfterFailure, T),
            Verdict::Fail(Reason::OtherFailure(Box::new(Reason::FailureLine("panicked at loader.rs:1:1".into()))))
        );
    }

    /// Observations collecting guest results, of the good boot plus `lines`.
    fn seen_guest(lines: &[&str]) -> Observations {
        let mut seen = Observations::new(&[], classify::KERNEL_FAULT).collect_guest_results();
        for (i, line) in GOOD.iter().chain(lines).enumerate() {
            seen.record(i as u64 * 100, line);
        }
        seen
    }

    #[test]
    fn guest_results_pass_when_all_passed_and_the_summary_agrees() {
        let seen = seen_guest(&["hello: ok: argc >= 1", "ok hello", "ok syscall-errors", "2 passed, 0 failed"]);
        assert_eq!(judge_normal(&seen, Ending::Exited(33), T), Verdict::Pass);
    }

    #[test]
    fn guest_summary_disagreeing_fails_the_boot_test() {
        let seen = seen_guest(&["ok a", "ok b", "ok c", "ok d", "3 passed, 1 failed"]);
        for ending in [Ending::Exited(33), Ending::Exited(35)] {
            let verdict = judge_normal(&seen, ending, T);
            let Verdict::Fail(why) = verdict else { panic!("{verdict:?}") };
            assert_eq!(
                why.to_string(),
                "guest summary says 3 passed, 1 failed but 4 ok lines and 0 FAIL lines were seen",
                "{ending:?}"
            );
        }
        // A timeout or a failure line still explains more.
        assert_eq!(judge_normal(&seen, Ending::TimedOut, T), Verdict::Fail(Reason::Timeout(T)));
    }

    #[test]
    fn a_runner_crash_fails_the_boot_test() {
        let crashed = ["ok hello", "KERNEL PANIC: in the middle of the suite"];
        assert_eq!(
            judge_normal(&seen_guest(&crashed), Ending::Exited(35), T),
            Verdict::Fail(Reason::FailureLine("KERNEL PANIC: in the middle of the suite".into()))
        );
        // The suite stopped, yet the kernel reported success: still a failure.
        assert_eq!(
            judge_normal(&seen_guest(&["ok hello"]), Ending::Exited(33), T),
            Verdict::Fail(Reason::Guest(Problem::SummaryMissing))
        );
        assert_eq!(judge_normal(&seen_guest(&["ok hello"]), Ending::TimedOut, T), Verdict::Fail(Reason::Timeout(T)));
    }

    #[test]
    fn failed_guest_tests_fail_the_boot_test() {
        let seen = seen_guest(&["ok hello", "FAIL pipe-16m: exited with status 1", "1 passed, 1 failed"]);
        // As the kernel reports it: exit status 35.
        assert_eq!(judge_normal(&seen, Ending::Exited(35), T), Verdict::Fail(Reason::ExitStatus(35)));
        // Even if the kernel said 33.
        let verdict = judge_normal(&seen, Ending::Exited(33), T);
        assert_eq!(verdict, Verdict::Fail(Reason::Guest(Problem::Failed(vec!["pipe-16m".into()]))));
    }
}
