//! `tools`: the core tools (programs/coreutils) and `mmapdemo`, each run
//! as a child (`initfs:bin/TOOL`) with its standard input, output and
//! error on pipes; the test checks what they print, their exit status and
//! what they leave behind (through `open` / `fstat` of its own), in a
//! directory `file:/tools-test` on the image's root filesystem (redoxfsd).
//!
//! | group | checks |
//! |---|---|
//! | files | `mkdir` (`-p`, EEXIST), `touch`, `echo` (`-n`), `cat` (files, `-`, stdin, a missing file among others), `ls` and `ls -l` of the directory, of a file, and of `$PWD` without operand, `cp` (into a directory too), `mv` (a file, a directory), `rm` (`-r`, `-f`, a directory without `-r`) |
//! | processes | `ps` lists the test's own pid; `kill -TERM`, `-9`, `-INT` end a sleeping child, whose status shows the signal; `kill` of no such process |
//! | memory | `free`'s total is `sys:memory`'s and used + free = total; `pmap PID` of a sleeping child lists its stack and its text (`r-x`) with kinds; `pmap` alone shows its own |
//! | system | `uname`, `uname -a` (this arch), `sleep 0.1` takes ≥ 100 ms, `true`, `false` |
//! | mmapdemo | exits 0, shows the file pinned while mapped and 0 after, and `cat` shows the store |
//! | errors | missing files: status 1 and `TOOL: PATH: ENOENT (No such file or directory)` on fd 2; unknown options and bad operands: status 2 and the usage line |
//!
//! `shutdown` and `reboot` are not run here: they would end the test run
//! (docs/tools.md says how to try them).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use tessera_guest_tests::Checks;
use tessera_guest_tests::system::{read_full, reap};
use tessera_runtime::abi::flag::{CLOCK_MONOTONIC, MODE_DIR, MODE_TYPE, O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY};
use tessera_runtime::abi::signal::{SIGINT, SIGKILL, SIGTERM};
use tessera_runtime::abi::{Result, Stat};
use tessera_runtime::sys::{self, Fork, WaitStatus};
use tessera_runtime::{Args, io, process};

tessera_runtime::entry!(main);

/// The test's directory on the image's root filesystem.
const DIR: &str = "file:/tools-test";
/// The environment of tools that resolve relative paths.
const IN_DIR: &[&str] = &["PWD=file:/tools-test"];
/// What the test writes to `DIR/notes`.
const NOTES: &str = "one\ntwo\n";

/// What a tool did: its output, error output and wait status.
struct Ran {
    out: String,
    err: String,
    status: Option<WaitStatus>,
}

impl Ran {
    fn code(&self) -> Option<usize> {
        self.status.and_then(WaitStatus::code)
    }

    /// A summary for failure messages.
    fn show(&self) -> String {
        format!("status {:?}, stdout {:?}, stderr {:?}", self.status, self.out, self.err)
    }
}

/// Runs `initfs:bin/ARGV[0]` with `argv`, `env` and `stdin` as its
/// standard input, and collects what it prints.
fn run_with(argv: &[&str], env: &[&str], stdin: &[u8]) -> Ran {
    let failed = |what: &str| Ran { out: String::new(), err: String::from(what), status: None };
    let (Ok([in_r, in_w]), Ok([out_r, out_w]), Ok([err_r, err_w])) = (sys::pipe2(0), sys::pipe2(0), sys::pipe2(0))
    else {
        return failed("pipe2 failed");
    };
    let all = [in_r, in_w, out_r, out_w, err_r, err_w];
    let pid = match sys::fork() {
        Ok(Fork::Child) => {
            let _ = sys::dup2(in_r, 0).and_then(|_| sys::dup2(out_w, 1)).and_then(|_| sys::dup2(err_w, 2));
            for fd in all {
                let _ = sys::close(fd);
            }
            let error = sys::execve(&process::program_path(argv[0]), argv, env);
            sys::exit(100 + error.errno as usize)
        }
        Ok(Fork::Parent { pid }) => pid,
        Err(_) => {
            for fd in all {
                let _ = sys::close(fd);
            }
            return failed("fork failed");
        }
    };
    for fd in [in_r, out_w, err_w] {
        let _ = sys::close(fd);
    }
    let _ = io::write_all(in_w, stdin);
    let _ = sys::close(in_w);
    let out = read_all(out_r);
    let err = read_all(err_r);
    let _ = sys::close(out_r);
    let _ = sys::close(err_r);
    Ran { out, err, status: reap(pid).ok().map(|(_, status)| status) }
}

