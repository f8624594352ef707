//! The text the harness writes: log lines, the timing line, the fault line,
//! the guest tests' line.

use crate::guest::{self, GuestResults};
use crate::observe::Observations;
use crate::process::{OutputLine, Stream};

/// One log line: `[   3012 ms] text`, with `(qemu)` marking QEMU's stderr.
pub fn log_line(line: &OutputLine) -> String {
    match line.stream {
        Stream::Stdout => format!("[{:>7} ms] {}", line.at_ms, line.text),
        Stream::Stderr => format!("[{:>7} ms] (qemu) {}", line.at_ms, line.text),
    }
}

/// The timing report of a normal boot test, one line:
///
/// `  boot-x86_64: loader at 3012 ms, kernel entered at 3150 ms, boot ok at
/// 3300 ms (QEMU start to boot ok 3300 ms; loader+kernel share 288 ms)`
///
/// All times count from QEMU's spawn; the "share" is boot ok minus the
/// loader's first line, i.e. the time that is ours and not the firmware's.
/// A marker that never came reads `not seen`. With `--prompt`, the line
/// ends with `; QEMU start to prompt N ms` (or `; prompt not seen`).
pub fn timing_line(name: &str, seen: &Observations) -> String {
    let at = |ms: Option<u64>| ms.map_or_else(|| "not seen".to_owned(), |ms| format!("at {ms} ms"));
    let mut line = format!(
        "  {name}: loader {}, kernel entered {}, boot ok {}",
        at(seen.loader_ms),
        at(seen.kernel_entered_ms),
        at(seen.boot_ok_ms)
    );
    if let Some(boot_ok) = seen.boot_ok_ms {
        line += &format!(" (QEMU start to boot ok {boot_ok} ms");
        if let Some(loader) = seen.loader_ms {
            line += &format!("; loader+kernel share {} ms", boot_ok.saturating_sub(loader));
        }
        line += ")";
    }
    if seen.prompt.is_some() {
        match seen.prompt_ms {
            Some(prompt) => line += &format!("; QEMU start to prompt {prompt} ms"),
            None => line += "; prompt not seen",
        }
    }
    line
}

/// For an expect-fail test: where the expected failure line (the kernel's
/// fault report, by default) came.
pub fn fault_line(name: &str, seen: &Observations) -> Option<String> {
    let fault = seen.fault_report.as_ref()?;
    Some(format!("  {name}: failure line at {} ms: {}", fault.at_ms, fault.text))
}

/// With `--guest-results`: the guest tests' count, one line.
///
/// `  boot-x86_64: guest tests 8 passed, 1 failed (failed: pipe-16m)`, or,
/// when the guest summary never came, the count of what did report and
/// that the rest is not counted.
pub fn guest_line(name: &str, results: &GuestResults) -> String {
    let mut line = format!("  {name}: guest tests {}", results.tally());
    let failed = results.failed_names();
    if !failed.is_empty() {
        line += &format!(" (failed: {})", failed.join(", "));
    }
    if results.summary.is_none() {
        line += &format!(
            "; no guest summary line: the run ended before the suite finished, tests that never reported \
             are not counted, and {} counts as failed",
            guest::result_name(name, guest::RUNNER)
        );
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_line_reads_as_specified() {
        let mut seen = Observations::default();
        seen.record(3012, "tessera-loader: starting");
        seen.record(3150, "kernel: entered");
        seen.record(3300, "kernel: boot ok");
        assert_eq!(
            timing_line("boot-x86_64", &seen),
            "  boot-x86_64: loader at 3012 ms, kernel entered at 3150 ms, boot ok at 3300 ms \
             (QEMU start to boot ok 3300 ms; loader+kernel share 288 ms)"
        );
    }

    #[test]
    fn timing_line_names_missing_markers() {
        let mut seen = Observations::default();
        seen.record(650, "tessera-loader: starting");
        assert_eq!(
            timing_line("boot-aarch64", &seen),
            "  boot-aarch64: loader at 650 ms, kernel entered not seen, boot ok not seen"
        );
    }

    #[test]
    fn log_lines_mark_qemu_stderr() {
        let line = OutputLine {
            at_ms: 42,
            stream: Stream::Stderr,
            text: "qemu-system-x86_64: terminating on signal 15".into(),
        };
        assert_eq!(log_line(&line), "[     42 ms] (qemu) qemu-system-x86_64: terminating on signal 15");
    }

    #[test]
    fn guest_line_counts_and_names_failures() {
        let mut results = GuestResults::default();
        for line in ["ok hello", "FAIL pipe-16m: exited with status 1", "1 passed, 1 failed"] {
            results.record(line);
        }
        assert_eq!(
            guest_line("boot-x86_64", &results),
            "  boot-x86_64: guest tests 1 passed, 1 failed (failed: pipe-16m)"
        );
        let mut crashed = GuestResults::default();
        crashed.record("ok hello");
        assert_eq!(
            guest_line("boot-x86_64", &crashed),
            "  boot-x86_64: guest tests 1 passed, 0 failed; no guest summary line: the run ended before the suite \
             finished, tests that never reported are not counted, and guest-x86_64:runner counts as failed"
        );
    }
}
