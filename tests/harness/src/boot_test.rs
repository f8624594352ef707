//! One boot test from start to verdict: run QEMU, log, judge, report.
//!
//! Output on the harness's stdout, by default:
//!
//! ```text
//! ok boot-x86_64
//!   boot-x86_64: loader at 3012 ms, kernel entered at 3150 ms, boot ok at 3300 ms (...)
//! ```
//!
//! or `FAIL <name>: <why>` followed by the last [`TAIL_LINES`] log lines.
//! With `guest_results`, a line with the guest tests' count follows the
//! timing line (`  boot-x86_64: guest tests 9 passed, 0 failed`), and the
//! results file gets one line per guest test before the boot test's own
//! (see [`crate::guest`]). With `verbose`, every line is echoed live as
//! `<name> | <log line>`, so even the guest's `N passed, N failed` never
//! stands alone on a line of the harness's output.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, LineWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::classify;
use crate::observe::Observations;
use crate::process::{self, Limits};
use crate::report;
use crate::verdict::{self, Ending, Reason, Verdict};

/// How many log lines a failure shows.
pub const TAIL_LINES: usize = 40;

/// Everything one boot test needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestOptions {
    /// The test's name, e.g. `boot-x86_64`.
    pub name: String,
    /// Time limits; `limits.timeout` is `--timeout`.
    pub limits: Limits,
    /// Where the timestamped log goes (`--log`); none: no log file.
    pub log: Option<PathBuf>,
    /// Judge as an expect-fail test (`--expect-fail`).
    pub expect_fail: bool,
    /// Texts that must each appear in some line (`--expect`, normal tests).
    pub expect: Vec<String>,
    /// What the first failure line of an expect-fail test must contain
    /// (`--expect-fail-line`; `KERNEL FAULT` by default).
    pub expect_fail_line: String,
    /// A results file to append `pass <name>` / `fail <name>` to.
    pub results: Option<PathBuf>,
    /// Echo every line as it comes (`--verbose`).
    pub verbose: bool,
    /// Count the in-guest tests too (`--guest-results`, normal tests).
    pub guest_results: bool,
    /// Files whose bytes are typed into QEMU's stdin (the guest's serial
    /// input), each once its trigger text appears (`--stdin` and
    /// `--stdin-after` pairs, in order).
    pub stdin: Vec<InputStage>,
    /// Text whose first appearance, even in an unfinished line, the timing
    /// line reports (`--prompt`).
    pub prompt: Option<String>,
    /// The QEMU exit status of a pass (`--pass-status`): 33, what a test
    /// image's kernel gives, unless the run ends another way (0: a normal
    /// image powered off).
    pub pass_status: i32,
    /// `--kill-after TEXT`: SIGKILL QEMU as soon as a serial line contains
    /// TEXT (a power cut) and judge the run as it stands; the text is
    /// also an `--expect`.
    pub kill_after: Option<String>,
    /// The QEMU command line (program first).
    pub command: Vec<String>,
}

impl TestOptions {
    /// Options with default limits and no files, for `command`.
    pub fn new(name: &str, command: Vec<String>) -> Self {
        TestOptions {
            name: name.to_owned(),
            limits: Limits::default(),
            log: None,
            expect_fail: false,
            expect: Vec::new(),
            expect_fail_line: classify::KERNEL_FAULT.to_owned(),
            results: None,
            verbose: false,
            guest_results: false,
            stdin: Vec::new(),
            prompt: None,
            pass_status: verdict::PASS_STATUS,
            kill_after: None,
            command,
        }
    }
}

/// One stage of typed input (`--stdin FILE --stdin-after TEXT`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputStage {
    /// The file whose bytes are typed.
    pub path: PathBuf,
    /// The text that must appear first.
    pub after: String,
}