/// Runs a tool with no environment and empty standard input.
fn run(argv: &[&str]) -> Ran {
    run_with(argv, &[], b"")
}

/// Everything up to the end of `fd`, as text.
fn read_all(fd: usize) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n) = read_full(fd, &mut buf) {
        data.extend_from_slice(&buf[..n]);
        if n < buf.len() {
            break;
        }
    }
    String::from_utf8_lossy(&data).into_owned()
}

fn at(name: &str) -> String {
    format!("{DIR}/{name}")
}

fn stat(path: &str) -> Result<Stat> {
    let fd = sys::open(path, O_RDONLY)?;
    let stat = sys::fstat(fd);
    let _ = sys::close(fd);
    stat
}

fn is_dir(path: &str) -> bool {
    stat(path).is_ok_and(|s| s.st_mode & MODE_TYPE == MODE_DIR)
}

fn exists(path: &str) -> bool {
    stat(path).is_ok()
}

fn content(path: &str) -> Option<String> {
    io::read_file(path).ok().map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

fn write_file(path: &str, text: &str) -> Result<()> {
    let fd = sys::open(path, O_CREAT | O_TRUNC | O_WRONLY)?;
    let written = io::write_all(fd, text.as_bytes());
    let _ = sys::close(fd);
    written
}

/// Checks that `ran` exited with `code`.
fn status_is(checks: &mut Checks, what: &str, ran: &Ran, code: usize) {
    checks.check(what, ran.code() == Some(code), format_args!("{}", ran.show()));
}

/// Checks a usage error: status 2, the problem and the usage line on fd 2.
fn usage_error(checks: &mut Checks, argv: &[&str], problem: &str) {
    let ran = run(argv);
    let usage = format!("usage: {}", argv[0]);
    checks.check(
        &format!("errors: `{}` is a usage error (2)", argv.join(" ")),
        ran.code() == Some(2) && ran.err.contains(problem) && ran.err.contains(&usage) && ran.out.is_empty(),
        format_args!("{}", ran.show()),
    );
}

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("tools");
    let ran = run(&["rm", "-r", "-f", DIR]);
    status_is(&mut checks, "files: rm -r -f clears leftovers", &ran, 0);
    files(&mut checks);
    processes(&mut checks);
    memory(&mut checks);
    system(&mut checks);
    mmapdemo(&mut checks);
    errors(&mut checks);
    let ran = run(&["rm", "-r", DIR]);
    checks.check(
        "files: rm -r removes the test's tree",
        ran.code() == Some(0) && !exists(DIR),
        format_args!("{}", ran.show()),
    );
    checks.finish()
}

