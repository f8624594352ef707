//! The in-guest tests' own results (`--guest-results`).
//!
//! In a test image the kernel runs init, which runs the guest's
//! `testrunner`; it runs each guest test program and prints, on the serial
//! console, one line per test and then its own count:
//!
//! ```text
//! ok hello
//! FAIL proc-lifecycle: exited with status 1
//! 1 passed, 1 failed
//! ```
//!
//! [`parse`] is strict, because guest programs print much that looks alike
//! (`hello: ok: argc >= 1`, `hello: 5 of 5 checks passed`). After
//! [`crate::classify::clean`], a line is
//!
//! * a result iff it is exactly `ok NAME`, or starts with `FAIL NAME: `
//!   followed by a reason — NAME being non-empty, without whitespace and
//!   without `:`; the line must start with `ok ` / `FAIL ` (no prefix, no
//!   leading space);
//! * the guest summary iff it is exactly `N passed, N failed` (decimal
//!   numbers).
//!
//! Anything else is ignored. [`GuestResults`] collects both, and
//! [`GuestResults::check`] says what is wrong with them, if anything: no
//! summary (the suite did not finish: a crash, a timeout), a summary that
//! disagrees with the result lines counted, or failed tests.
//!
//! Each result is recorded under the name `guest-<PREFIX>:<NAME>` (see
//! [`result_name`]); when the summary never came, one extra failed result
//! `guest-<PREFIX>:runner` ([`RUNNER`]) stands for the tests that never
//! reported, which are not counted otherwise.

use std::fmt;

/// The pseudo-test recorded as failed when the guest summary never came.
pub const RUNNER: &str = "runner";

/// One guest line that means something.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuestLine<'a> {
    /// `ok NAME` (`why` is `None`) or `FAIL NAME: WHY`.
    Result {
        /// The test's name.
        name: &'a str,
        /// Whether it passed.
        passed: bool,
        /// The reason a test failed.
        why: Option<&'a str>,
    },
    /// The runner's closing `N passed, N failed`.
    Summary(Tally),
}

/// Passed and failed counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// How many passed.
    pub passed: u64,
    /// How many failed.
    pub failed: u64,
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed", self.passed, self.failed)
    }
}

/// Parses one cleaned line (see the module documentation for the rules).
pub fn parse(line: &str) -> Option<GuestLine<'_>> {
    if let Some(name) = line.strip_prefix("ok ") {
        return valid_name(name).then_some(GuestLine::Result { name, passed: true, why: None });
    }
    if let Some(rest) = line.strip_prefix("FAIL ") {
        let (name, why) = rest.split_once(": ")?;
        return (valid_name(name) && !why.trim().is_empty()).then_some(GuestLine::Result {
            name,
            passed: false,
            why: Some(why),
        });
    }
    parse_summary(line).map(GuestLine::Summary)
}

/// `N passed, N failed`, exactly.
fn parse_summary(line: &str) -> Option<Tally> {
    let (passed, failed) = line.strip_suffix(" failed")?.split_once(" passed, ")?;
    Some(Tally { passed: number(passed)?, failed: number(failed)? })
}

fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c.is_control() || c == ':')
}

/// One guest test's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestResult {
    /// The name as printed (`hello`).
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Why it failed, as printed.
    pub why: Option<String>,
}

/// What is wrong with a run's guest results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The run ended before the guest summary line.
    SummaryMissing,
    /// The summary's counts differ from the result lines seen.
    Mismatch {
        /// What the summary line said.
        summary: Tally,
        /// What the result lines add up to.
        seen: Tally,
    },
    /// Guest tests failed (their names, in order).
    Failed(Vec<String>),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::SummaryMissing => {
                write!(f, "guest summary line (\"N passed, N failed\") missing: the guest tests did not finish")
            }
            Problem::Mismatch { summary, seen } => write!(
                f,
                "guest summary says {summary} but {} and {} were seen",
                lines(seen.passed, "ok"),
                lines(seen.failed, "FAIL")
            ),
            Problem::Failed(names) => write!(f, "guest tests failed: {}", names.join(", ")),
        }
    }
}

fn lines(n: u64, what: &str) -> String {
    format!("{n} {what} line{}", if n == 1 { "" } else { "s" })
}

/// The guest results of one run, in the order they came.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuestResults {
    /// Every result line.
    pub results: Vec<GuestResult>,
    /// The first guest summary line, if one came.
    pub summary: Option<Tally>,
}

