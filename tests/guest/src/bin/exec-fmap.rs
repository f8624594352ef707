//! `exec-fmap`: exec maps program text and read-only data from the file's
//! scheme instead of copying them, on a private `ramfs ramfs-exec`
//! instance. `exec-probe` is copied there and run; it answers questions
//! about its own image over a pipe.
//!
//! | group | checks |
//! |---|---|
//! | copied | run from initfs (no fmap): it works, no grant of its image is a file mapping |
//! | lent | run from ramfs: its read-only and read-execute segments are `fmap` grants; the file is pinned while it runs; a second process pins as many pages again |
//! | shared | `write()` to the marker's bytes in the file shows in both running processes at once: they run on the file's own frames, not copies |
//! | exit | both end with status 0; the file's pins go back to 0 |
//! | bad | a truncated copy and a file of text: ENOEXEC, pins 0 |
//! | daemon-death | ramfs killed under a running process: the pages it has stay readable, a page it never touched is SIGBUS |
//!
//! Finally the kernel's free frames are back where they were.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use tessera_guest_tests::mm::{Memory, frames_back};
use tessera_guest_tests::ramfs;
use tessera_guest_tests::system::{fork_with, reap};
use tessera_guest_tests::{Checks, errno_name};
use tessera_runtime::abi::Result;
use tessera_runtime::abi::error::ENOEXEC;
use tessera_runtime::abi::flag::{O_CREAT, O_RDWR, O_TRUNC, O_WRONLY, SEEK_SET};
use tessera_runtime::abi::signal::{SIGBUS, SIGKILL};
use tessera_runtime::io::{read_file, write_all};
use tessera_runtime::sys::{self, Fork};
use tessera_runtime::{Args, process};

tessera_runtime::entry!(main);

const SCHEME: &str = "ramfs-exec";
const PROBE: &str = "/exec-probe";
const ORIGINAL: &[u8] = b"exec-probe marker: original";
const REWRITTEN: &[u8] = b"exec-probe marker: replaced";
/// What the probe's `b` command answers: 64 KiB of 3s.
const BIG_SUM: &str = "196608";

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("exec-fmap");
    let before = Memory::read();
    copied(&mut checks);
    let Some(daemon) = ramfs::start(&mut checks, SCHEME) else { return checks.finish() };
    let image = read_file(&process::program_path("exec-probe"));
    let Ok(image) = image else {
        checks.check("read exec-probe", false, format_args!("{image:?}"));
        return checks.finish();
    };
    let installed = install(PROBE, &image);
    checks.check("copy exec-probe to ramfs", installed.is_ok(), format_args!("{installed:?}"));
    if installed.is_ok() {
        lent(&mut checks, &image);
        bad(&mut checks, &image);
        daemon_death(&mut checks, daemon);
    } else {
        let _ = sys::kill(daemon, SIGKILL);
        let _ = process::wait(daemon);
    }
    frames_back(&mut checks, before);
    checks.finish()
}

fn at(path: &str) -> String {
    format!("{SCHEME}:{path}")
}

/// Writes `data` as file `path` of the test's ramfs.
fn install(path: &str, data: &[u8]) -> Result<()> {
    let fd = sys::open(&at(path), O_CREAT | O_TRUNC | O_WRONLY)?;
    let written = write_all(fd, data);
    let _ = sys::close(fd);
    written
}

/// The pins on `path` (its line in `/.ramfs/pins`; 0 if it has none).
fn pins(path: &str) -> Option<usize> {
    let text = read_file(&at("/.ramfs/pins")).ok()?;
    let text = core::str::from_utf8(&text).ok()?;
    text.lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            let count = words.next()?.parse().ok()?;
            (words.nth(1)? == path).then_some(count)
        })
        .or(Some(0))
}

/// A running `exec-probe` and the pipe ends that talk to it.
struct Probe {
    pid: usize,
    to: usize,
    from: usize,
}

impl Probe {
    fn start(path: &str) -> Result<Self> {
        let [child_in, to] = sys::pipe2(0)?;
        let [from, child_out] = sys::pipe2(0)?;
        match sys::fork()? {
            Fork::Child => {
                let _ = sys::dup2(child_in, 0).and_then(|_| sys::dup2(child_out, 1));
                for fd in [child_in, to, from, child_out] {
                    let _ = sys::close(fd);
                }
                let error = sys::execve(path, &["exec-probe"], &[]);
                sys::exit(100 + error.errno as usize)
            }
            Fork::Parent { pid } => {
                let _ = sys::close(child_in);
                let _ = sys::close(child_out);
                Ok(Self { pid, to, from })
            }
        }
    }

    /// Sends `command` and returns the answer line (without its newline).
    fn ask(&self, command: u8) -> String {
        if sys::write(self.to, &[command]) != Ok(1) {
            return String::from("(probe gone)");
        }
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while let Ok(1) = sys::read(self.from, &mut byte) {
            if byte[0] == b'\n' {
                break;
            }
            line.push(byte[0]);
        }
        String::from_utf8_lossy(&line).into_owned()
    }

    /// Tells the probe to quit and returns its exit status (or signal).
    fn finish(self) -> Option<sys::WaitStatus> {
        let _ = sys::write(self.to, b"q");
        let _ = sys::close(self.to);
        let _ = sys::close(self.from);
        reap(self.pid).ok().map(|(_, status)| status)
    }
}

/// `r--p=N r-xp=M` with both non-zero.
fn both_lent(grants: &str) -> bool {
    let count = |key: &str| {
        grants.split(' ').find_map(|w| w.strip_prefix(key)).and_then(|n| n.parse::<usize>().ok()).unwrap_or(0)
    };
    count("r--p=") > 0 && count("r-xp=") > 0
}

