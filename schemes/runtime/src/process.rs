//! Running other programs: [`spawn`] (fork + execve), [`wait`], and the
//! program-list format `init` and `testrunner` read.

use tessera_abi::Result;
use tessera_abi::error::EINTR;

use crate::sys::{self, Fork, WaitStatus};

/// The status a child exits with when `execve` failed (as POSIX shells do).
pub const EXEC_FAILED_STATUS: usize = 127;

/// Starts the program at `path` with `argv` and `envp` in a new process and
/// returns its pid. If `execve` fails, the child reports why on fd 2 and
/// exits with [`EXEC_FAILED_STATUS`]; the parent sees that in [`wait`].
///
/// Errors: those of [`sys::fork`].
pub fn spawn(path: &str, argv: &[&str], envp: &[&str]) -> Result<usize> {
    match sys::fork()? {
        Fork::Parent { pid } => Ok(pid),
        Fork::Child => {
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
    fn wait_status_text() {
        use tessera_abi::{signal::SIGSEGV, wait};
        assert_eq!(std::format!("{}", WaitStatus(wait::exited(3))), "exited with status 3");
        assert_eq!(std::format!("{}", WaitStatus(wait::signaled(SIGSEGV))), "killed by signal 11 (SIGSEGV)");
        assert!(WaitStatus(wait::exited(0)).success());
        assert!(!WaitStatus(wait::signaled(SIGSEGV)).success());
    }
}