impl GuestResults {
    /// Records one cleaned serial line if it is a result or the summary.
    pub fn record(&mut self, line: &str) {
        match parse(line) {
            Some(GuestLine::Result { name, passed, why }) => {
                self.results.push(GuestResult { name: name.to_owned(), passed, why: why.map(str::to_owned) })
            }
            Some(GuestLine::Summary(tally)) => {
                self.summary.get_or_insert(tally);
            }
            None => {}
        }
    }

    /// What the result lines add up to.
    pub fn tally(&self) -> Tally {
        let passed = self.results.iter().filter(|r| r.passed).count() as u64;
        Tally { passed, failed: self.results.len() as u64 - passed }
    }

    /// The names of the failed tests, in order.
    pub fn failed_names(&self) -> Vec<String> {
        self.results.iter().filter(|r| !r.passed).map(|r| r.name.clone()).collect()
    }

    /// The first problem, in this order: no summary, a summary that
    /// disagrees with the lines, failed tests. `None`: all is well.
    pub fn check(&self) -> Option<Problem> {
        let seen = self.tally();
        match self.summary {
            None => Some(Problem::SummaryMissing),
            Some(summary) if summary != seen => Some(Problem::Mismatch { summary, seen }),
            Some(_) if seen.failed > 0 => Some(Problem::Failed(self.failed_names())),
            Some(_) => None,
        }
    }

    /// The results to record for a boot test named `test_name`: each guest
    /// result under [`result_name`] (a name seen again gets `#2`, `#3`, ...
    /// so names stay unique), plus a failed [`RUNNER`] if the summary never
    /// came.
    pub fn named_results(&self, test_name: &str) -> Vec<(String, bool)> {
        let mut out: Vec<(String, bool)> = Vec::with_capacity(self.results.len() + 1);
        let mut seen: Vec<&str> = Vec::new();
        for result in &self.results {
            let count = seen.iter().filter(|&&n| n == result.name).count();
            seen.push(&result.name);
            let mut name = result_name(test_name, &result.name);
            if count > 0 {
                name += &format!("#{}", count + 1);
            }
            out.push((name, result.passed));
        }
        if self.summary.is_none() {
            out.push((result_name(test_name, RUNNER), false));
        }
        out
    }
}

