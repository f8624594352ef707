//! Running other programs: [`spawn`] (fork + execve), [`wait`], the
//! program-list format `init` and `testrunner` read, and the caller's
//! privilege ([`privilege`], [`keep_privilege_on_exec`],
//! [`spawn_privileged`]; docs/kernel.md, "Privilege").

use tessera_abi::error::{EINTR, EINVAL, EPERM};
use tessera_abi::flag::O_WRONLY;
use tessera_abi::{Error, O_CLOEXEC, Result};

use crate::sys::{self, Fork, WaitStatus};

/// The status a child exits with when `execve` failed (as POSIX shells do).
pub const EXEC_FAILED_STATUS: usize = 127;
/// The status a [`spawn_privileged`] child exits with when the kernel
/// refused to let it keep the privilege (it never runs the program).
pub const PRIVILEGE_REFUSED_STATUS: usize = 126;

/// A process's privilege, as `sys:privilege` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Privilege {
    Unprivileged,
    Privileged,
    /// Privileged, and the next successful `execve` keeps it.
    PrivilegedKeepOnExec,
}

impl Privilege {
    /// Privileged, armed or not.
    pub fn is_privileged(self) -> bool {
        self != Privilege::Unprivileged
    }
}

/// The caller's privilege, from `sys:privilege`. Errors: those of
/// `io::read_file`; `EINVAL` text the runtime does not know.
pub fn privilege() -> Result<Privilege> {
    match crate::io::read_file("sys:privilege")?.as_slice() {
        b"unprivileged\n" => Ok(Privilege::Unprivileged),
        b"privileged\n" => Ok(Privilege::Privileged),
        b"privileged keep-on-exec\n" => Ok(Privilege::PrivilegedKeepOnExec),
        _ => Err(Error::new(EINVAL)),
    }
}

/// Writes `command` to `sys:privilege` in one `write`.
fn write_privilege(command: &[u8]) -> Result<()> {
    let fd = sys::open("sys:privilege", O_WRONLY | O_CLOEXEC)?;
    let written = sys::write(fd, command);
    let _ = sys::close(fd);
    written.map(|_| ())
}

/// Makes the caller's next successful `execve` keep its privilege (every
/// other `execve` drops it). Errors: `EPERM` the caller is unprivileged;
/// those of opening `sys:privilege`.
pub fn keep_privilege_on_exec() -> Result<()> {
    write_privilege(b"keep-on-exec")
}

/// Gives up the caller's privilege for good. Errors: those of opening and
/// writing `sys:privilege`.
pub fn drop_privilege() -> Result<()> {
    write_privilege(b"drop")
}

/// Starts the program at `path` with `argv` and `envp` in a new process and
/// returns its pid. If `execve` fails, the child reports why on fd 2 and
/// exits with [`EXEC_FAILED_STATUS`]; the parent sees that in [`wait`].
///
/// The program runs unprivileged: `execve` drops the privilege (see
/// [`spawn_privileged`]).
///
/// Errors: those of [`sys::fork`].
pub fn spawn(path: &str, argv: &[&str], envp: &[&str]) -> Result<usize> {
    spawn_inner(path, argv, envp, false)
}

/// As [`spawn`], but the program keeps the caller's privilege: the child
/// arms `keep-on-exec` just before its `execve`. If the kernel refuses (it
/// should not: the caller was checked), the child reports why on fd 2 and
/// exits with [`PRIVILEGE_REFUSED_STATUS`] without running the program.
///
/// Errors: `EPERM` the caller is unprivileged (nothing is started); those
/// of [`privilege`] and [`sys::fork`].
pub fn spawn_privileged(path: &str, argv: &[&str], envp: &[&str]) -> Result<usize> {
    if !privilege()?.is_privileged() {
        return Err(Error::new(EPERM));
    }
    spawn_inner(path, argv, envp, true)
}

