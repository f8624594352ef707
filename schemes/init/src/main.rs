//! `init`: the first user process.
//!
//! It prints `init: started (pid N)`, then works through
//! `initfs:etc/init.rc` line by line (or the script its first argument
//! names, `init RC-PATH`, which only tests use). One command per line,
//! words split at whitespace, `#` starts a comment, blank lines are
//! skipped (`process::program_lines`). A bare program name is
//! `initfs:bin/<name>`; a name with `:` or `/` is used as it is. Every
//! program runs in its own process (fork + execve) with init's environment
//! (see `export`) and init's fds 0-2 (see `stdio`). Each step is reported
//! on the console with a line starting `init: `.
//!
//! | line | what init does | report |
//! |---|---|---|
//! | `daemon PROGRAM [ARGS...]` | starts PROGRAM and goes on at once | `init: started daemon NAME (pid N)` |
//! | `wait-scheme NAME` | waits until the scheme `NAME:` is registered (checking every ms, at most [`WAIT_SCHEME_MS`]) | `init: scheme NAME ready` / `… did not appear within N ms` (a failed line) |
//! | `export NAME=VALUE` | sets (or replaces) NAME in the environment of everything started afterwards | `init: export NAME=VALUE` |
//! | `stdio PATH` | reopens init's fds 0, 1 and 2 on PATH (e.g. `console:`): what is started afterwards inherits them, and init's own reports go there too | `init: stdio on PATH` |
//! | `respawn PROGRAM [ARGS...]` | starts PROGRAM, goes on at once, and starts it again whenever it ends | `init: started NAME (pid N), restarted when it ends` |
//! | any other line | runs the program in the foreground and waits for it | `init: running NAME (pid N)`, then `init: NAME exited with status S` |
//! | `privileged` + a `daemon`, `respawn` or program line | the same, but the program keeps init's privilege | the same, with `, privileged` after `(pid N)` |
//!
//! **Privilege** (docs/kernel.md): init is privileged; `execve` drops the
//! privilege, so every program it starts is unprivileged unless its line
//! starts with `privileged` (the child arms `keep-on-exec` before its
//! exec). `privileged` with any other line, or alone, is malformed.
//!
//! **`init:power`** ([`power`]): the first init serves `init:` from a
//! forked, still privileged copy of itself, so that unprivileged
//! `shutdown` and `reboot` can ask for what `sys:power` refuses them.
//!
//! **Daemons** are meant to run until init stops them; one that ends early
//! is reported when it is reaped (`init: daemon NAME (pid N) exited with
//! status S` or `… killed by signal S (SIGxxx)`); its status does not
//! change init's verdict (a daemon that cannot be forked at all does).
//!
//! **Respawned programs** (the shell on the console): when one ends, init
//! reports it (`init: NAME (pid N) exited with status S; restarting`) and
//! starts it again. One that ends within [`RESPAWN_FAST_MS`] of its start
//! is restarted after a pause of [`RESPAWN_PAUSE`]; after
//! [`RESPAWN_GIVE_UP`] such quick ends in a row init gives up on it
//! (`init: NAME ended N times in a row within 1000 ms of starting; not
//! restarting it`), which counts as a failed line.
//!
//! **Waiting.** While init waits for a foreground program — and, after the
//! last line, for as long as a respawned program is still being restarted
//! — it reaps every child that ends: daemons and respawned programs (as
//! above) and orphans it adopted (silently), so no zombie is left behind.
//!
//! The normal image's script (mk/kernel.mk) starts the disk driver
//! `virtio-blkd` (privileged) and waits for `disk:`, mounts the root with
//! `redoxfsd --partition TESSERA_ROOT file` and waits for `file:`, starts
//! `ramfs tmp` (`tmp:`), exports `PATH` and `HOME`, starts `consoled` and
//! waits for `console:`, moves init's stdio there and ends with `respawn
//! sh`: init then never ends. The test image's starts the same root, then
//! `daemon echod` and `privileged testrunner`.
//! Format and examples: `docs/init.md`.
//!
//! **The end** (only reached when nothing is respawned any more). After
//! the last line, init stops what is still running: it sends `SIGTERM` to
//! every live child — the daemons (`init: stopping daemon NAME (pid N)`)
//! and any adopted orphan (found in `sys:processes`) — reaps them for up
//! to [`children::STOP_GRACE_MS`], then sends `SIGKILL` to whatever is left
//! and waits as long again. Then it exits: with **0** if every foreground
//! program exited with 0, else with **1** — also when a line could not be
//! started or a child would not end (`init: NAME (pid N) did not end`).
//! The kernel prints init's status; in a test image it is the run's
//! verdict (QEMU exits 33 for 0, 35 otherwise), so the test runner's
//! result reaches the host and nothing outlives init.
#![no_std]
#![no_main]