/// The results-file name of guest test `test` in the boot test `test_name`:
/// `guest-<PREFIX>:<test>`, PREFIX being `test_name` without a leading
/// `boot-` (`boot-x86_64` and `hello` give `guest-x86_64:hello`). Spaces
/// in `test_name` become `_`, so the name is one word.
pub fn result_name(test_name: &str, test: &str) -> String {
    let prefix = test_name.strip_prefix("boot-").filter(|p| !p.is_empty()).unwrap_or(test_name);
    let prefix: String = prefix.chars().map(|c| if c.is_whitespace() { '_' } else { c }).collect();
    format!("guest-{prefix}:{test}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result<'a>(name: &'a str, passed: bool, why: Option<&'a str>) -> Option<GuestLine<'a>> {
        Some(GuestLine::Result { name, passed, why })
    }

    #[test]
    fn parses_result_lines() {
        assert_eq!(parse("ok hello"), result("hello", true, None));
        assert_eq!(parse("ok syscall-errors"), result("syscall-errors", true, None));
        assert_eq!(parse("FAIL x: why"), result("x", false, Some("why")));
        assert_eq!(
            parse("FAIL proc-lifecycle: exited with status 1"),
            result("proc-lifecycle", false, Some("exited with status 1"))
        );
        assert_eq!(
            parse("FAIL testrunner: initfs:etc/tests.list cannot be read: x"),
            result("testrunner", false, Some("initfs:etc/tests.list cannot be read: x"))
        );
    }

    #[test]
    fn is_strict_about_what_a_result_is() {
        for line in [
            "hello: ok: argc >= 1",
            "hello (round trip): ok: argv arrived intact",
            "proc-lifecycle: FAILED: the child is still there",
            " ok hello",
            "ok",
            "ok ",
            "ok hello world",
            "ok hello:",
            "okhello",
            "OK hello",
            "ok\thello",
            "FAIL x",
            "FAIL x:",
            "FAIL x: ",
            "FAIL : why",
            "FAIL two words: why",
            "FAILED x: why",
            "fail x: why",
            "hello: 5 of 5 checks passed",
            "kernel: boot ok",
            "",
        ] {
            assert_eq!(parse(line), None, "{line:?}");
        }
    }

    #[test]
    fn parses_the_summary_exactly() {
        assert_eq!(parse("9 passed, 0 failed"), Some(GuestLine::Summary(Tally { passed: 9, failed: 0 })));
        assert_eq!(parse("0 passed, 12 failed"), Some(GuestLine::Summary(Tally { passed: 0, failed: 12 })));
        for line in ["9 passed, 0 failed.", " 9 passed, 0 failed", "x passed, 0 failed", "+1 passed, 0 failed"] {
            assert_eq!(parse(line), None, "{line:?}");
        }
        assert_eq!(parse("-1 passed, 0 failed"), None);
        assert_eq!(parse("34 of 36 checks passed"), None);
    }

    fn results(lines: &[&str]) -> GuestResults {
        let mut results = GuestResults::default();
        for line in lines {
            results.record(line);
        }
        results
    }

    #[test]
    fn a_complete_passing_suite_checks_out() {
        let run =
            results(&["init: started", "hello: ok: argc >= 1", "ok hello", "ok syscall-errors", "2 passed, 0 failed"]);
        assert_eq!(run.tally(), Tally { passed: 2, failed: 0 });
        assert_eq!(run.check(), None);
        assert_eq!(
            run.named_results("boot-x86_64"),
            [("guest-x86_64:hello".to_owned(), true), ("guest-x86_64:syscall-errors".to_owned(), true)]
        );
    }

    #[test]
    fn failed_tests_are_a_problem() {
        let run = results(&["ok hello", "FAIL pipe-16m: exited with status 1", "1 passed, 1 failed"]);
        assert_eq!(run.check(), Some(Problem::Failed(vec!["pipe-16m".into()])));
        assert_eq!(run.check().unwrap().to_string(), "guest tests failed: pipe-16m");
        assert_eq!(run.named_results("boot-aarch64")[1], ("guest-aarch64:pipe-16m".to_owned(), false));
    }

    #[test]
    fn cross_checks_the_summary() {
        let run = results(&["ok a", "ok b", "ok c", "ok d", "3 passed, 1 failed"]);
        let problem = run.check().unwrap();
        assert_eq!(
            problem,
            Problem::Mismatch { summary: Tally { passed: 3, failed: 1 }, seen: Tally { passed: 4, failed: 0 } }
        );
        assert_eq!(
            problem.to_string(),
            "guest summary says 3 passed, 1 failed but 4 ok lines and 0 FAIL lines were seen"
        );
        // A disagreement wins over failed tests: the count itself is wrong.
        let run = results(&["ok a", "FAIL b: x", "2 passed, 1 failed"]);
        assert_eq!(
            run.check().unwrap().to_string(),
            "guest summary says 2 passed, 1 failed but 1 ok line and 1 FAIL line were seen"
        );
        // Only the first summary counts.
        assert_eq!(results(&["ok a", "1 passed, 0 failed", "5 passed, 0 failed"]).check(), None);
    }

    #[test]
    fn a_runner_crash_counts_as_one_failure() {
        let run = results(&["ok hello", "ok syscall-errors", "user-faults: ok: #PF"]);
        assert_eq!(run.check(), Some(Problem::SummaryMissing));
        assert_eq!(
            run.named_results("boot-x86_64"),
            [
                ("guest-x86_64:hello".to_owned(), true),
                ("guest-x86_64:syscall-errors".to_owned(), true),
                ("guest-x86_64:runner".to_owned(), false),
            ]
        );
        // Nothing at all reported: only the runner's failure.
        assert_eq!(GuestResults::default().named_results("boot-x86_64"), [("guest-x86_64:runner".to_owned(), false)]);
    }

    #[test]
    fn names_are_one_unique_word() {
        assert_eq!(result_name("boot-x86_64", "hello"), "guest-x86_64:hello");
        assert_eq!(result_name("smoke test", "hello"), "guest-smoke_test:hello");
        assert_eq!(result_name("boot-", "hello"), "guest-boot-:hello");
        let run = results(&["ok hello", "FAIL hello: exited with status 1", "1 passed, 1 failed"]);
        let names: Vec<_> = run.named_results("boot-x86_64").into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["guest-x86_64:hello", "guest-x86_64:hello#2"]);
    }
}