fn spawn_inner(path: &str, argv: &[&str], envp: &[&str], keep_privilege: bool) -> Result<usize> {
    match sys::fork()? {
        Fork::Parent { pid } => Ok(pid),
        Fork::Child => {
            if keep_privilege && let Err(error) = keep_privilege_on_exec() {
                crate::eprintln!(
                    "{}: cannot keep the privilege for {path}: {error} (errno {})",
                    argv.first().unwrap_or(&path),
                    error.errno
                );
                sys::exit(PRIVILEGE_REFUSED_STATUS)
            }
            let error = sys::execve(path, argv, envp);
            crate::eprintln!(
                "{}: cannot execute {path}: {error} (errno {})",
                argv.first().unwrap_or(&path),
                error.errno
            );
            sys::exit(EXEC_FAILED_STATUS)
        }
    }
}

/// Waits for child `pid` to end and returns its status, retrying when the
/// wait is interrupted. Errors: `ECHILD` `pid` is not a child of the caller.
pub fn wait(pid: usize) -> Result<WaitStatus> {
    loop {
        match sys::waitpid(pid, 0) {
            Ok(Some((_, status))) => return Ok(status),
            // Without WNOHANG the kernel only returns once the child ended;
            // a zero pid would be a kernel bug, so ask again.
            Ok(None) => continue,
            Err(e) if e.errno == EINTR => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The programs of a list file (`etc/init.rc`, `etc/tests.list`): one per
/// line, a program name followed by its arguments, whitespace-separated;
/// `#` starts a comment; blank lines are skipped.
pub fn program_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(|line| line.split('#').next().unwrap_or("").trim()).filter(|line| !line.is_empty())
}

/// A list line's words without a leading `privileged` marker, and whether
/// it was there (`privileged daemon NAME` in `etc/init.rc`, `privileged
/// NAME` in `etc/tests.list`: the program keeps its starter's privilege).
pub fn split_privileged<'a, 'w>(words: &'a [&'w str]) -> (bool, &'a [&'w str]) {
    match words {
        ["privileged", rest @ ..] => (true, rest),
        _ => (false, words),
    }
}

/// Where a program name from a list lives: names with a scheme (`x:…`) or a
/// `/` are used as they are, bare names are `initfs:bin/<name>`.
pub fn program_path(name: &str) -> alloc::string::String {
    if name.contains(':') || name.contains('/') { name.into() } else { alloc::format!("initfs:bin/{name}") }
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use super::*;

    #[test]
    fn program_lists() {
        let text = "# tests\nhello  a b\n\n  syscall-errors # trailing\n#only comment\n";
        let lines: Vec<&str> = program_lines(text).collect();
        assert_eq!(lines, ["hello  a b", "syscall-errors"]);
        assert_eq!(program_path("hello"), "initfs:bin/hello");
        assert_eq!(program_path("initfs:bin/x"), "initfs:bin/x");
    }

    #[test]
    fn privileged_marker() {
        assert_eq!(split_privileged(&["privileged", "daemon", "x"]), (true, &["daemon", "x"][..]));
        assert_eq!(split_privileged(&["mm-physical"]), (false, &["mm-physical"][..]));
        assert_eq!(split_privileged(&["privileged"]), (true, &[][..]));
        // Only a leading word counts, spelled exactly.
        assert_eq!(split_privileged(&["hello", "privileged"]), (false, &["hello", "privileged"][..]));
        assert_eq!(split_privileged(&["Privileged", "x"]), (false, &["Privileged", "x"][..]));
        assert_eq!(split_privileged(&[]), (false, &[][..]));
    }

    #[test]
    fn wait_status_text() {
        use tessera_abi::{signal::SIGSEGV, wait};
        assert_eq!(std::format!("{}", WaitStatus(wait::exited(3))), "exited with status 3");
        assert_eq!(std::format!("{}", WaitStatus(wait::signaled(SIGSEGV))), "killed by signal 11 (SIGSEGV)");
        assert!(WaitStatus(wait::exited(0)).success());
        assert!(!WaitStatus(wait::signaled(SIGSEGV)).success());
    }
}
