//! Starting a private `ramfs` instance for a test, and opening paths of a
//! scheme that may still be registering.

use alloc::format;

use tessera_runtime::abi::error::ENODEV;
use tessera_runtime::abi::flag::O_RDONLY;
use tessera_runtime::abi::signal::SIGKILL;
use tessera_runtime::abi::{Result, WNOHANG};
use tessera_runtime::{process, sys};

use crate::{Checks, Shown};

/// `sched_yield` rounds allowed for a daemon to register.
const ROUNDS: usize = 10_000;

/// Retries `open(path)` while it fails with ENODEV (a daemon still
/// registering) and `daemon`, if given, still runs; the last result.
pub fn open_when_there(path: &str, flags: usize, daemon: Option<usize>) -> Result<usize> {
    let mut got = sys::open(path, flags);
    for _ in 0..ROUNDS {
        match got {
            Err(e) if e.errno == ENODEV => {
                if daemon.is_some_and(|pid| matches!(sys::waitpid(pid, WNOHANG), Ok(Some(_)))) {
                    break;
                }
                let _ = sys::sched_yield();
                got = sys::open(path, flags);
            }
            _ => break,
        }
    }
    got
}

/// Starts `ramfs SCHEME` and waits until it serves `SCHEME:/`; its pid.
pub fn start(checks: &mut Checks, scheme: &str) -> Option<usize> {
    let daemon = match process::spawn(&process::program_path("ramfs"), &["ramfs", scheme], &[]) {
        Ok(pid) => pid,
        Err(e) => {
            checks.check("start ramfs", false, format_args!("{e}"));
            return None;
        }
    };
    let root = open_when_there(&format!("{scheme}:/"), O_RDONLY, Some(daemon));
    checks.check("ramfs serves its scheme", root.is_ok(), format_args!("open({scheme}:/) gave {}", Shown(root)));
    if let Ok(fd) = root {
        let _ = sys::close(fd);
        return Some(daemon);
    }
    let _ = sys::kill(daemon, SIGKILL);
    let _ = process::wait(daemon);
    None
}