/// Runs one test, writes its report to `out`, appends to the results file,
/// and returns the verdict. An `Err` means the harness itself failed (the
/// log or results file could not be written, the `--stdin` file could not
/// be read), not the test.
pub fn run_test(opts: &TestOptions, out: &mut dyn Write) -> io::Result<Verdict> {
    let mut input = Vec::new();
    for stage in &opts.stdin {
        let path = &stage.path;
        input.push(process::Input {
            bytes: fs::read(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?,
            after: stage.after.clone(),
        });
    }
    let mut log = match &opts.log {
        Some(path) => Some(LineWriter::new(create_with_dirs(path)?)),
        None => None,
    };
    if let Some(log) = &mut log {
        writeln!(log, "# {}: {}", opts.name, opts.command.join(" "))?;
    }
    let mut tail = VecDeque::with_capacity(TAIL_LINES);
    let mut log_error = None;
    let mut echo_error = None;
    let mut seen = Observations::new(&opts.expect, &opts.expect_fail_line);
    seen.pass_status = opts.pass_status;
    if opts.guest_results && !opts.expect_fail {
        seen = seen.collect_guest_results();
    }
    if let Some(prompt) = &opts.prompt {
        seen = seen.watch_for_prompt(prompt);
    }
    if let Some(text) = &opts.kill_after {
        seen = seen.kill_after(text);
    }
    let watched = process::watch_with_input(&opts.command, &opts.limits, input, seen, &mut |line| {
        let text = report::log_line(line);
        if let Some(Err(e)) = log.as_mut().map(|log| writeln!(log, "{text}")) {
            log_error.get_or_insert(e);
        }
        if opts.verbose
            && let Err(e) = writeln!(out, "{} | {text}", opts.name)
        {
            echo_error.get_or_insert(e);
        }
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(text);
    });
    if let Some(e) = log_error.or(echo_error) {
        return Err(e);
    }

    let timeout = opts.limits.timeout;
    let (verdict, finished) = match watched {
        Ok(finished) => {
            let judge = if opts.expect_fail { verdict::judge_expect_fail } else { verdict::judge_normal };
            (judge(&finished.seen, finished.ending, timeout), Some(finished))
        }
        Err(e) => {
            let program = opts.command.first().map_or("", String::as_str);
            let why = Reason::CouldNotRun(format!("{program}: {e}"));
            (Verdict::Fail(why), None)
        }
    };

    if let Some(log) = &mut log {
        let ending = finished.as_ref().map_or_else(
            || "not started".to_owned(),
            |f| format!("{} at {} ms", describe(f.ending, timeout), f.ended_ms),
        );
        writeln!(log, "# ended: {ending}; verdict: {}", verdict_line(&opts.name, &verdict))?;
    }

    writeln!(out, "{}", verdict_line(&opts.name, &verdict))?;
    if let Some(finished) = &finished {
        if !opts.expect_fail {
            writeln!(out, "{}", report::timing_line(&opts.name, &finished.seen))?;
            if let Some(guest) = &finished.seen.guest {
                writeln!(out, "{}", report::guest_line(&opts.name, guest))?;
            }
        } else if let Some(line) = report::fault_line(&opts.name, &finished.seen) {
            writeln!(out, "{line}")?;
        }
    }
    if verdict != Verdict::Pass && !opts.verbose {
        let source = opts.log.as_ref().map_or_else(|| "output".to_owned(), |path| path.display().to_string());
        writeln!(out, "--- last {} lines of {source} ---", tail.len())?;
        for line in &tail {
            writeln!(out, "{line}")?;
        }
        writeln!(out, "---")?;
    }
    if let Some(results) = &opts.results {
        // The guest tests of a run that could not even start are not
        // counted: the boot test's own failure says it all.
        let mut lines = match finished.as_ref().and_then(|f| f.seen.guest.as_ref()) {
            Some(guest) => guest.named_results(&opts.name),
            None => Vec::new(),
        };
        lines.push((opts.name.clone(), verdict == Verdict::Pass));
        record_results(results, &lines)?;
    }
    Ok(verdict)
}

/// `ok <name>` or `FAIL <name>: <why>`.
pub fn verdict_line(name: &str, verdict: &Verdict) -> String {
    match verdict {
        Verdict::Pass => format!("ok {name}"),
        Verdict::Fail(why) => format!("FAIL {name}: {why}"),
    }
}

/// Appends `pass <name>` or `fail <name>` to the results file.
pub fn record_result(results: &Path, name: &str, passed: bool) -> io::Result<()> {
    record_results(results, &[(name.to_owned(), passed)])
}

/// Appends `pass <name>` or `fail <name>` for each of `lines`, in one write.
pub fn record_results(results: &Path, lines: &[(String, bool)]) -> io::Result<()> {
    if let Some(dir) = results.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let text: String =
        lines.iter().map(|(name, passed)| format!("{} {name}\n", if *passed { "pass" } else { "fail" })).collect();
    OpenOptions::new().create(true).append(true).open(results)?.write_all(text.as_bytes())
}

fn describe(ending: Ending, timeout: Duration) -> String {
    match ending {
        Ending::Exited(status) => format!("exited with status {status}"),
        Ending::Signalled(sig) => format!("killed by signal {sig}"),
        Ending::StoppedAfterFailure => "stopped by the harness after a failure line".to_owned(),
        Ending::TimedOut => format!("killed at the {} s timeout", verdict::seconds(timeout)),
        Ending::Interrupted => "killed: the harness was interrupted".to_owned(),
        Ending::KilledAsAsked => "killed with SIGKILL by the harness, as --kill-after asked".to_owned(),
    }
}

fn create_with_dirs(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    File::create(path)
}
