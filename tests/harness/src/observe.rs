//! The facts a run collects from the guest's output, line by line.
//!
//! [`Observations`] is fed every cleaned line with its time since QEMU was
//! spawned; the verdict ([`crate::verdict`]) and the timing report
//! ([`crate::report`]) read only these facts, never the raw log, so both
//! can be tested without running anything.

use crate::classify::{self, LineKind};

/// A line with the milliseconds since the command was spawned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimedLine {
    /// Milliseconds from spawn to the moment the harness read the line.
    pub at_ms: u64,
    /// The line after [`classify::clean`].
    pub text: String,
}

/// What the guest has shown so far. Every marker records its first
/// appearance only: a second `kernel: entered` (say, after a reset) does not
/// move the timings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observations {
    /// First `tessera-loader: starting`.
    pub loader_ms: Option<u64>,
    /// First `kernel: entered`.
    pub kernel_entered_ms: Option<u64>,
    /// First `kernel: boot ok`.
    pub boot_ok_ms: Option<u64>,
    /// The first line classified as a failure.
    pub first_failure: Option<TimedLine>,
    /// The first line containing `KERNEL FAULT` (also a failure line, but
    /// not necessarily the first one).
    pub fault_report: Option<TimedLine>,
}

impl Observations {
    /// Records one cleaned line and returns what it was.
    pub fn record(&mut self, at_ms: u64, text: &str) -> LineKind {
        let kind = classify::classify(text);
        let line = || TimedLine { at_ms, text: text.to_owned() };
        match kind {
            LineKind::LoaderStarting => {
                self.loader_ms.get_or_insert(at_ms);
            }
            LineKind::KernelEntered => {
                self.kernel_entered_ms.get_or_insert(at_ms);
            }
            LineKind::BootOk => {
                self.boot_ok_ms.get_or_insert(at_ms);
            }
            LineKind::Failure => {
                if self.first_failure.is_none() {
                    self.first_failure = Some(line());
                }
                if self.fault_report.is_none() && text.contains(classify::KERNEL_FAULT) {
                    self.fault_report = Some(line());
                }
            }
            LineKind::Other => {}
        }
        kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_first_appearances() {
        let mut seen = Observations::default();
        seen.record(10, "tessera-loader: starting");
        seen.record(20, "kernel: entered");
        seen.record(25, "kernel: entered");
        seen.record(30, "kernel: boot ok");
        assert_eq!(seen.loader_ms, Some(10));
        assert_eq!(seen.kernel_entered_ms, Some(20));
        assert_eq!(seen.boot_ok_ms, Some(30));
        assert_eq!(seen.first_failure, None);
    }

    #[test]
    fn tracks_first_failure_and_fault_report_separately() {
        let mut seen = Observations::default();
        assert_eq!(seen.record(5, "panicked at x.rs:1:1"), LineKind::Failure);
        seen.record(6, "KERNEL FAULT: #PF");
        seen.record(7, "KERNEL FAULT: again");
        assert_eq!(seen.first_failure.as_ref().unwrap().text, "panicked at x.rs:1:1");
        let fault = seen.fault_report.unwrap();
        assert_eq!((fault.at_ms, fault.text.as_str()), (6, "KERNEL FAULT: #PF"));
    }
}
