//! Command-line parsing for `boot-test` (std only, no parser crate).

use std::path::PathBuf;
use std::time::Duration;

use crate::boot_test::{InputStage, TestOptions};

/// The usage text, printed for `--help` and after a usage error.
pub const USAGE: &str = "\
usage: boot-test --name NAME [--timeout SECS] [--log FILE] [--results FILE]
                 [--verbose] [--expect TEXT]... [--guest-results]
                 [--stdin FILE --stdin-after TEXT]... [--prompt TEXT] [--pass-status N]
                 [--kill-after TEXT] -- QEMU-COMMAND...
       boot-test --name NAME --expect-fail [--expect-fail-line TEXT] [...]
                 -- QEMU-COMMAND...
       boot-test summary --results FILE [--cargo-log FILE [--cargo-exit N]]

Runs QEMU-COMMAND (stdin /dev/null), timestamps its output, and judges it:
  normal test:  pass iff \"kernel: boot ok\" appears, no failure line appears
                (KERNEL PANIC, KERNEL FAULT, tessera-loader: error, panicked at),
                QEMU exits with status 33 (--pass-status N: with N; a normal
                image that powers off ends with 0), and each --expect TEXT is part of
                some line (else: expected line missing: \"TEXT\").
  --expect-fail: pass iff a failure line containing the --expect-fail-line
                TEXT (default KERNEL FAULT) appears, is the first failure
                line, and QEMU ends without a timeout (the harness stopping
                QEMU soon after that line counts as ending).
  --guest-results (normal tests only): also count the in-guest tests. Serial
                lines `ok NAME` / `FAIL NAME: WHY` are results, recorded as
                `pass|fail guest-PREFIX:NAME` (PREFIX: the test's NAME
                without `boot-`). The guest's `N passed, N failed` line must
                come and agree with them, and no guest test may fail; if it
                never comes, `fail guest-PREFIX:runner` is recorded too.
  --stdin FILE --stdin-after TEXT: QEMU's stdin is a pipe instead; FILE's
                bytes are written to it once the serial output contains TEXT
                (in a whole line, or in the unfinished line so far: a
                prompt), e.g. the banner of a program that reads the
                console. Earlier input could be eaten by the firmware.
                Repeated, the pairs are stages, matched in order (the n-th
                --stdin with the n-th --stdin-after): a stage's TEXT counts
                only in output that began after the previous stage was
                written. stdin is closed after the last stage.
  --prompt TEXT (normal tests): the timing line also gives when TEXT first
                appeared (QEMU start to prompt), whole line or not.
  --kill-after TEXT (normal tests): as soon as a serial line contains TEXT
                (and no failure line came before), QEMU is killed with
                SIGKILL, a power cut with no shutdown; the run is then judged
                without an exit status. TEXT is also an --expect.
Prints `ok NAME` or `FAIL NAME: WHY`; exit status 0 on pass, 1 on fail,
2 on a usage or harness error. `--timeout` defaults to 90 s.

summary: counts `pass`/`fail` lines of the results file plus the host tests in
a cargo test log, prints `N passed, N failed` last, and exits 1 if anything
failed or nothing ran.";

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invocation {
    /// Run one boot test.
    Test(TestOptions),
    /// Summarise a `make test` run.
    Summary(SummaryOptions),
    /// Print the usage.
    Help,
}

/// Options of `boot-test summary`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryOptions {
    /// The results file (`pass X` / `fail X` lines).
    pub results: PathBuf,
    /// The host `cargo test` log, if any.
    pub cargo_log: Option<PathBuf>,
    /// The exit status of that `cargo test`, if known.
    pub cargo_exit: Option<i32>,
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Invocation, String> {
    if args.iter().take_while(|a| *a != "--").any(|a| a == "-h" || a == "--help") {
        return Ok(Invocation::Help);
    }
    match args.first().map(String::as_str) {
        Some("summary") => parse_summary(&args[1..]).map(Invocation::Summary),
        _ => parse_test(args).map(Invocation::Test),
    }
}

fn parse_test(args: &[String]) -> Result<TestOptions, String> {
    let split = args.iter().position(|a| a == "--").ok_or("missing `-- QEMU-COMMAND...`")?;
    let (flags, command) = (&args[..split], &args[split + 1..]);
    if command.is_empty() {
        return Err("empty command after `--`".into());
    }
    let mut opts = TestOptions::new("", command.to_vec());
    let mut fail_line_given = false;
    let (mut stdin_files, mut stdin_after) = (Vec::new(), Vec::new());
    let mut flags = flags.iter();
    while let Some(flag) = flags.next() {
        let mut value = || flags.next().cloned().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--name" => opts.name = value()?,
            "--timeout" => opts.limits.timeout = parse_seconds(&value()?)?,
            "--log" => opts.log = Some(value()?.into()),
            "--results" => opts.results = Some(value()?.into()),
            "--expect-fail" => opts.expect_fail = true,
            "--expect" => opts.expect.push(non_empty(flag, value()?)?),
            "--expect-fail-line" => {
                opts.expect_fail_line = non_empty(flag, value()?)?;
                fail_line_given = true;
            }
            "--verbose" => opts.verbose = true,
            "--guest-results" => opts.guest_results = true,
            "--stdin" => stdin_files.push(PathBuf::from(value()?)),
            "--stdin-after" => stdin_after.push(non_empty(flag, value()?)?),
            "--prompt" => opts.prompt = Some(non_empty(flag, value()?)?),
            "--kill-after" => {
                let text = non_empty(flag, value()?)?;
                opts.expect.push(text.clone());
                if opts.kill_after.replace(text).is_some() {
                    return Err("--kill-after given twice".into());
                }
            }
            "--pass-status" => {
                let text = value()?;
                opts.pass_status = text.parse().map_err(|_| format!("--pass-status: not a number: {text:?}"))?;
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    if opts.name.is_empty() {
        return Err("--name is required".into());
    }
    // Each flag belongs to one kind of test; accepting it for the other
    // would silently check nothing.
    if fail_line_given && !opts.expect_fail {
        return Err("--expect-fail-line needs --expect-fail".into());
    }
    if opts.expect_fail && !opts.expect.is_empty() {
        return Err("--expect is for normal tests, not with --expect-fail".into());
    }
    // One without the other: input never sent, or a trigger for nothing.
    if stdin_files.len() != stdin_after.len() {
        return Err("--stdin and --stdin-after go together".into());
    }
    opts.stdin = stdin_files.into_iter().zip(stdin_after).map(|(path, after)| InputStage { path, after }).collect();
    if opts.expect_fail && opts.prompt.is_some() {
        return Err("--prompt is for normal tests, not with --expect-fail".into());
    }
    if opts.expect_fail && opts.kill_after.is_some() {
        return Err("--kill-after is for normal tests, not with --expect-fail".into());
    }
    if opts.expect_fail && opts.guest_results {
        return Err("--guest-results is for normal tests, not with --expect-fail".into());
    }
    Ok(opts)
}

/// `value` unless it is empty: an empty text would match every line.
fn non_empty(flag: &str, value: String) -> Result<String, String> {
    if value.is_empty() { Err(format!("{flag}: the text must not be empty")) } else { Ok(value) }
}

fn parse_summary(args: &[String]) -> Result<SummaryOptions, String> {
    let mut results = None;
    let mut cargo_log = None;
    let mut cargo_exit = None;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--results" => results = Some(PathBuf::from(value)),
            "--cargo-log" => cargo_log = Some(PathBuf::from(value)),
            "--cargo-exit" => {
                let status = value.trim().parse().map_err(|_| format!("--cargo-exit: not a number: {value:?}"))?;
                cargo_exit = Some(status);
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(SummaryOptions { results: results.ok_or("summary: --results is required")?, cargo_log, cargo_exit })
}

/// Parses a positive number of seconds (`90`, `0.5`).
fn parse_seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("--timeout: not a positive number of seconds: {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_a_test_invocation() {
        let parsed = parse(&args(
            "--name boot-x86_64 --timeout 90 --log build/x.log --expect-fail \
             --results build/r.txt -- qemu-system-x86_64 -m 512M --help",
        ));
        let Ok(Invocation::Test(opts)) = parsed else { panic!("{parsed:?}") };
        assert_eq!(opts.name, "boot-x86_64");
        assert_eq!(opts.limits.timeout, Duration::from_secs(90));
        assert_eq!(opts.log, Some(PathBuf::from("build/x.log")));
        assert_eq!(opts.results, Some(PathBuf::from("build/r.txt")));
        assert!(opts.expect_fail && !opts.verbose);
        assert_eq!(opts.expect_fail_line, "KERNEL FAULT");
        assert!(opts.expect.is_empty());
        // Everything after `--` belongs to QEMU, even `--help`.
        assert_eq!(opts.command, args("qemu-system-x86_64 -m 512M --help"));
    }

    #[test]
    fn parses_pass_status() {
        let Ok(Invocation::Test(opts)) = parse(&args("--name power --pass-status 0 -- qemu")) else { panic!() };
        assert_eq!(opts.pass_status, 0);
        let Ok(Invocation::Test(opts)) = parse(&args("--name boot -- qemu")) else { panic!() };
        assert_eq!(opts.pass_status, 33);
        assert!(parse(&args("--name power --pass-status zero -- qemu")).is_err());
    }

    #[test]
    fn parses_expectations() {
        let mut argv = args("--name boot-x86_64 --expect");
        argv.push("cpus: 2 (".into());
        argv.extend(args("--expect memory: -- qemu"));
        let Ok(Invocation::Test(opts)) = parse(&argv) else { panic!("{argv:?}") };
        assert_eq!(opts.expect, ["cpus: 2 (", "memory:"]);
        assert!(!opts.expect_fail && !opts.guest_results);
        let Ok(Invocation::Test(opts)) = parse(&args("--name boot-x86_64 --guest-results -- qemu")) else {
            panic!("--guest-results")
        };
        assert!(opts.guest_results);
        assert!(opts.stdin.is_empty());
        assert_eq!(opts.prompt, None);
        let Ok(Invocation::Test(opts)) = parse(&args(
            "--name console-x86_64 --stdin build/in.txt --stdin-after tessera> --prompt $ \
             --stdin-after napping --stdin build/int.txt -- qemu",
        )) else {
            panic!("--stdin")
        };
        let stage = |path: &str, after: &str| InputStage { path: path.into(), after: after.into() };
        assert_eq!(opts.stdin, [stage("build/in.txt", "tessera>"), stage("build/int.txt", "napping")]);
        assert_eq!(opts.prompt.as_deref(), Some("$"));

        let mut argv = args("--name loader-error-x86_64 --expect-fail --expect-fail-line");
        argv.push("tessera-loader: error".into());
        argv.extend(args("-- qemu"));
        let Ok(Invocation::Test(opts)) = parse(&argv) else { panic!("{argv:?}") };
        assert_eq!(opts.expect_fail_line, "tessera-loader: error");
        assert!(opts.expect_fail && opts.expect.is_empty());
    }

    #[test]
    fn parses_kill_after() {
        let Ok(Invocation::Test(opts)) = parse(&args("--name persist --kill-after synced -- qemu")) else { panic!() };
        assert_eq!(opts.kill_after.as_deref(), Some("synced"));
        assert_eq!(opts.expect, ["synced"], "the kill text must also appear");
    }

    #[test]
    fn parses_summary() {
        let parsed = parse(&args("summary --results build/r.txt --cargo-log build/c.log --cargo-exit 101"));
        assert_eq!(
            parsed,
            Ok(Invocation::Summary(SummaryOptions {
                results: "build/r.txt".into(),
                cargo_log: Some("build/c.log".into()),
                cargo_exit: Some(101),
            }))
        );
    }

    #[test]
    fn rejects_bad_invocations() {
        for bad in [
            "--name x",
            "--name x --",
            "--timeout 5 -- qemu",
            "--name x --timeout -1 -- qemu",
            "--name x --timeout soon -- qemu",
            "--name x --frobnicate -- qemu",
            "--name x --expect -- qemu",
            "--name x --expect-fail-line oops -- qemu",
            "--name x --expect-fail --expect ok -- qemu",
            "--name x --expect-fail --guest-results -- qemu",
            "--name x --stdin in.txt -- qemu",
            "--name x --stdin-after ready -- qemu",
            "--name x --stdin -- qemu",
            "--name x --stdin a --stdin-after x --stdin b -- qemu",
            "--name x --expect-fail --prompt $ -- qemu",
            "--name x --expect-fail --kill-after msync -- qemu",
            "--name x --kill-after a --kill-after b -- qemu",
            "--name x --kill-after -- qemu",
            "--name -- qemu",
            "summary",
            "summary --cargo-exit x --results r",
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad}");
        }
        let empty = ["--name", "x", "--expect", "", "--", "qemu"].map(String::from);
        assert!(parse(&empty).is_err(), "empty --expect");
        assert_eq!(parse(&args("--help")), Ok(Invocation::Help));
    }
}
