//! `boot-test summary`: one closing count for the whole `make test`.
//!
//! Inputs: the results file the steps appended to (`pass <name>` /
//! `fail <name>`, one a line) and, optionally, the log of the host
//! `cargo test`, whose `test result: ... N passed; M failed; ...` lines are
//! summed (every host test counts as one). If cargo itself failed but its
//! log shows no failed test (a build error, a crashed test binary), that
//! counts as one failure, so a broken build can never read as success.
//!
//! The last line printed is `N passed, N failed` alone. The summary fails
//! if anything failed or if nothing ran at all.

use std::fmt::Write as _;

use crate::classify;

/// Pass/fail counts with the names of what failed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// How many passed.
    pub passed: u64,
    /// How many failed.
    pub failed: u64,
    /// What failed, for the report.
    pub failures: Vec<String>,
}

impl Counts {
    /// Whether the run as a whole succeeded: something ran and nothing failed.
    pub fn success(&self) -> bool {
        self.failed == 0 && self.passed > 0
    }
}

/// Parses a results file. Lines other than `pass X` / `fail X` are ignored.
pub fn parse_results(text: &str) -> Counts {
    let mut counts = Counts::default();
    for line in text.lines() {
        match line.trim().split_once(' ') {
            Some(("pass", _)) => counts.passed += 1,
            Some(("fail", name)) => {
                counts.failed += 1;
                counts.failures.push(name.trim().to_owned());
            }
            _ => {}
        }
    }
    counts
}

/// Sums the `test result:` lines of a `cargo test` log.
///
/// `cargo_exit` is cargo's exit status, if known: a non-zero status with no
/// failed test in the log adds one failure named after it.
pub fn parse_cargo_log(text: &str, cargo_exit: Option<i32>) -> Counts {
    let mut counts = Counts::default();
    for line in text.lines().map(classify::clean) {
        let Some(result) = line.split_once("test result:").map(|(_, rest)| rest) else {
            continue;
        };
        for part in result.split([';', '.']) {
            let mut words = part.split_whitespace();
            if let (Some(n), Some(what)) = (words.next(), words.next())
                && let Ok(n) = n.parse::<u64>()
            {
                match what {
                    "passed" => counts.passed += n,
                    "failed" => counts.failed += n,
                    _ => {}
                }
            }
        }
    }
    if counts.failed > 0 {
        counts.failures.push(format!("{} host test(s)", counts.failed));
    } else if let Some(status) = cargo_exit.filter(|&s| s != 0) {
        counts.failed += 1;
        counts.failures.push(format!("cargo test (exit status {status} with no failed test: build error?)"));
    }
    counts
}

/// The summary text (ending in `N passed, N failed`) and the total.
pub fn render(results: &Counts, cargo: Option<&Counts>) -> (String, Counts) {
    let mut text = String::new();
    let mut total = results.clone();
    if let Some(cargo) = cargo {
        let _ = writeln!(text, "summary: host cargo test: {} passed, {} failed", cargo.passed, cargo.failed);
        total.passed += cargo.passed;
        total.failed += cargo.failed;
        total.failures.splice(0..0, cargo.failures.iter().cloned());
    }
    let _ = writeln!(text, "summary: lint and boot tests: {} passed, {} failed", results.passed, results.failed);
    if !total.failures.is_empty() {
        let _ = writeln!(text, "summary: failed: {}", total.failures.join(", "));
    }
    if total.passed + total.failed == 0 {
        let _ = writeln!(text, "summary: nothing ran");
    }
    let _ = writeln!(text, "{} passed, {} failed", total.passed, total.failed);
    (text, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARGO_LOG: &str = "\
running 3 tests
test a ... ok
test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s

running 2 tests
test b ... FAILED
test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

   Doc-tests tessera_bootinfo
test result: ok. 0 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s
";

    #[test]
    fn sums_cargo_result_lines() {
        let counts = parse_cargo_log(CARGO_LOG, Some(101));
        assert_eq!((counts.passed, counts.failed), (4, 1));
    }

    #[test]
    fn colored_cargo_output_still_counts() {
        let log = "test result: \x1b[32mok\x1b[0m. 7 passed; 0 failed; 0 ignored";
        assert_eq!(parse_cargo_log(log, Some(0)).passed, 7);
    }

    #[test]
    fn cargo_failure_without_failed_tests_counts_once() {
        let log = "error[E0425]: cannot find value `x`\nerror: could not compile `rmm`";
        let counts = parse_cargo_log(log, Some(101));
        assert_eq!((counts.passed, counts.failed), (0, 1));
        assert!(counts.failures[0].contains("exit status 101"));
        assert_eq!(parse_cargo_log(log, None).failed, 0);
    }

    #[test]
    fn parses_results_file() {
        let counts = parse_results("pass lint\nfail boot-x86_64\n\npass fault-x86_64\n# note\n");
        assert_eq!((counts.passed, counts.failed), (2, 1));
        assert_eq!(counts.failures, ["boot-x86_64"]);
    }

    #[test]
    fn closing_line_stands_alone_and_totals_everything() {
        let results = parse_results("pass lint\nfail boot-aarch64\n");
        let cargo = parse_cargo_log(CARGO_LOG, Some(101));
        let (text, total) = render(&results, Some(&cargo));
        assert_eq!(text.lines().last(), Some("5 passed, 2 failed"));
        assert!(text.contains("summary: failed: 1 host test(s), boot-aarch64"));
        assert!(!total.success());
    }

    #[test]
    fn nothing_ran_is_not_success() {
        let (text, total) = render(&Counts::default(), None);
        assert!(text.ends_with("0 passed, 0 failed\n"));
        assert!(!total.success());
        let (_, total) = render(&parse_results("pass lint\n"), None);
        assert!(total.success());
    }
}
