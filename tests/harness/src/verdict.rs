//! Pass or fail, from what was observed and how the run ended.
//!
//! A **normal** test passes iff the guest printed `kernel: boot ok`, printed
//! no failure line, and QEMU exited by itself with [`PASS_STATUS`].
//!
//! An **expect-fail** test (the deliberate-fault image) proves two things at
//! once: the kernel prints a `KERNEL FAULT` report, and the harness counts
//! that report as a failure. It passes iff a `KERNEL FAULT` line was seen,
//! the normal verdict fails *because of* that line (it is the first failure
//! line), and the run did not time out.

use std::fmt;
use std::time::Duration;

use crate::classify;
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
    /// Expect-fail: no `KERNEL FAULT` line was printed; holds the normal
    /// verdict's reason, if the run failed for another reason (`None`: the
    /// boot passed).
    NoFaultReport(Option<Box<Reason>>),
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
            Reason::NoFaultReport(normal) => {
                write!(f, "no \"{}\" report was printed", classify::KERNEL_FAULT)?;
                match normal {
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

/// The verdict for a normal boot test. Reasons are checked in order of how
/// much they explain: a timeout or interruption first, then a failure line,
/// then a wrong exit status (QEMU could not start, the kernel reported 35),
/// and a missing marker last.
pub fn judge_normal(seen: &Observations, ending: Ending, timeout: Duration) -> Verdict {
    let reason = match (ending, &seen.first_failure) {
        (Ending::TimedOut, _) => Some(Reason::Timeout(timeout)),
        (Ending::Interrupted, _) => Some(Reason::Interrupted),
        (_, Some(line)) => Some(Reason::FailureLine(line.text.clone())),
        // The harness stops a run early only after a failure line; should it
        // ever do so without one, that is still no pass.
        (Ending::StoppedAfterFailure, None) => Some(Reason::MarkerMissing),
        (Ending::Signalled(signal), None) => Some(Reason::Signal(signal)),
        (Ending::Exited(status), None) if status != PASS_STATUS => Some(Reason::ExitStatus(status)),
        (Ending::Exited(_), None) if seen.boot_ok_ms.is_none() => Some(Reason::MarkerMissing),
        (Ending::Exited(_), None) => None,
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
        return Verdict::Fail(Reason::NoFaultReport(normal));
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

    fn seen(lines: &[&str]) -> Observations {
        let mut seen = Observations::default();
        for (i, line) in lines.iter().enumerate() {
            seen.record(i as u64 * 100, line);
        }
        seen
    }

    const GOOD: [&str; 3] = ["tessera-loader: starting", "kernel: entered", "kernel: boot ok"];

    #[test]
    fn normal_pass_needs_marker_no_failure_and_status_33() {
        assert_eq!(judge_normal(&seen(&GOOD), Ending::Exited(33), T), Verdict::Pass);
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
        assert_eq!(judge_expect_fail(&seen(&GOOD), Ending::Exited(33), T), Verdict::Fail(Reason::NoFaultReport(None)));
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
}