fn files(checks: &mut Checks) {
    let ran = run(&["mkdir", DIR]);
    checks.check("mkdir makes a directory", ran.code() == Some(0) && is_dir(DIR), format_args!("{}", ran.show()));
    let ran = run(&["mkdir", DIR]);
    checks.check(
        "mkdir of an existing directory: 1, EEXIST",
        ran.code() == Some(1) && ran.err == format!("mkdir: {DIR}: EEXIST (File exists)\n"),
        format_args!("{}", ran.show()),
    );
    let ran = run(&["mkdir", "-p", &at("a/b/c")]);
    checks.check(
        "mkdir -p makes parents",
        ran.code() == Some(0) && is_dir(&at("a/b/c")),
        format_args!("{}", ran.show()),
    );
    let ran = run(&["mkdir", "-p", &at("a/b")]);
    status_is(checks, "mkdir -p of an existing directory: 0", &ran, 0);

    let ran = run(&["echo", "hello", "world"]);
    checks.check("echo", ran.out == "hello world\n" && ran.code() == Some(0), format_args!("{}", ran.show()));
    let ran = run(&["echo", "-n", "x", "y"]);
    checks.check("echo -n", ran.out == "x y", format_args!("{}", ran.show()));

    let ran = run_with(&["touch", "t"], IN_DIR, b"");
    checks.check(
        "touch makes an empty file ($PWD-relative)",
        ran.code() == Some(0) && stat(&at("t")).is_ok_and(|s| s.st_size == 0),
        format_args!("{}", ran.show()),
    );
    let written = write_file(&at("notes"), NOTES);
    checks.check("write notes", written.is_ok(), format_args!("{written:?}"));
    let ran = run(&["touch", &at("notes")]);
    checks.check(
        "touch keeps an existing file's bytes",
        ran.code() == Some(0) && content(&at("notes")).as_deref() == Some(NOTES),
        format_args!("{}", ran.show()),
    );

    let ran = run(&["cat", &at("notes")]);
    checks.check("cat FILE", ran.out == NOTES && ran.code() == Some(0), format_args!("{}", ran.show()));
    let ran = run_with(&["cat"], &[], b"piped\n");
    checks.check("cat reads stdin", ran.out == "piped\n" && ran.code() == Some(0), format_args!("{}", ran.show()));
    let ran = run_with(&["cat", "notes", "-", "notes"], IN_DIR, b"mid\n");
    checks.check(
        "cat FILE - FILE",
        ran.out == format!("{NOTES}mid\n{NOTES}") && ran.code() == Some(0),
        format_args!("{}", ran.show()),
    );
    let ran = run(&["cat", &at("missing"), &at("notes")]);
    checks.check(
        "cat of a missing file: 1, ENOENT, the other file still printed",
        ran.code() == Some(1)
            && ran.out == NOTES
            && ran.err == format!("cat: {DIR}/missing: ENOENT (No such file or directory)\n"),
        format_args!("{}", ran.show()),
    );

    let ran = run(&["ls", DIR]);
    checks.check(
        "ls DIR: sorted names",
        ran.out == "a\nnotes\nt\n" && ran.code() == Some(0),
        format_args!("{}", ran.show()),
    );
    let ran = run_with(&["ls"], IN_DIR, b"");
    checks.check("ls without operand lists $PWD", ran.out == "a\nnotes\nt\n", format_args!("{}", ran.show()));
    let ran = run(&["ls", "-l", DIR]);
    let lines: Vec<&str> = ran.out.lines().collect();
    let long_ok = lines.len() == 3
        && lines[0].starts_with('d')
        && lines[0].ends_with(" a")
        && lines[1].starts_with("-rw")
        && lines[1].split_whitespace().collect::<Vec<_>>().get(1..) == Some(&["8", "notes"][..])
        && lines[2].starts_with('-')
        && lines[2].split_whitespace().nth(1) == Some("0");
    checks.check("ls -l DIR: kind, size, name", long_ok && ran.code() == Some(0), format_args!("{}", ran.show()));
    let ran = run(&["ls", &at("notes")]);
    checks.check("ls FILE names it", ran.out == format!("{DIR}/notes\n"), format_args!("{}", ran.show()));

    let ran = run_with(&["cp", "notes", "copy"], IN_DIR, b"");
    checks.check(
        "cp FILE FILE",
        ran.code() == Some(0) && content(&at("copy")).as_deref() == Some(NOTES),
        format_args!("{}", ran.show()),
    );
    let ran = run_with(&["cp", "notes", "a"], IN_DIR, b"");
    checks.check(
        "cp FILE DIR copies into it",
        ran.code() == Some(0) && content(&at("a/notes")).as_deref() == Some(NOTES),
        format_args!("{}", ran.show()),
    );
    let ran = run_with(&["mv", "copy", "moved"], IN_DIR, b"");
    checks.check(
        "mv FILE FILE renames",
        ran.code() == Some(0) && !exists(&at("copy")) && content(&at("moved")).as_deref() == Some(NOTES),
        format_args!("{}", ran.show()),
    );
    let ran = run(&["mv", &at("a/b"), &at("a/d")]);
    checks.check(
        "mv DIR DIR renames a directory with its contents",
        ran.code() == Some(0) && !exists(&at("a/b")) && is_dir(&at("a/d/c")),
        format_args!("{}", ran.show()),
    );
    let ran = run(&["mv", &at("moved"), &at("a")]);
    checks.check(
        "mv FILE DIR moves into it",
        ran.code() == Some(0) && !exists(&at("moved")) && exists(&at("a/moved")),
        format_args!("{}", ran.show()),
    );

    let ran = run(&["rm", &at("t")]);
    checks.check("rm FILE", ran.code() == Some(0) && !exists(&at("t")), format_args!("{}", ran.show()));
    let ran = run(&["rm", &at("a")]);
    checks.check(
        "rm DIR without -r: 1, EISDIR, nothing removed",
        ran.code() == Some(1) && ran.err.contains("EISDIR") && is_dir(&at("a")),
        format_args!("{}", ran.show()),
    );
    let ran = run(&["rm", "-r", &at("a")]);
    checks.check(
        "rm -r DIR removes the tree",
        ran.code() == Some(0) && !exists(&at("a")),
        format_args!("{}", ran.show()),
    );
    let ran = run(&["rm", "-f", &at("missing")]);
    status_is(checks, "rm -f of a missing file: 0", &ran, 0);
}

