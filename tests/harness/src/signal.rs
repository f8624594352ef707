//! The two POSIX facilities std lacks: signalling a whole process group, and
//! noticing that the harness itself was asked to stop.
//!
//! QEMU (or a fake of it: `sh -c '...; sleep 30'`) runs in its own process
//! group, so the timeout can end it *and* everything it started; a plain
//! `Child::kill` would leave a grandchild holding the output pipe open. The
//! price of the separate group is that Ctrl-C in the terminal no longer
//! reaches QEMU, so the harness catches SIGINT/SIGTERM/SIGHUP itself and
//! ends the group before it exits ([`crate::process`] polls
//! [`interrupted`]).

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};

/// Hang-up (the terminal went away).
pub const SIGHUP: i32 = 1;
/// Interrupt (Ctrl-C).
pub const SIGINT: i32 = 2;
/// Kill (cannot be caught).
pub const SIGKILL: i32 = 9;
/// Polite termination request; QEMU exits cleanly on it.
pub const SIGTERM: i32 = 15;

unsafe extern "C" {
    /// POSIX `kill(2)`; `pid_t` is `i32` on every Unix the harness targets.
    fn kill(pid: i32, sig: i32) -> i32;
    /// C `signal(3)`; the handler is passed as an address (`sighandler_t`).
    fn signal(signum: i32, handler: usize) -> usize;
}

/// The stop signal that arrived (0: none yet). Set by the handler; read by
/// the run loop.
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop_signal(signum: i32) {
    STOP_SIGNAL.store(signum, Ordering::SeqCst);
}

/// Sends `sig` to every process in the group `pgid`.
pub fn kill_group(pgid: u32, sig: i32) -> io::Result<()> {
    let pgid = i32::try_from(pgid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; a
    // negative pid addresses the process group. (Which group: callers pass
    // the id of their own child, which leads its group; Linux does not reuse
    // an id while a process or a group still carries it.)
    let rc = unsafe { kill(-pgid, sig) };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// Routes SIGINT, SIGTERM and SIGHUP to a flag instead of ending the harness
/// at once, so the harness can end QEMU's process group first. Called once by
/// the `boot-test` binary; library users (the tests) leave signals alone.
pub fn catch_stop_signals() {
    for sig in [SIGHUP, SIGINT, SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe, and it is a valid `extern "C" fn(i32)` for the
        // whole life of the process.
        unsafe {
            signal(sig, on_stop_signal as extern "C" fn(i32) as usize);
        }
    }
}

/// Whether a stop signal arrived since the process started.
pub fn interrupted() -> bool {
    STOP_SIGNAL.load(Ordering::SeqCst) != 0
}

/// If a stop signal arrived, dies of it now (default action), so the shell
/// or make that started the harness sees "killed by SIGINT" and stops too,
/// instead of reading an ordinary failure and carrying on.
pub fn reraise_stop_signal() {
    let sig = STOP_SIGNAL.load(Ordering::SeqCst);
    if sig == 0 {
        return;
    }
    const SIG_DFL: usize = 0;
    // SAFETY: restoring the default disposition and signalling ourselves
    // touch no memory of ours; the pid is our own.
    unsafe {
        signal(sig, SIG_DFL);
        kill(std::process::id() as i32, sig);
    }
}
