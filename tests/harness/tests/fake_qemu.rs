//! End to end: the whole `boot-test` logic against fake QEMUs (`sh -c ...`)
//! that follow, or break, the guest protocol. Checks verdicts, the report
//! text, the log and results files, and that a timeout really kills the
//! command and what it started.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tessera_harness::boot_test::{TestOptions, run_test};
use tessera_harness::guest::{self, GuestLine, Problem};
use tessera_harness::process::Limits;
use tessera_harness::verdict::{Reason, Verdict};

/// A fresh scratch directory for one test, removed when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tessera-harness-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn join(&self, path: &str) -> PathBuf {
        self.0.join(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

/// Runs a fake and returns the verdict and everything the harness printed.
fn run(opts: &TestOptions) -> (Verdict, String) {
    let mut out = Vec::new();
    let verdict = run_test(opts, &mut out).expect("harness error");
    (verdict, String::from_utf8(out).unwrap())
}

/// Whether `pid` is still a live process (a zombie waiting for a reaper
/// counts as dead).
fn alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
        Err(_) => false,
    }
}

/// Whether `pid` dies within `limit`. A killed process closes its files a
/// moment before it turns into a zombie, so "the pipe closed" does not yet
/// mean "dead" and a single look could race.
fn dies_within(pid: u32, limit: Duration) -> bool {
    let give_up = Instant::now() + limit;
    while alive(pid) {
        if Instant::now() >= give_up {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

fn read_pid(path: &Path) -> u32 {
    for _ in 0..100 {
        if let Some(pid) = fs::read_to_string(path).ok().and_then(|t| t.trim().parse().ok()) {
            return pid;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} never appeared", path.display());
}

#[test]
fn good_boot_passes_with_timings_log_and_result() {
    let dir = Scratch::new("good");
    let mut opts = TestOptions::new(
        "boot-fake",
        sh("printf '\\033[=3h\\033[2Jtessera-loader: starting\\r\\n'; \
            echo 'BdsDxe: noise'; sleep 0.2; echo kernel: entered; echo kernel: boot ok; exit 33"),
    );
    opts.log = Some(dir.join("logs/boot.log"));
    opts.results = Some(dir.join("results.txt"));
    let (verdict, out) = run(&opts);
    assert_eq!(verdict, Verdict::Pass, "{out}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("ok boot-fake"));
    let timing = lines.next().unwrap();
    assert!(timing.starts_with("  boot-fake: loader at ") && timing.contains("loader+kernel share"), "{timing}");
    assert_eq!(lines.next(), None, "quiet on success: {out}");

    let log = fs::read_to_string(dir.join("logs/boot.log")).unwrap();
    assert!(log.contains(" ms] tessera-loader: starting\n"), "escapes stripped: {log}");
    assert!(log.contains(" ms] kernel: boot ok\n"), "{log}");
    assert!(log.contains("# ended: exited with status 33"), "{log}");
    assert_eq!(fs::read_to_string(dir.join("results.txt")).unwrap(), "pass boot-fake\n");
}

#[test]
fn normal_test_fails_on_fault_and_reports_the_line() {
    let dir = Scratch::new("fault-normal");
    let mut opts = TestOptions::new(
        "boot-fake",
        sh("echo kernel: entered; echo 'KERNEL FAULT: page fault at 0x0'; echo 'rip=0x1'; exit 35"),
    );
    opts.results = Some(dir.join("results.txt"));
    let (verdict, out) = run(&opts);
    assert_eq!(verdict, Verdict::Fail(Reason::FailureLine("KERNEL FAULT: page fault at 0x0".into())));
    assert!(out.starts_with("FAIL boot-fake: failure line \"KERNEL FAULT: page fault at 0x0\"\n"));
    // The tail of the log follows a failure, including the lines after the fault.
    assert!(out.contains("--- last 3 lines of output ---"), "{out}");
    assert!(out.contains("] rip=0x1\n"), "{out}");
    assert_eq!(fs::read_to_string(dir.join("results.txt")).unwrap(), "fail boot-fake\n");
}

#[test]
fn expect_fail_passes_on_a_fault_report() {
    let mut opts = TestOptions::new(
        "fault-fake",
        sh("echo tessera-loader: starting; echo kernel: entered; \
            echo 'KERNEL FAULT: invalid opcode at 0xffffffff80001000'; exit 35"),
    );
    opts.expect_fail = true;
    let (verdict, out) = run(&opts);
    assert_eq!(verdict, Verdict::Pass, "{out}");
    assert!(out.starts_with("ok fault-fake\n  fault-fake: failure line at "), "{out}");
}

#[test]
fn expect_fail_fails_when_the_boot_succeeds() {
    let mut opts = TestOptions::new("fault-fake", sh("echo kernel: boot ok; exit 33"));
    opts.expect_fail = true;
    let (verdict, out) = run(&opts);
    assert_eq!(verdict, Verdict::Fail(Reason::NoFaultReport { text: "KERNEL FAULT".into(), instead: None }));
    assert!(out.starts_with("FAIL fault-fake: no \"KERNEL FAULT\" report was printed (the boot passed)\n"), "{out}");
}

/// A banner like the kernel's, then `boot ok` and the pass status.
const BANNER_BOOT: &str = "echo tessera-loader: starting; echo kernel: entered; \
    echo 'memory: 511 MiB total, 501 MiB free (25 areas)'; echo 'cpus: 2 (ACPI MADT)'; \
    echo kernel: boot ok; exit 33";

#[test]
fn expected_lines_are_asserted() {
    let mut opts = TestOptions::new("boot-fake", sh(BANNER_BOOT));
    opts.expect = vec!["cpus: 2 (".into(), "memory: ".into()];
    let (verdict, out) = run(&opts);
    assert_eq!(verdict, Verdict::Pass, "{out}");

    opts.expect = vec!["memory: ".into(), "cpus: 4 (".into()];
    let (verdict, out) = run(&opts);
    assert_eq!(verdict, Verdict::Fail(Reason::ExpectedMissing("cpus: 4 (".into())));
    assert!(out.starts_with("FAIL boot-fake: expected line missing: \"cpus: 4 (\"\n"), "{out}");
    assert!(out.contains("] cpus: 2 (ACPI MADT)\n"), "the tail shows what came instead: {out}");
}

#[test]
fn expect_fail_line_passes_on_a_loader_error_that_halts() {
    // The loader prints its error and stalls forever; the harness ends QEMU.
    let mut opts = TestOptions::new(
        "loader-error-fake",
        sh("echo 'tessera-loader: starting (arch x86_64)'; \
            echo 'tessera-loader: error: \\kernel is not an ELF file'; sleep 30"),
    );
    opts.expect_fail = true;
    opts.expect_fail_line = "tessera-loader: error".into();
    opts.limits = Limits { timeout: Duration::from_secs(20), ..Limits::default() };
    let started = Instant::now();
    let (verdict, out) = run(&opts);
    assert_eq!(verdict, Verdict::Pass, "{out}");
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    assert!(out.starts_with("ok loader-error-fake\n  loader-error-fake: failure line at "), "{out}");
    assert!(out.contains(": tessera-loader: error: \\kernel is not an ELF file\n"), "{out}");

    // The same image with the default text fails: it is no kernel fault.
    opts.expect_fail_line = "KERNEL FAULT".into();
    let (verdict, _) = run(&opts);
    assert!(matches!(verdict, Verdict::Fail(Reason::NoFaultReport { .. })), "{verdict:?}");
}

#[test]
fn expect_fail_line_fails_when_the_loader_hangs_silently() {
    let mut opts = TestOptions::new("loader-error-fake", sh("echo 'tessera-loader: starting'; sleep 30"));
    opts.expect_fail = true;
    opts.expect_fail_line = "tessera-loader: error".into();
    opts.limits = Limits { timeout: Duration::from_secs(1), ..Limits::default() };
    let (verdict, out) = run(&opts);
    assert_eq!(verdict, Verdict::Fail(Reason::Timeout(Duration::from_secs(1))), "{out}");
}

#[test]
fn wrong_exit_status_and_missing_marker_fail() {
    let (verdict, _) = run(&TestOptions::new("x", sh("echo kernel: boot ok; exit 35")));
    assert_eq!(verdict, Verdict::Fail(Reason::ExitStatus(35)));
    let (verdict, _) = run(&TestOptions::new("x", sh("echo kernel: entered; exit 33")));
    assert_eq!(verdict, Verdict::Fail(Reason::MarkerMissing));
}

#[test]
fn missing_program_is_a_failure_not_a_crash() {
    let (verdict, out) = run(&TestOptions::new("x", vec!["/nonexistent/qemu-system-x86_64".into()]));
    assert!(matches!(verdict, Verdict::Fail(Reason::CouldNotRun(_))), "{verdict:?}");
    assert!(out.starts_with("FAIL x: could not run /nonexistent/qemu-system-x86_64"));
}

#[test]
fn timeout_kills_the_command_and_its_children() {
    let dir = Scratch::new("timeout");
    let pid_file = dir.join("sleeper.pid");
    let mut opts = TestOptions::new(
        "hang-fake",
        sh(&format!("echo tessera-loader: starting; sleep 30 & echo $! > {}; wait", pid_file.display())),
    );
    opts.limits = Limits { timeout: Duration::from_secs(1), ..Limits::default() };
    opts.expect_fail = true; // a timeout must fail expect-fail tests too
    let started = Instant::now();
    let (verdict, out) = run(&opts);
    let took = started.elapsed();
    assert_eq!(verdict, Verdict::Fail(Reason::Timeout(Duration::from_secs(1))));
    assert!(out.starts_with("FAIL hang-fake: timeout after 1 s\n"), "{out}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let sleeper = read_pid(&pid_file);
    assert!(dies_within(sleeper, Duration::from_secs(2)), "the grandchild {sleeper} survived the timeout");
}

#[test]
fn timeout_escalates_to_sigkill_when_sigterm_is_ignored() {
    let mut opts = TestOptions::new("stubborn-fake", sh("trap '' TERM; sleep 30"));
    opts.limits = Limits {
        timeout: Duration::from_millis(500),
        linger_after_failure: Duration::from_millis(100),
        kill_grace: Duration::from_millis(300),
    };
    let started = Instant::now();
    let (verdict, _) = run(&opts);
    assert_eq!(verdict, Verdict::Fail(Reason::Timeout(Duration::from_millis(500))));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[test]
fn failure_line_stops_a_guest_that_hangs_after_it() {
    let mut opts = TestOptions::new("panic-fake", sh("echo kernel: entered; echo 'KERNEL PANIC: no init'; sleep 30"));
    opts.limits = Limits {
        timeout: Duration::from_secs(20),
        linger_after_failure: Duration::from_millis(200),
        kill_grace: Duration::from_secs(2),
    };
    let started = Instant::now();
    let (verdict, _) = run(&opts);
    assert_eq!(verdict, Verdict::Fail(Reason::FailureLine("KERNEL PANIC: no init".into())));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

/// The `boot-test` binary itself: exit statuses, the results file, and
/// `summary` over what the runs recorded.
#[test]
fn binary_runs_tests_and_summarises() {
    let dir = Scratch::new("binary");
    let results = dir.join("results.txt");
    let boot_test = |args: &[&str], fake: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_boot-test"))
            .args(args)
            .args(["--results", results.to_str().unwrap(), "--", "sh", "-c", fake])
            .output()
            .unwrap()
    };
    let good = boot_test(&["--name", "boot-fake", "--expect", "cpus: 2 (", "--expect", "memory: "], BANNER_BOOT);
    assert_eq!(good.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&good.stdout).starts_with("ok boot-fake\n"));
    let fault = boot_test(
        &["--name", "fault-fake", "--expect-fail"],
        "echo kernel: entered; echo 'KERNEL FAULT: #PF'; exit 35",
    );
    assert_eq!(fault.status.code(), Some(0), "{}", String::from_utf8_lossy(&fault.stdout));
    let loader = boot_test(
        &["--name", "loader-fake", "--expect-fail", "--expect-fail-line", "tessera-loader: error"],
        "echo 'tessera-loader: error: \\kernel is not an ELF file'; sleep 30",
    );
    assert_eq!(loader.status.code(), Some(0), "{}", String::from_utf8_lossy(&loader.stdout));
    let bad = boot_test(&["--name", "bad-fake", "--timeout", "1"], "sleep 30");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).starts_with("FAIL bad-fake: timeout after 1 s\n"));
    assert_eq!(
        fs::read_to_string(&results).unwrap(),
        "pass boot-fake\npass fault-fake\npass loader-fake\nfail bad-fake\n"
    );

    let cargo_log = dir.join("cargo-test.log");
    fs::write(&cargo_log, "test result: ok. 5 passed; 0 failed; 0 ignored\n").unwrap();
    let summary = std::process::Command::new(env!("CARGO_BIN_EXE_boot-test"))
        .args(["summary", "--results", results.to_str().unwrap()])
        .args(["--cargo-log", cargo_log.to_str().unwrap(), "--cargo-exit", "0"])
        .output()
        .unwrap();
    assert_eq!(summary.status.code(), Some(1));
    let text = String::from_utf8(summary.stdout).unwrap();
    assert_eq!(text.lines().last(), Some("8 passed, 1 failed"), "{text}");
}

#[test]
fn leftovers_of_a_command_that_exited_are_ended() {
    let dir = Scratch::new("leftover");
    let pid_file = dir.join("leftover.pid");
    let script = format!("sleep 30 & echo $! > {}; echo kernel: boot ok; exit 33", pid_file.display());
    let started = Instant::now();
    let (verdict, out) = run(&TestOptions::new("leftover-fake", sh(&script)));
    assert_eq!(verdict, Verdict::Pass, "{out}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let leftover = read_pid(&pid_file);
    assert!(dies_within(leftover, Duration::from_secs(2)), "{leftover} outlived the run");
}

/// A test image's boot: the banner, then init runs the guest testrunner,
/// which prints its lines (`GUEST`, a shell snippet), then the kernel exits
/// QEMU with `status`.
fn guest_boot(guest: &str, status: i32) -> Vec<String> {
    sh(&format!(
        "echo tessera-loader: starting; echo kernel: entered; echo kernel: boot ok; echo 'init: started (pid 1)'; \
         {guest}; echo 'kernel: init exited with status 0'; exit {status}"
    ))
}

/// The guest lines of a suite of three that passed, with look-alikes that
/// are no results, and ANSI colours around one result.
const GUEST_PASS: &str = "echo 'hello: ok: argc >= 1'; echo ok hello; echo 'hello: 5 of 5 checks passed'; \
    printf '\\033[32mok\\033[0m syscall-errors\\r\\n'; echo ok user-scheme; echo '3 passed, 0 failed'";

#[test]
fn guest_results_are_counted_and_recorded() {
    let dir = Scratch::new("guest-pass");
    let mut opts = TestOptions::new("boot-fake", guest_boot(GUEST_PASS, 33));
    opts.guest_results = true;
    opts.results = Some(dir.join("results.txt"));
    let (verdict, out) = run(&opts);
    assert_eq!(verdict, Verdict::Pass, "{out}");
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines[0], "ok boot-fake");
    assert_eq!(lines[2], "  boot-fake: guest tests 3 passed, 0 failed", "{out}");
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(
        fs::read_to_string(dir.join("results.txt")).unwrap(),
        "pass guest-fake:hello\npass guest-fake:syscall-errors\npass guest-fake:user-scheme\npass boot-fake\n"
    );

    // Without --guest-results the same run records the boot test only.
    fs::remove_file(dir.join("results.txt")).unwrap();
    opts.guest_results = false;
    let (verdict, out) = run(&opts);
    assert_eq!(verdict, Verdict::Pass, "{out}");
    assert!(!out.contains("guest tests"), "{out}");
    assert_eq!(fs::read_to_string(dir.join("results.txt")).unwrap(), "pass boot-fake\n");
}

#[test]
fn failed_guest_tests_count_one_each() {
    let dir = Scratch::new("guest-fail");
    let guest = "echo ok hello; echo 'FAIL pipe-16m: exited with status 1'; \
        echo 'FAIL clock: killed by signal 11'; echo '1 passed, 2 failed'";
    let mut opts = TestOptions::new("boot-x86_64", guest_boot(guest, 35));
    opts.guest_results = true;
    opts.results = Some(dir.join("results.txt"));
    let (verdict, out) = run(&opts);
    assert_eq!(verdict, Verdict::Fail(Reason::ExitStatus(35)), "{out}");
    assert!(out.contains("\n  boot-x86_64: guest tests 1 passed, 2 failed (failed: pipe-16m, clock)\n"), "{out}");
    assert_eq!(
        fs::read_to_string(dir.join("results.txt")).unwrap(),
        "pass guest-x86_64:hello\nfail guest-x86_64:pipe-16m\nfail guest-x86_64:clock\nfail boot-x86_64\n"
    );
}

#[test]
fn a_guest_summary_that_disagrees_fails_the_boot_test() {
    let guest = "echo ok a; echo ok b; echo ok c; echo ok d; echo '3 passed, 1 failed'";
    let mut opts = TestOptions::new("boot-fake", guest_boot(guest, 33));
    opts.guest_results = true;
    let (verdict, out) = run(&opts);
    assert!(matches!(verdict, Verdict::Fail(Reason::Guest(Problem::Mismatch { .. }))), "{verdict:?}");
    assert!(
        out.starts_with(
            "FAIL boot-fake: guest summary says 3 passed, 1 failed but 4 ok lines and 0 FAIL lines were seen\n"
        ),
        "{out}"
    );
}

#[test]
fn a_runner_crash_mid_suite_is_one_more_failure() {
    let dir = Scratch::new("guest-crash");
    // Two tests report, then the kernel panics: the rest never report.
    let guest = "echo ok hello; echo ok syscall-errors; echo 'user-faults: ok: #PF'; \
        echo 'KERNEL PANIC: double fault'; exit 35";
    let mut opts = TestOptions::new("boot-fake", guest_boot(guest, 35));
    opts.guest_results = true;
    opts.results = Some(dir.join("results.txt"));
    let (verdict, out) = run(&opts);
    assert_eq!(verdict, Verdict::Fail(Reason::FailureLine("KERNEL PANIC: double fault".into())), "{out}");
    assert!(out.contains("\n  boot-fake: guest tests 2 passed, 0 failed; no guest summary line"), "{out}");
    assert_eq!(
        fs::read_to_string(dir.join("results.txt")).unwrap(),
        "pass guest-fake:hello\npass guest-fake:syscall-errors\nfail guest-fake:runner\nfail boot-fake\n"
    );

    // A hang mid-suite: the timeout fails the boot test, the runner fails too.
    fs::remove_file(dir.join("results.txt")).unwrap();
    opts.command = guest_boot("echo ok hello; sleep 30", 33);
    opts.limits = Limits { timeout: Duration::from_secs(1), ..Limits::default() };
    let (verdict, out) = run(&opts);
    assert_eq!(verdict, Verdict::Fail(Reason::Timeout(Duration::from_secs(1))), "{out}");
    assert_eq!(
        fs::read_to_string(dir.join("results.txt")).unwrap(),
        "pass guest-fake:hello\nfail guest-fake:runner\nfail boot-fake\n"
    );
}

/// The binary with `--guest-results --verbose`, then `summary`: every guest
/// test counts, and the guest's own `N passed, N failed` never stands alone
/// on a line, so the summary's closing line is the only such line.
#[test]
fn binary_counts_guest_tests_in_the_summary() {
    let dir = Scratch::new("guest-binary");
    let results = dir.join("results.txt");
    let boot_test = |name: &str, fake: Vec<String>| {
        std::process::Command::new(env!("CARGO_BIN_EXE_boot-test"))
            .args(["--name", name, "--guest-results", "--verbose", "--results", results.to_str().unwrap(), "--"])
            .args(fake)
            .output()
            .unwrap()
    };
    let good = boot_test("boot-x86_64", guest_boot(GUEST_PASS, 33));
    let stdout = String::from_utf8_lossy(&good.stdout);
    assert_eq!(good.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("boot-x86_64 | ["), "echoed: {stdout}");
    assert!(stdout.contains("  boot-x86_64: guest tests 3 passed, 0 failed\n"), "{stdout}");
    let bad = boot_test(
        "boot-aarch64",
        guest_boot("echo ok hello; echo 'FAIL clock: exited with status 1'; echo '1 passed, 1 failed'", 35),
    );
    assert_eq!(bad.status.code(), Some(1));
    for out in [&good.stdout, &bad.stdout] {
        let out = String::from_utf8_lossy(out);
        let alone = out.lines().find(|l| matches!(guest::parse(l), Some(GuestLine::Summary(_))));
        assert_eq!(alone, None, "{out}");
    }

    let summary = std::process::Command::new(env!("CARGO_BIN_EXE_boot-test"))
        .args(["summary", "--results", results.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(summary.status.code(), Some(1));
    let text = String::from_utf8(summary.stdout).unwrap();
    assert!(text.contains("summary: lint and boot tests: 1 passed, 1 failed\n"), "{text}");
    assert!(text.contains("summary: guest tests (in QEMU): 4 passed, 1 failed\n"), "{text}");
    assert!(text.contains("summary: failed: boot-aarch64, guest-aarch64:clock\n"), "{text}");
    assert_eq!(text.lines().last(), Some("5 passed, 2 failed"), "{text}");
}

#[test]
fn kill_after_cuts_the_power_at_once_and_judges_the_run() {
    // The fake would write a file after the line unless it is SIGKILLed at once
    // (TERM is ignored, so only SIGKILL ends it in time).
    let dir = Scratch::new("kill-after");
    let after = dir.join("after-the-line");
    let script = format!(
        "trap '' TERM; echo kernel: entered; echo kernel: boot ok; echo 'persist: msync returned'; \
         sleep 1; touch {}; exit 33",
        after.display()
    );
    let mut opts = TestOptions::new("persist-fake", sh(&script));
    opts.kill_after = Some("persist: msync returned".into());
    opts.expect = vec!["persist: msync returned".into()];
    let started = Instant::now();
    let (verdict, out) = run(&opts);
    assert_eq!(verdict, Verdict::Pass, "{out}");
    assert!(started.elapsed() < Duration::from_millis(900), "{:?}", started.elapsed());
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!after.exists(), "the fake went on running after the kill");

    // No kill line: the expectation is missing (the run exits by itself).
    let mut opts = TestOptions::new("persist-fake", sh("echo kernel: boot ok; exit 33"));
    opts.kill_after = Some("persist: msync returned".into());
    opts.expect = vec!["persist: msync returned".into()];
    let (verdict, _) = run(&opts);
    assert_eq!(verdict, Verdict::Fail(Reason::ExpectedMissing("persist: msync returned".into())));

    // A failure line before it: judged as a failure, not killed as asked.
    let mut opts = TestOptions::new(
        "persist-fake",
        sh("echo kernel: boot ok; echo 'KERNEL PANIC: x'; echo 'persist: msync returned'"),
    );
    opts.kill_after = Some("persist: msync returned".into());
    let (verdict, _) = run(&opts);
    assert_eq!(verdict, Verdict::Fail(Reason::FailureLine("KERNEL PANIC: x".into())));
}