/// Starts `sleep 10` as a child (output to the test's own stdout).
fn sleeper() -> Option<usize> {
    process::spawn(&process::program_path("sleep"), &["sleep", "10"], &[]).ok()
}

fn processes(checks: &mut Checks) {
    let me = sys::getpid().unwrap_or(0);
    let ran = run(&["ps"]);
    let listed = ran.out.lines().skip(1).any(|line| line.split_whitespace().next() == Some(&format!("{me}")));
    checks.check(
        "ps lists the test's own pid",
        ran.code() == Some(0) && ran.out.trim_start().starts_with("PID") && listed,
        format_args!("pid {me}: {}", ran.show()),
    );
    for (option, signal) in [("-TERM", SIGTERM), ("-9", SIGKILL), ("-INT", SIGINT)] {
        let Some(pid) = sleeper() else {
            checks.check("kill: start sleep", false, format_args!("spawn failed"));
            continue;
        };
        let ran = run(&["kill", option, &format!("{pid}")]);
        let status = reap(pid).ok().map(|(_, s)| s);
        checks.check(
            &format!("kill {option} ends a sleeping child with signal {signal}"),
            ran.code() == Some(0) && status.and_then(WaitStatus::signal) == Some(signal),
            format_args!("child {status:?}; {}", ran.show()),
        );
    }
    let ran = run(&["kill", "999999"]);
    checks.check(
        "kill of no such process: 1, ESRCH",
        ran.code() == Some(1) && ran.err == "kill: 999999: ESRCH (No such process)\n",
        format_args!("{}", ran.show()),
    );
}

/// The numbers of `free`'s `Mem:` line: total, used, free.
fn mem_line(out: &str) -> Option<[u64; 3]> {
    let line = out.lines().find(|line| line.starts_with("Mem:"))?;
    let numbers: Vec<u64> = line.split_whitespace().skip(1).filter_map(|w| w.parse().ok()).collect();
    numbers.try_into().ok()
}

fn memory(checks: &mut Checks) {
    let ran = run(&["free"]);
    let memory = content("sys:memory").unwrap_or_default();
    let value =
        |key: &str| -> u64 { memory.lines().find_map(|l| l.strip_prefix(key)?.trim().parse().ok()).unwrap_or(0) };
    let page_kib = value("page_size ") / 1024;
    let (total, free) = (value("total_frames ") * page_kib, value("free_frames ") * page_kib);
    let numbers = mem_line(&ran.out);
    // Free memory moves a little as processes come and go: 4 MiB of slack.
    let ok = numbers.is_some_and(|[t, u, f]| t == total && u + f == t && f.abs_diff(free) <= 4096);
    checks.check(
        "free: total as sys:memory, used + free = total, free close to sys:memory's",
        ok && ran.code() == Some(0) && total > 0,
        format_args!("sys:memory total {total} free {free} KiB; {}", ran.show()),
    );

    match sleeper() {
        Some(pid) => {
            // Let it reach its nanosleep (its image and stack are mapped
            // from the start; this only makes the output steadier).
            let _ = sys::nanosleep(&tessera_runtime::abi::TimeSpec { tv_sec: 0, tv_nsec: 20_000_000 }, None);
            let ran = run(&["pmap", &format!("{pid}")]);
            let _ = sys::kill(pid, SIGKILL);
            let _ = reap(pid);
            let grants: Vec<Vec<&str>> = ran.out.lines().skip(2).map(|l| l.split_whitespace().collect()).collect();
            let has = |perm: &str, kind: Option<&str>| {
                grants.iter().any(|g| g.len() == 5 && g[3].starts_with(perm) && kind.is_none_or(|k| g[4] == k))
            };
            checks.check(
                "pmap PID lists the child's stack and text grants with kinds",
                ran.code() == Some(0)
                    && ran.out.starts_with(&format!("{pid}: "))
                    && has("rw-", Some("stack"))
                    && has("r-x", None)
                    && ran.out.lines().last().is_some_and(|l| l.starts_with("total")),
                format_args!("{}", ran.show()),
            );
        }
        None => checks.check("pmap: start sleep", false, format_args!("spawn failed")),
    }
    let ran = run(&["pmap"]);
    checks.check(
        "pmap alone shows its own grants",
        ran.code() == Some(0) && ran.out.contains(" stack"),
        format_args!("{}", ran.show()),
    );
    let ran = run(&["pmap", "999999"]);
    checks.check(
        "pmap of no such process: 1, ESRCH",
        ran.code() == Some(1) && ran.err.contains("999999: ESRCH"),
        format_args!("{}", ran.show()),
    );
}

