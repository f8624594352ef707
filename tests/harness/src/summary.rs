//! `boot-test summary`: one closing count for the whole `make test`.
//!
//! Inputs: the results file the steps appended to (`pass <name>` /
//! `fail <name>`, one a line) and, optionally, the log of the host
//! `cargo test`, whose `test result: ... N passed; M failed; ...` lines are
//! summed (every host test counts as one). If cargo itself failed but its
//! log shows no failed test (a build error, a crashed test binary), that
//! counts as one failure, so a broken build can never read as success.
//!
//! Results named `guest-...` are the in-guest tests a boot test recorded
//! with `--guest-results` ([`crate::guest`]); they count like any other
//! result, one each, and get a line of their own in the text.
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

/// What a results file holds: the steps of `make test` (lint, boot tests)
/// and the in-guest tests, counted apart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Results {
    /// Everything not named `guest-...`.
    pub steps: Counts,
    /// The results named `guest-...`.
    pub guest: Counts,
}

/// The prefix of the names of in-guest test results.
pub const GUEST_PREFIX: &str = "guest-";

/// Parses a results file. Lines other than `pass X` / `fail X` are ignored.
pub fn parse_results(text: &str) -> Results {
    let mut results = Results::default();
    for line in text.lines() {
        let Some((outcome, name)) = line.trim().split_once(' ') else { continue };
        let name = name.trim();
        let counts = if name.starts_with(GUEST_PREFIX) { &mut results.guest } else { &mut results.steps };
        match outcome {
            "pass" => counts.passed += 1,
            "fail" => {
                counts.failed += 1;
                counts.failures.push(name.to_owned());
            }
            _ => {}
        }
    }
    results
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

/// The summary text (ending in `N passed, N failed`) and the total. The
/// guest tests' line is left out when there are none.
pub fn render(results: &Results, cargo: Option<&Counts>) -> (String, Counts) {
    let mut text = String::new();
    let mut total = Counts::default();
    let mut add = |counts: &Counts| {
        total.passed += counts.passed;
        total.failed += counts.failed;
        total.failures.extend(counts.failures.iter().cloned());
    };
    if let Some(cargo) = cargo {
        let _ = writeln!(text, "summary: host cargo test: {} passed, {} failed", cargo.passed, cargo.failed);
        add(cargo);
    }
    let steps = &results.steps;
    let _ = writeln!(text, "summary: lint and boot tests: {} passed, {} failed", steps.passed, steps.failed);
    add(steps);
    let guest = &results.guest;
    if guest.passed + guest.failed > 0 {
        let _ = writeln!(text, "summary: guest tests (in QEMU): {} passed, {} failed", guest.passed, guest.failed);
        add(guest);
    }
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
        let results = parse_results("pass lint\nfail boot-x86_64\n\npass fault-x86_64\n# note\n");
        assert_eq!((results.steps.passed, results.steps.failed), (2, 1));
        assert_eq!(results.steps.failures, ["boot-x86_64"]);
        assert_eq!(results.guest, Counts::default());
    }

    #[test]
    fn guest_tests_count_one_each_on_a_line_of_their_own() {
        let results = parse_results(
            "pass lint\npass guest-x86_64:hello\nfail guest-x86_64:pipe-16m\nfail boot-x86_64\n\
             pass guest-aarch64:hello\nfail guest-aarch64:runner\nfail boot-aarch64\n",
        );
        assert_eq!((results.steps.passed, results.steps.failed), (1, 2));
        assert_eq!((results.guest.passed, results.guest.failed), (2, 2));
        let (text, total) = render(&results, Some(&parse_cargo_log(CARGO_LOG, Some(101))));
        assert!(text.contains("summary: guest tests (in QEMU): 2 passed, 2 failed\n"), "{text}");
        assert!(
            text.contains(
                "summary: failed: 1 host test(s), boot-x86_64, boot-aarch64, guest-x86_64:pipe-16m, \
                 guest-aarch64:runner\n"
            ),
            "{text}"
        );
        assert_eq!(text.lines().last(), Some("7 passed, 5 failed"));
        assert!(!total.success());
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
        let (text, total) = render(&Results::default(), None);
        assert!(text.ends_with("0 passed, 0 failed\n"));
        assert!(!total.success());
        let (_, total) = render(&parse_results("pass lint\n"), None);
        assert!(total.success());
    }
}