extern crate alloc;

mod children;
mod power;

use alloc::string::String;
use alloc::vec::Vec;

use tessera_runtime::abi::TimeSpec;
use tessera_runtime::abi::error::EINTR;
use tessera_runtime::abi::flag::O_RDWR;
use tessera_runtime::sys::{self, ANY_CHILD, WaitStatus};
use tessera_runtime::{Args, Result, eprintln, io, println, process};

use children::{Daemon, Respawn};

tessera_runtime::entry!(main);

/// The script, unless the first argument names another.
const INIT_RC: &str = "initfs:etc/init.rc";
/// How long a `wait-scheme` line waits at most.
const WAIT_SCHEME_MS: u64 = 5000;
/// The pause between looks at the root scheme's listing.
const WAIT_SCHEME_POLL: TimeSpec = TimeSpec { tv_sec: 0, tv_nsec: 1_000_000 };
/// A respawned program that ends sooner than this after its start ended
/// "quickly" (it probably cannot run at all).
const RESPAWN_FAST_MS: u64 = 1000;
/// The pause before restarting a program that ended quickly.
const RESPAWN_PAUSE: TimeSpec = TimeSpec { tv_sec: 0, tv_nsec: 100_000_000 };
/// After this many quick ends in a row, init stops restarting a program.
const RESPAWN_GIVE_UP: u32 = 5;

/// What init keeps while it runs the script.
struct Init {
    /// The environment for what it starts (`KEY=value`), `export` lines
    /// included.
    env: Vec<String>,
    /// Daemons started and not reaped yet.
    daemons: Vec<Daemon>,
    /// Programs restarted when they end.
    respawns: Vec<Respawn>,
    /// Failed lines and foreground programs that did not exit with 0.
    failed: usize,
}

fn main(args: Args) -> i32 {
    match sys::getpid() {
        Ok(pid) => println!("init: started (pid {pid})"),
        Err(e) => println!("init: started (getpid failed: {e})"),
    }
    let rc = args.argv().get(1).copied().unwrap_or(INIT_RC);
    let text = match io::read_file(rc) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("init: cannot read {rc}: {e} (errno {})", e.errno);
            return 1;
        }
    };
    let Ok(text) = core::str::from_utf8(&text) else {
        eprintln!("init: {rc} is not UTF-8");
        return 1;
    };

    let mut init = Init {
        env: args.env().iter().map(|&kv| kv.into()).collect(),
        daemons: Vec::new(),
        respawns: Vec::new(),
        failed: 0,
    };
    match power::start() {
        Ok(Some(server)) => init.daemons.push(server),
        Ok(None) => {}
        Err(e) => {
            println!("init: cannot serve {}: {e} (errno {})", power::NAME, e.errno);
            init.failed += 1;
        }
    }
    for line in process::program_lines(text) {
        // Every failure has been reported by the line itself.
        if !init.run_line(line) {
            init.failed += 1;
        }
    }
    init.keep_respawning();
    if !children::stop_children(&mut init.daemons) {
        init.failed += 1;
    }
    if init.failed == 0 { 0 } else { 1 }
}

