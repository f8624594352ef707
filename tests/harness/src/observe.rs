//! The facts a run collects from the guest's output, line by line.
//!
//! [`Observations`] is fed every cleaned line with its time since QEMU was
//! spawned; the verdict ([`crate::verdict`]) and the timing report
//! ([`crate::report`]) read only these facts, never the raw log, so both
//! can be tested without running anything.

use crate::classify::{self, LineKind};
use crate::guest::GuestResults;
use crate::process::Stream;

/// A line with the milliseconds since the command was spawned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimedLine {
    /// Milliseconds from spawn to the moment the harness read the line.
    pub at_ms: u64,
    /// The line after [`classify::clean`].
    pub text: String,
}

/// One `--expect` text and the first line that contained it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// The text, matched as a substring of each cleaned line.
    pub text: String,
    /// The first line containing it, if any came.
    pub first: Option<TimedLine>,
}

/// What the guest has shown so far. Every marker records its first
/// appearance only: a second `kernel: entered` (say, after a reset) does not
/// move the timings.
///
/// Two things are the test's to choose, so they are given when the
/// observations start ([`Observations::new`]): the `--expect` texts, and the
/// text of the failure line an expect-fail test waits for
/// ([`Observations::fault_text`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observations {
    /// First `tessera-loader: starting`.
    pub loader_ms: Option<u64>,
    /// First `kernel: entered`.
    pub kernel_entered_ms: Option<u64>,
    /// First `kernel: boot ok`.
    pub boot_ok_ms: Option<u64>,
    /// The first line classified as a failure.
    pub first_failure: Option<TimedLine>,
    /// What [`Self::fault_report`] looks for: `KERNEL FAULT` unless the test
    /// says otherwise (`--expect-fail-line`).
    pub fault_text: String,
    /// The first failure line containing [`Self::fault_text`] (not
    /// necessarily the first failure line).
    pub fault_report: Option<TimedLine>,
    /// The `--expect` texts, in the order given, each with its first line.
    /// Any line counts, whatever its kind.
    pub expected: Vec<Expected>,
    /// The in-guest tests' results, if the test collects them
    /// (`--guest-results`; see [`Self::collect_guest_results`]). Only
    /// serial lines count, never QEMU's stderr.
    pub guest: Option<GuestResults>,
    /// The exit status QEMU must end with for a pass (`--pass-status`).
    pub pass_status: i32,
    /// The prompt text the test watches for (`--prompt`; see
    /// [`Self::watch_for_prompt`]).
    pub prompt: Option<String>,
    /// When the prompt first showed on the serial console, in a whole line
    /// or an unfinished one.
    pub prompt_ms: Option<u64>,
    /// `--kill-after`: the text whose line ends the run with SIGKILL.
    pub kill_after: Option<String>,
}

impl Default for Observations {
    /// No `--expect` texts; the fault report is a `KERNEL FAULT` line.
    fn default() -> Self {
        Observations::new(&[], classify::KERNEL_FAULT)
    }
}

impl Observations {
    /// Empty observations that will look for each of `expect` and for a
    /// failure line containing `fault_text`.
    pub fn new(expect: &[String], fault_text: &str) -> Self {
        Observations {
            loader_ms: None,
            kernel_entered_ms: None,
            boot_ok_ms: None,
            first_failure: None,
            fault_text: fault_text.to_owned(),
            fault_report: None,
            expected: expect.iter().map(|text| Expected { text: text.clone(), first: None }).collect(),
            guest: None,
            pass_status: crate::verdict::PASS_STATUS,
            prompt: None,
            prompt_ms: None,
            kill_after: None,
        }
    }

    /// The same observations, also asking for the run to be killed (SIGKILL,
    /// no shutdown) as soon as a line contains `text` ([`Self::wants_kill`]).
    pub fn kill_after(mut self, text: &str) -> Self {
        self.kill_after = Some(text.to_owned());
        self
    }

    /// Whether `text`, a whole line just recorded, is the `--kill-after`
    /// line (never after a failure line: that run is judged as it is).
    pub fn wants_kill(&self, text: &str) -> bool {
        self.first_failure.is_none() && self.kill_after.as_deref().is_some_and(|k| text.contains(k))
    }

    /// The same observations, also noting when `prompt` first appears.
    pub fn watch_for_prompt(mut self, prompt: &str) -> Self {
        self.prompt = Some(prompt.to_owned());
        self
    }

    /// Records an unfinished line (raw text so far) from `stream`: only
    /// the prompt is looked for there; everything else waits for the whole
    /// line.
    pub fn record_partial(&mut self, stream: Stream, at_ms: u64, text: &str) {
        self.note_prompt(stream, at_ms, text);
    }