fn copied(checks: &mut Checks) {
    let probe = match Probe::start(&process::program_path("exec-probe")) {
        Ok(probe) => probe,
        Err(e) => return checks.check("copied: start", false, format_args!("{}", errno_name(e.errno))),
    };
    let marker = probe.ask(b'm');
    checks.check("copied: the marker reads", marker.as_bytes() == ORIGINAL, format_args!("{marker:?}"));
    let grants = probe.ask(b'p');
    checks.check("copied: no file mapping from initfs", grants == "r--p=0 r-xp=0", format_args!("{grants:?}"));
    let status = probe.finish();
    checks.check("copied: exits with 0", status.is_some_and(|s| s.code() == Some(0)), format_args!("{status:?}"));
}

fn lent(checks: &mut Checks, image: &[u8]) {
    let path = at(PROBE);
    let (Ok(first), Ok(second)) = (Probe::start(&path), Probe::start(&path)) else {
        return checks.check("lent: start two probes", false, format_args!("fork or pipe failed"));
    };
    let marker = first.ask(b'm');
    checks.check("lent: the marker reads", marker.as_bytes() == ORIGINAL, format_args!("{marker:?}"));
    let grants = first.ask(b'p');
    checks.check("lent: text and read-only data are fmap grants", both_lent(&grants), format_args!("{grants:?}"));
    // Both have run (each answered), so both hold their leases.
    let second_marker = second.ask(b'm');
    let two = pins(PROBE);
    let first_pins = first.finish().filter(|s| s.code() == Some(0)).and(pins(PROBE));
    checks.check(
        "lent: two processes pin the file twice as much as one",
        two.is_some_and(|n| n > 0) && first_pins.is_some_and(|one| 2 * one == two.unwrap_or(0)),
        format_args!("two: {two:?}, one: {first_pins:?}"),
    );
    checks.check(
        "lent: the second process reads the marker",
        second_marker.as_bytes() == ORIGINAL,
        format_args!("{second_marker:?}"),
    );

    // Each running process has read the marker's page; its bytes are now
    // rewritten in the file, under them.
    let Ok(third) = Probe::start(&path) else {
        return checks.check("shared: start a third probe", false, format_args!("fork or pipe failed"));
    };
    let before = third.ask(b'm');
    let offset = image.windows(ORIGINAL.len()).position(|w| w == ORIGINAL);
    let rewrite = offset.map(|offset| {
        let fd = sys::open(&path, O_RDWR)?;
        let written = sys::lseek(fd, offset as isize, SEEK_SET).and_then(|_| sys::write(fd, REWRITTEN));
        let _ = sys::close(fd);
        written
    });
    checks.check(
        "shared: the marker is rewritten in the file",
        before.as_bytes() == ORIGINAL && matches!(rewrite, Some(Ok(_))),
        format_args!("{before:?}, {rewrite:?}"),
    );
    for (name, probe) in [("second", &second), ("third", &third)] {
        let seen = probe.ask(b'm');
        checks.check(
            &format!("shared: the {name} process sees the file's new bytes (its page is the file's)"),
            seen.as_bytes() == REWRITTEN,
            format_args!("{seen:?}"),
        );
    }
    let status = third.finish();
    checks.check("exit: third exits with 0", status.is_some_and(|s| s.code() == Some(0)), format_args!("{status:?}"));
    let status = second.finish();
    checks.check("exit: second exits with 0", status.is_some_and(|s| s.code() == Some(0)), format_args!("{status:?}"));
    checks.check("exit: the file's pins are back to 0", pins(PROBE) == Some(0), format_args!("{:?}", pins(PROBE)));
    let restored = install(PROBE, image);
    checks.check("restore exec-probe", restored.is_ok(), format_args!("{restored:?}"));
}

/// `execve` of `path` in a child: the errno it failed with.
fn exec_errno(path: &str) -> Option<i32> {
    let pid = fork_with(|| sys::execve(path, &["exec-probe"], &[]).errno).ok()?;
    reap(pid).ok()?.1.code().map(|code| code as i32)
}

fn bad(checks: &mut Checks, image: &[u8]) {
    for (name, data) in [("/truncated", &image[..image.len() / 2]), ("/text", &b"#!/bin/sh\necho no\n"[..])] {
        if let Err(e) = install(name, data) {
            checks.check("bad: install", false, format_args!("{name}: {}", errno_name(e.errno)));
            continue;
        }
        let errno = exec_errno(&at(name));
        checks.check(&format!("bad: exec of {name} is ENOEXEC"), errno == Some(ENOEXEC), format_args!("{errno:?}"));
        checks.check(&format!("bad: {name} has no pins left"), pins(name) == Some(0), format_args!("{:?}", pins(name)));
    }
}

fn daemon_death(checks: &mut Checks, daemon: usize) {
    let probe = match Probe::start(&at(PROBE)) {
        Ok(probe) => probe,
        Err(e) => return checks.check("daemon-death: start", false, format_args!("{}", errno_name(e.errno))),
    };
    let marker = probe.ask(b'm');
    let _ = sys::kill(daemon, SIGKILL);
    let _ = process::wait(daemon);
    let again = probe.ask(b'm');
    checks.check(
        "daemon-death: a page it has stays readable",
        marker == again && again.as_bytes() == ORIGINAL,
        format_args!("{marker:?} then {again:?}"),
    );
    let big = probe.ask(b'b');
    let status = probe.finish();
    checks.check(
        "daemon-death: a page it never touched is SIGBUS",
        status.is_some_and(|s| s.signal() == Some(SIGBUS)) && big != BIG_SUM,
        format_args!("answer {big:?}, status {status:?}"),
    );
}