impl Init {
    /// Runs one script line; false if it failed (a foreground program that
    /// did not exit with 0 counts, and is reported by its status line).
    fn run_line(&mut self, line: &str) -> bool {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (privileged, words) = process::split_privileged(&words);
        match words {
            ["wait-scheme" | "export" | "stdio", ..] if privileged => {
                usage("privileged [daemon|respawn] PROGRAM [ARGS...]")
            }
            ["wait-scheme", name] => wait_scheme(name),
            ["wait-scheme", ..] => usage("wait-scheme NAME"),
            ["export", assignment] => self.export(assignment),
            ["export", ..] => usage("export NAME=VALUE"),
            ["stdio", path] => stdio(path),
            ["stdio", ..] => usage("stdio PATH"),
            ["daemon", argv @ ..] if !argv.is_empty() => self.start_daemon(argv, privileged),
            ["respawn", argv @ ..] if !argv.is_empty() => self.start_respawn(argv, privileged),
            ["daemon" | "respawn"] => usage("daemon|respawn PROGRAM [ARGS...]"),
            [] => usage("privileged [daemon|respawn] PROGRAM [ARGS...]"),
            argv => self.run_foreground(argv, privileged),
        }
    }

    /// `export NAME=VALUE`.
    fn export(&mut self, assignment: &str) -> bool {
        let Some((name, value)) = assignment.split_once('=') else { return usage("export NAME=VALUE") };
        if name.is_empty() {
            return usage("export NAME=VALUE");
        }
        self.env.retain(|kv| kv.split_once('=').map(|(n, _)| n) != Some(name));
        self.env.push(alloc::format!("{name}={value}"));
        println!("init: export {name}={value}");
        true
    }

    /// The environment as `execve` takes it.
    fn envp(&self) -> Vec<&str> {
        self.env.iter().map(String::as_str).collect()
    }

    fn start_daemon(&mut self, argv: &[&str], privileged: bool) -> bool {
        let name = argv[0];
        match spawn(argv, &self.envp(), privileged) {
            Ok(pid) => {
                println!("init: started daemon {name} (pid {pid}){}", privileged_note(privileged));
                self.daemons.push(Daemon { pid, name: name.into() });
                true
            }
            Err(e) => {
                println!("init: cannot run {name}: {e} (errno {})", e.errno);
                false
            }
        }
    }

    fn start_respawn(&mut self, argv: &[&str], privileged: bool) -> bool {
        let mut respawn = Respawn::new(argv, privileged);
        let started = respawn.start(&self.envp());
        if let Some(pid) = respawn.pid {
            println!(
                "init: started {} (pid {pid}){}, restarted when it ends",
                respawn.name(),
                privileged_note(privileged)
            );
        }
        self.respawns.push(respawn);
        started
    }

    fn run_foreground(&mut self, argv: &[&str], privileged: bool) -> bool {
        let name = argv[0];
        let pid = match spawn(argv, &self.envp(), privileged) {
            Ok(pid) => pid,
            Err(e) => {
                println!("init: cannot run {name}{}: {e} (errno {})", privileged_note(privileged), e.errno);
                return false;
            }
        };
        println!("init: running {name} (pid {pid}){}", privileged_note(privileged));
        match self.wait_for(pid) {
            Ok(status) => {
                println!("init: {name} {status}");
                if !status.success() {
                    // Reported by the status line; counted, not "failed" again.
                    self.failed += 1;
                }
                true
            }
            Err(e) => {
                println!("init: cannot wait for {name}: {e} (errno {})", e.errno);
                false
            }
        }
    }