    fn note_prompt(&mut self, stream: Stream, at_ms: u64, text: &str) {
        if stream == Stream::Stdout
            && self.prompt_ms.is_none()
            && self.prompt.as_deref().is_some_and(|prompt| text.contains(prompt))
        {
            self.prompt_ms = Some(at_ms);
        }
    }

    /// The same observations, also collecting the guest's test results.
    pub fn collect_guest_results(mut self) -> Self {
        self.guest = Some(GuestResults::default());
        self
    }

    /// The first `--expect` text no line contained, if any.
    pub fn first_missing(&self) -> Option<&str> {
        self.expected.iter().find(|e| e.first.is_none()).map(|e| e.text.as_str())
    }

    /// Records one cleaned line of the guest's serial console and returns
    /// what it was.
    pub fn record(&mut self, at_ms: u64, text: &str) -> LineKind {
        self.record_from(Stream::Stdout, at_ms, text)
    }

    /// Records one cleaned line from `stream`: markers, failure lines and
    /// `--expect` texts count on either stream, guest results only on the
    /// serial console (stdout).
    pub fn record_from(&mut self, stream: Stream, at_ms: u64, text: &str) -> LineKind {
        if stream == Stream::Stdout
            && let Some(guest) = &mut self.guest
        {
            guest.record(text);
        }
        self.note_prompt(stream, at_ms, text);
        let kind = classify::classify(text);
        let line = || TimedLine { at_ms, text: text.to_owned() };
        for expected in self.expected.iter_mut().filter(|e| e.first.is_none()) {
            if text.contains(expected.text.as_str()) {
                expected.first = Some(line());
            }
        }
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
                if self.fault_report.is_none() && text.contains(self.fault_text.as_str()) {
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

    #[test]
    fn records_expected_texts_in_any_line() {
        let expect = ["cpus: 2 (".to_owned(), "memory: ".to_owned(), "never".to_owned()];
        let mut seen = Observations::new(&expect, classify::KERNEL_FAULT);
        seen.record(1, "memory: 511 MiB total, 501 MiB free (25 areas)");
        seen.record(2, "cpus: 2 (ACPI MADT)");
        seen.record(3, "cpus: 2 (again)");
        assert_eq!(seen.expected[0].first, Some(TimedLine { at_ms: 2, text: "cpus: 2 (ACPI MADT)".into() }));
        assert_eq!(seen.expected[1].first.as_ref().map(|l| l.at_ms), Some(1));
        assert_eq!(seen.first_missing(), Some("never"));
        seen.record(4, "KERNEL PANIC: never again");
        assert_eq!(seen.first_missing(), None, "a failure line counts too");
    }

    #[test]
    fn fault_report_follows_the_chosen_text() {
        let mut seen = Observations::new(&[], "tessera-loader: error");
        seen.record(1, "tessera-loader: starting (arch x86_64)");
        seen.record(2, "KERNEL FAULT: not this one");
        seen.record(3, "tessera-loader: error: \\kernel is not an ELF file");
        assert_eq!(seen.first_failure.as_ref().map(|l| l.at_ms), Some(2));
        assert_eq!(seen.fault_report.map(|l| l.at_ms), Some(3));
    }

    #[test]
    fn the_prompt_counts_in_unfinished_lines() {
        let mut seen = Observations::default();
        seen.record_partial(Stream::Stdout, 5, "tessera:/$ ");
        assert_eq!(seen.prompt_ms, None, "not watched unless asked for");

        let mut seen = Observations::default().watch_for_prompt("tessera:/$ ");
        seen.record_partial(Stream::Stderr, 4, "tessera:/$ ");
        seen.record(6, "kernel: boot ok");
        seen.record_partial(Stream::Stdout, 7, "tessera:/$ ");
        seen.record(9, "tessera:/$ ls");
        assert_eq!(seen.prompt_ms, Some(7));
        assert_eq!(seen.boot_ok_ms, Some(6));
    }

    #[test]
    fn guest_results_come_from_the_serial_console_only() {
        let mut seen = Observations::default();
        seen.record(1, "ok hello");
        assert_eq!(seen.guest, None, "not collected unless asked for");

        let mut seen = Observations::default().collect_guest_results();
        seen.record(1, "ok hello");
        seen.record_from(Stream::Stderr, 2, "ok qemu-said-so");
        seen.record(3, "FAIL pipe-16m: exited with status 1");
        seen.record(4, "1 passed, 1 failed");
        let guest = seen.guest.unwrap();
        let names: Vec<_> = guest.results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["hello", "pipe-16m"]);
        assert_eq!(guest.summary.map(|s| (s.passed, s.failed)), Some((1, 1)));
    }
}
