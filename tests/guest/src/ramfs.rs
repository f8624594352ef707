//! Starting a private `ramfs` (or another filesystem daemon) for a test,
//! and opening paths of a scheme that may still be registering.

use alloc::format;

use tessera_runtime::abi::error::ENODEV;
use tessera_runtime::abi::flag::O_RDONLY;
use tessera_runtime::abi::signal::SIGKILL;
use tessera_runtime::abi::{Result, TimeSpec, WNOHANG};
use tessera_runtime::{process, sys};

use crate::{Checks, Shown};

/// How long a daemon may take to register: wall-clock time, not a count of
/// yields, so that a host starving the virtual CPUs cannot fail a test (a
/// daemon that exits ends the wait at once).
const REGISTER_NS: u64 = 20_000_000_000;
/// Yields before the wait starts sleeping between tries.
const YIELDS: usize = 100;

/// Retries `open(path)` while it fails with ENODEV (a daemon still
/// registering) and `daemon`, if given, still runs, for at most
/// [`REGISTER_NS`]; the last result.
pub fn open_when_there(path: &str, flags: usize, daemon: Option<usize>) -> Result<usize> {
    let deadline = crate::mm::now_ns() + REGISTER_NS;
    let mut tries = 0;
    let mut got = sys::open(path, flags);
    while matches!(got, Err(e) if e.errno == ENODEV) && crate::mm::now_ns() < deadline {
        if daemon.is_some_and(|pid| matches!(sys::waitpid(pid, WNOHANG), Ok(Some(_)))) {
            break;
        }
        tries += 1;
        if tries < YIELDS {
            let _ = sys::sched_yield();
        } else {
            let _ = sys::nanosleep(&TimeSpec { tv_sec: 0, tv_nsec: 1_000_000 }, None);
        }
        got = sys::open(path, flags);
    }
    got
}

/// Starts `ramfs SCHEME` and waits until it serves `SCHEME:/`; its pid.
pub fn start(checks: &mut Checks, scheme: &str) -> Option<usize> {
    start_daemon(checks, "ramfs serves its scheme", &["ramfs", scheme], scheme)
}

/// Starts the filesystem daemon `argv` (its program is `argv[0]`) and waits
/// until it serves `scheme:/`, checking that as `what`; its pid, or `None`
/// (then it is killed and reaped).
pub fn start_daemon(checks: &mut Checks, what: &str, argv: &[&str], scheme: &str) -> Option<usize> {
    let program = argv.first().copied().unwrap_or("");
    let daemon = match process::spawn(&process::program_path(program), argv, &[]) {
        Ok(pid) => pid,
        Err(e) => {
            checks.check(&format!("start {program}"), false, format_args!("{e}"));
            return None;
        }
    };
    let root = open_when_there(&format!("{scheme}:/"), O_RDONLY, Some(daemon));
    checks.check(what, root.is_ok(), format_args!("open({scheme}:/) gave {}", Shown(root)));
    if let Ok(fd) = root {
        let _ = sys::close(fd);
        return Some(daemon);
    }
    let _ = sys::kill(daemon, SIGKILL);
    let _ = process::wait(daemon);
    None
}