    /// Waits for child `pid` to end and returns its status; every other
    /// child that ends meanwhile is reaped (see [`Init::reaped`]).
    /// Errors: those of `sys::waitpid` but EINTR.
    fn wait_for(&mut self, pid: usize) -> Result<WaitStatus> {
        loop {
            match sys::waitpid(ANY_CHILD, 0) {
                Ok(Some((child, status))) if child == pid => return Ok(status),
                Ok(Some((child, status))) => self.reaped(child, status),
                // Without WNOHANG the kernel returns only once a child ended.
                Ok(None) => {}
                Err(e) if e.errno == EINTR => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// After the last line: as long as some program is respawned, reap
    /// children (restarting those) for ever.
    fn keep_respawning(&mut self) {
        while self.respawns.iter().any(|r| r.pid.is_some()) {
            match sys::waitpid(ANY_CHILD, 0) {
                Ok(Some((child, status))) => self.reaped(child, status),
                Ok(None) => {}
                Err(e) if e.errno == EINTR => {}
                Err(e) => {
                    println!("init: waiting for children failed: {e} (errno {})", e.errno);
                    self.failed += 1;
                    return;
                }
            }
        }
    }

    /// A child other than the foreground program ended: a daemon is
    /// reported and forgotten, a respawned program reported and restarted
    /// (or given up); an adopted orphan needs no report.
    fn reaped(&mut self, pid: usize, status: WaitStatus) {
        if children::reaped_daemon(pid, status, &mut self.daemons) {
            return;
        }
        let envp: Vec<String> = self.env.clone();
        let envp: Vec<&str> = envp.iter().map(String::as_str).collect();
        if let Some(respawn) = self.respawns.iter_mut().find(|r| r.pid == Some(pid))
            && !respawn.ended(status, &envp)
        {
            self.failed += 1;
        }
    }
}

/// Starts `argv` (a script line's program and its arguments) in a child:
/// unprivileged (`execve` drops init's privilege), or keeping it for a
/// `privileged` line. Errors: those of `process::spawn` /
/// `process::spawn_privileged` (`EPERM` for a privileged line when init
/// itself is unprivileged, as a second init started by a test may be).
fn spawn(argv: &[&str], envp: &[&str], privileged: bool) -> Result<usize> {
    let path = process::program_path(argv[0]);
    if privileged { process::spawn_privileged(&path, argv, envp) } else { process::spawn(&path, argv, envp) }
}

/// What init's reports add for a `privileged` line.
fn privileged_note(privileged: bool) -> &'static str {
    if privileged { ", privileged" } else { "" }
}

/// Reports a malformed line; always false.
fn usage(form: &str) -> bool {
    println!("init: the line should be `{form}`");
    false
}

/// `stdio PATH`: fds 0, 1 and 2 on a new open of PATH.
fn stdio(path: &str) -> bool {
    let fd = match sys::open(path, O_RDWR) {
        Ok(fd) => fd,
        Err(e) => {
            println!("init: cannot open {path} for stdio: {e} (errno {})", e.errno);
            return false;
        }
    };
    for target in 0..3 {
        if fd != target
            && let Err(e) = sys::dup2(fd, target)
        {
            println!("init: cannot move fd {target} to {path}: {e} (errno {})", e.errno);
            return false;
        }
    }
    if fd > 2 {
        let _ = sys::close(fd);
    }
    println!("init: stdio on {path}");
    true
}

/// Waits until `name:` shows in the root scheme's listing (`name queued
/// waiting` lines), at most [`WAIT_SCHEME_MS`] (or as many polls where
/// there is no clock); reports how it went. True if it appeared.
fn wait_scheme(name: &str) -> bool {
    let registered = || {
        let listing = io::read_file(":").ok().and_then(|text| String::from_utf8(text).ok()).unwrap_or_default();
        listing.lines().any(|line| line.split(' ').next() == Some(name))
    };
    let deadline = children::now_ms().map(|now| now + WAIT_SCHEME_MS);
    for poll in 0.. {
        if registered() {
            println!("init: scheme {name} ready");
            return true;
        }
        let over = match (deadline, children::now_ms()) {
            (Some(deadline), Some(now)) => now >= deadline,
            _ => poll >= WAIT_SCHEME_MS,
        };
        if over {
            println!("init: scheme {name} did not appear within {WAIT_SCHEME_MS} ms");
            return false;
        }
        let _ = sys::nanosleep(&WAIT_SCHEME_POLL, None);
    }
    false
}
