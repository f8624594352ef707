//! `init:power`: how a console user powers the machine off or resets it.
//!
//! Writing to the kernel's `sys:power` takes the privilege, which the shell
//! and the tools do not have (docs/kernel.md, "Privilege"). So the first
//! init, which is privileged, serves the scheme `init:` with one file,
//! `power`, and carries out what is written there through `sys:power`:
//!
//! | request | answer |
//! |---|---|
//! | open `init:power` (any flags) | a handle; any other path: ENOENT |
//! | write `shutdown` / `reboot` (whitespace around is ignored) | init reports `init: init:power: pid N asked to power off` / `… to reset` (N: the process that opened the handle) and writes the same to `sys:power`; the machine goes down, so the write does not return (a `sys:power` error is the write's error) |
//! | write anything else | EINVAL |
//! | read | end of file (0 bytes) |
//!
//! **Who may use it**: any process that can open `init:power` — today every
//! process, as there are no users or namespaces yet. This is the policy of a
//! single-user console machine, like Linux's logind letting the user at the
//! local seat power off without root; it is init's to decide, not the
//! kernel's, so when users come only this file changes. What the kernel
//! guarantees is narrower and firm: `sys:power` itself, `memory:physical`
//! and raising `sys:limits` are EPERM for every unprivileged process.
//!
//! **Where it runs**: init registers `init:` before the first script line
//! (so it is there before any program starts), then forks a child that
//! serves it. The child runs init's own code, so it keeps init's privilege
//! (fork keeps it; only `execve` drops it); init itself stays single
//! threaded (a fork while a serving thread held the heap lock would leave
//! the child's copy locked for ever) and free to wait for its children,
//! and closes its copy of the
//! queue so that nothing it starts later holds it. The server is listed as
//! the daemon `init:power`: in a test image init stops it at the end like
//! any daemon; if it ends earlier (nothing stops a `kill` yet) it is
//! reported and not restarted, and `shutdown` then fails with ENODEV. Only
//! the first init (pid 1) serves: a second init (the `init-rc` test's)
//! leaves the scheme alone.

use alloc::collections::BTreeMap;

use tessera_runtime::abi::error::{EBADF, EINVAL, ENOENT};
use tessera_runtime::abi::flag::{MODE_FILE, O_WRONLY};
use tessera_runtime::abi::{Error, O_CLOEXEC, Result, Stat};
use tessera_runtime::scheme::{self, CallerCtx, Opened, Server};
use tessera_runtime::sys::{self, Fork};
use tessera_runtime::{io, println};

use crate::children::Daemon;

/// The scheme init serves.
pub const SCHEME: &str = "init";
/// The name the server has in init's reports.
pub const NAME: &str = "init:power";

/// Registers `init:` and forks the server. `Ok(None)` when this is not the
/// first init (nothing is served); `Ok(Some(daemon))` the server, reported
/// (`init: serving init:power (pid N)`). Errors (reported by the caller):
/// those of registering the scheme and of `fork`.
pub fn start() -> Result<Option<Daemon>> {
    if sys::getpid()? != 1 {
        return Ok(None);
    }
    let mut server = Server::register(SCHEME)?;
    let forked = match sys::fork() {
        Ok(Fork::Child) => {
            let error = server.run(&mut Power::default());
            println!("init: {NAME} stopped serving: {error} (errno {})", error.errno);
            sys::exit(1)
        }
        Ok(Fork::Parent { pid }) => Ok(pid),
        Err(e) => Err(e),
    };
    // The server's copy is the scheme now; init's would keep it alive in
    // every program started later (until its exec closes it).
    let _ = sys::close(server.fd());
    let pid = forked?;
    println!("init: serving {NAME} (pid {pid})");
    Ok(Some(Daemon { pid, name: NAME.into() }))
}

/// The `init:` scheme: one file, `power`.
#[derive(Default)]
struct Power {
    /// Each open handle's opener (a pid), for the report.
    openers: BTreeMap<usize, usize>,
    next_id: usize,
}

impl scheme::Scheme for Power {
    fn open(&mut self, path: &str, _flags: usize, ctx: &CallerCtx) -> Result<Opened> {
        if path.trim_matches('/') != "power" {
            return Err(Error::new(ENOENT));
        }
        let id = self.next_id;
        self.next_id += 1;
        self.openers.insert(id, ctx.pid);
        Ok(Opened { id, positioned: false })
    }

    fn read(&mut self, id: usize, _buf: &mut [u8], _offset: u64) -> Result<usize> {
        self.openers.get(&id).map(|_| 0).ok_or(Error::new(EBADF))
    }

    fn write(&mut self, id: usize, buf: &[u8], _offset: u64) -> Result<usize> {
        let pid = *self.openers.get(&id).ok_or(Error::new(EBADF))?;
        let command = core::str::from_utf8(buf).map_err(|_| Error::new(EINVAL))?.trim();
        let doing = match command {
            "shutdown" => "power off",
            "reboot" => "reset",
            _ => return Err(Error::new(EINVAL)),
        };
        println!("init: {NAME}: pid {pid} asked to {doing}");
        let fd = sys::open("sys:power", O_WRONLY | O_CLOEXEC)?;
        let written = io::write_all(fd, command.as_bytes());
        let _ = sys::close(fd);
        written.map(|()| buf.len())
    }

    fn fstat(&mut self, _id: usize, stat: &mut Stat) -> Result<()> {
        stat.st_mode = MODE_FILE | 0o222;
        stat.st_size = 0;
        Ok(())
    }

    fn close(&mut self, id: usize) {
        self.openers.remove(&id);
    }
}