fn system(checks: &mut Checks) {
    let ran = run(&["uname"]);
    checks.check("uname", ran.out == "Tessera\n" && ran.code() == Some(0), format_args!("{}", ran.show()));
    let arch = if cfg!(target_arch = "aarch64") { "aarch64" } else { "x86_64" };
    let ran = run(&["uname", "-a"]);
    let words: Vec<&str> = ran.out.split_whitespace().collect();
    checks.check(
        "uname -a: Tessera VERSION ARCH",
        words.len() >= 3 && words[0] == "Tessera" && words.last() == Some(&arch) && ran.code() == Some(0),
        format_args!("{}", ran.show()),
    );
    let start = sys::clock_gettime(CLOCK_MONOTONIC);
    let ran = run(&["sleep", "0.1"]);
    let end = sys::clock_gettime(CLOCK_MONOTONIC);
    let elapsed_ms = match (start, end) {
        (Ok(s), Ok(e)) => {
            ((e.tv_sec - s.tv_sec) * 1000 + (i64::from(e.tv_nsec) - i64::from(s.tv_nsec)) / 1_000_000).max(0)
        }
        _ => 0,
    };
    checks.check(
        "sleep 0.1 takes at least 100 ms",
        ran.code() == Some(0) && elapsed_ms >= 100,
        format_args!("{elapsed_ms} ms; {}", ran.show()),
    );
    status_is(checks, "true exits 0", &run(&["true"]), 0);
    status_is(checks, "false exits 1", &run(&["false"]), 1);
}

fn mmapdemo(checks: &mut Checks) {
    let file = at("demo.txt");
    let ran = run(&["mmapdemo", &file]);
    let mapped = ran
        .out
        .lines()
        .find_map(|l| l.trim().strip_prefix("redoxfsd pins on the file while mapped: "))
        .and_then(|n| n.parse::<usize>().ok());
    checks.check(
        "mmapdemo: exits 0, pinned while mapped, 0 pins after munmap",
        ran.code() == Some(0)
            && mapped.is_some_and(|n| n > 0)
            && ran.out.contains("pins on the file after munmap: 0\n"),
        format_args!("{}", ran.show()),
    );
    let ran = run(&["cat", &file]);
    checks.check(
        "mmapdemo: cat shows the store through the mapping",
        ran.out.contains("written through the mapping"),
        format_args!("{}", ran.show()),
    );
    let ran = run(&["mmapdemo", "initfs:mmapdemo.txt"]);
    checks.check(
        "mmapdemo on a read-only scheme: 1 and a message",
        ran.code() == Some(1) && ran.err.starts_with("mmapdemo: initfs:mmapdemo.txt: "),
        format_args!("{}", ran.show()),
    );
}

fn errors(checks: &mut Checks) {
    let ran = run(&["ls", &at("missing")]);
    checks.check(
        "errors: ls of a missing path: 1, ENOENT",
        ran.code() == Some(1) && ran.err == format!("ls: {DIR}/missing: ENOENT (No such file or directory)\n"),
        format_args!("{}", ran.show()),
    );
    let ran = run(&["cp", &at("missing"), &at("x")]);
    checks.check(
        "errors: cp of a missing file: 1, ENOENT",
        ran.code() == Some(1) && ran.err.contains("ENOENT") && !exists(&at("x")),
        format_args!("{}", ran.show()),
    );
    let ran = run(&["rm", &at("missing")]);
    checks.check("errors: rm of a missing file: 1", ran.code() == Some(1), format_args!("{}", ran.show()));
    usage_error(checks, &["ls", "-z"], "unknown option -z");
    usage_error(checks, &["cat", "-q"], "unknown option -q");
    usage_error(checks, &["mkdir"], "missing operand");
    usage_error(checks, &["cp", "one"], "expected two operands");
    usage_error(checks, &["kill", "-FOO", "1"], "unknown signal -FOO");
    usage_error(checks, &["kill"], "missing process id");
    usage_error(checks, &["pmap", "abc"], "not a process id");
    usage_error(checks, &["sleep", "soon"], "invalid time interval");
    usage_error(checks, &["uname", "-x"], "unknown option -x");
    let ran = run(&["ls", "--help"]);
    checks.check(
        "errors: --help prints usage, 0",
        ran.code() == Some(0) && ran.out.starts_with("usage: ls"),
        format_args!("{}", ran.show()),
    );
}
