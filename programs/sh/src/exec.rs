//! Running a pipeline: expanding its commands, opening redirections,
//! finding programs through `PATH`, forking one process per stage with
//! pipes between them, and waiting for all of them.
//!
//! - A pipeline of one builtin runs inside the shell (so `cd` and
//!   `export` change the shell), its redirections opened as fds the
//!   builtin writes to; a builtin within a longer pipeline runs in a
//!   forked child, as in POSIX shells.
//! - A command of only assignments sets shell variables; assignments
//!   before a program name go into that program's environment only.
//! - The pipeline's status is its last command's: its exit code, or 128 +
//!   the signal that killed it (`130` after Ctrl-C); `!` inverts it. A
//!   program that is not found gives 127, one that cannot be executed 126.
//! - While the stages run, the console's control handle names them as the
//!   foreground (Ctrl-C interrupts them); afterwards, nobody.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use tessera_runtime::abi::O_CLOEXEC;
use tessera_runtime::abi::error::{EINTR, ENOENT};
use tessera_runtime::abi::flag::{O_APPEND, O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY};
use tessera_runtime::abi::signal::SIGINT;
use tessera_runtime::sys::{self, Fork, WaitStatus};
use tessera_runtime::{Error, eprintln, io};
use tessera_sh::expand;
use tessera_sh::parser::{Command, Pipeline, RedirKind, Redirection};

use crate::builtins;
use crate::shell::Shell;

/// The status when a program is not found.
const NOT_FOUND: i32 = 127;
/// The status when a program cannot be executed.
const CANNOT_EXECUTE: i32 = 126;
/// The status of a redirection that could not be opened.
const REDIRECT_FAILED: i32 = 1;

/// The three fds a command's standard streams are on.
#[derive(Clone, Copy, Debug)]
pub struct Stdio {
    pub input: usize,
    pub output: usize,
    pub error: usize,
}

impl Stdio {
    pub const STANDARD: Stdio = Stdio { input: 0, output: 1, error: 2 };
}

/// A command with its words expanded.
struct Expanded {
    argv: Vec<String>,
    assignments: Vec<(String, String)>,
}

fn expand_command(shell: &Shell, command: &Command) -> Expanded {
    Expanded {
        argv: expand::words(&command.words, shell),
        assignments: command.assignments.iter().map(|(name, word)| (name.clone(), expand::text(word, shell))).collect(),
    }
}

/// Runs `pipeline` and returns its status.
pub fn run_pipeline(shell: &mut Shell, pipeline: &Pipeline) -> i32 {
    let status = match pipeline.commands.as_slice() {
        [command] => run_single(shell, command),
        commands => run_stages(shell, commands),
    };
    if pipeline.negated { i32::from(status == 0) } else { status }
}

/// A pipeline of one command: assignments and builtins in the shell,
/// anything else in one child.
fn run_single(shell: &mut Shell, command: &Command) -> i32 {
    let expanded = expand_command(shell, command);
    let Some(name) = expanded.argv.first() else {
        for (name, value) in expanded.assignments {
            shell.set(&name, value, false);
        }
        // Redirections alone still create (or check) their files.
        return match open_redirections(shell, &command.redirections) {
            Ok(opened) => {
                opened.close();
                0
            }
            Err(status) => status,
        };
    };
    if builtins::is_builtin(name) {
        let opened = match open_redirections(shell, &command.redirections) {
            Ok(opened) => opened,
            Err(status) => return status,
        };
        let stdio = opened.stdio(Stdio::STANDARD);
        let status = builtins::run(shell, &expanded.argv, stdio);
        opened.close();
        return status;
    }
    run_stages(shell, core::slice::from_ref(command))
}

/// Forks one child per command, joined by pipes; waits for all of them.
fn run_stages(shell: &mut Shell, commands: &[Command]) -> i32 {
    let mut pids = Vec::new();
    let mut previous_read: Option<usize> = None;
    let mut failed_fork = None;
    for (i, command) in commands.iter().enumerate() {
        let last = i + 1 == commands.len();
        let pipe = if last {
            None
        } else {
            match sys::pipe2(O_CLOEXEC) {
                Ok(fds) => Some(fds),
                Err(e) => {
                    eprintln!("sh: cannot make a pipe: {e}");
                    failed_fork = Some(1);
                    break;
                }
            }
        };
        let input = previous_read.unwrap_or(0);
        let output = pipe.map_or(1, |[_, write]| write);
        let expanded = expand_command(shell, command);
        let program = expanded.argv.first().filter(|name| !builtins::is_builtin(name)).map(|name| find(shell, name));
        match sys::fork() {
            Ok(Fork::Child) => {
                // Foreground from the start: the parent names all stages
                // only once every one is forked.
                shell.add_foreground();
                let status = child(shell, command, &expanded, program, input, output);
                sys::exit(status as usize & 0xFF)
            }
            Ok(Fork::Parent { pid }) => pids.push(pid),
            Err(e) => {
                eprintln!("sh: cannot fork: {e}");
                failed_fork = Some(1);
            }
        }
        if let Some(fd) = previous_read.take() {
            let _ = sys::close(fd);
        }
        if let Some([read, write]) = pipe {
            let _ = sys::close(write);
            previous_read = Some(read);
        }
        if failed_fork.is_some() {
            break;
        }
    }
    if let Some(fd) = previous_read {
        let _ = sys::close(fd);
    }
    shell.set_foreground(&pids);
    let mut status = 0;
    for &pid in &pids {
        status = match wait(pid) {
            Ok(waited) => status_of(waited),
            Err(e) => {
                eprintln!("sh: cannot wait for pid {pid}: {e}");
                1
            }
        };
    }
    shell.set_foreground(&[]);
    failed_fork.unwrap_or(status)
}

/// In a forked child: the stage's stdio, its redirections, then the
/// builtin or the program. Returns the status to exit with (a successful
/// `execve` never returns).
fn child(
    shell: &mut Shell,
    command: &Command,
    expanded: &Expanded,
    program: Option<Result<String, Error>>,
    input: usize,
    output: usize,
) -> i32 {
    for (fd, target) in [(input, 0), (output, 1)] {
        if fd != target && sys::dup2(fd, target).is_err() {
            return 1;
        }
    }
    let opened = match open_redirections(shell, &command.redirections) {
        Ok(opened) => opened,
        Err(status) => return status,
    };
    if let Err(e) = opened.install() {
        eprintln!("sh: redirection failed: {e}");
        return REDIRECT_FAILED;
    }
    let Some(name) = expanded.argv.first() else { return 0 };
    let path = match program {
        None => return builtins::run(shell, &expanded.argv, Stdio::STANDARD),
        Some(Ok(path)) => path,
        Some(Err(e)) if e.errno == ENOENT => {
            eprintln!("sh: {name}: not found");
            return NOT_FOUND;
        }
        Some(Err(e)) => {
            eprintln!("sh: {name}: {e}");
            return CANNOT_EXECUTE;
        }
    };
    let env = shell.envp(&expanded.assignments);
    let envp: Vec<&str> = env.iter().map(String::as_str).collect();
    let argv: Vec<&str> = expanded.argv.iter().map(String::as_str).collect();
    let error = sys::execve(&path, &argv, &envp);
    eprintln!("sh: {name}: cannot execute {path}: {error}");
    if error.errno == ENOENT { NOT_FOUND } else { CANNOT_EXECUTE }
}

/// Where program `name` is: a name with `/` or a scheme is a path
/// (resolved against the working directory); a bare name is looked up
/// in each `PATH` directory in turn (the first that can be opened).
/// Errors: ENOENT nowhere in `PATH`, or what opening the path gave.
pub fn find(shell: &Shell, name: &str) -> Result<String, Error> {
    let exists = |path: &str| {
        sys::open(path, O_RDONLY).map(|fd| {
            let _ = sys::close(fd);
        })
    };
    if name.contains('/') || name.contains(':') {
        let path = shell.resolve(name);
        return exists(&path).map(|()| path);
    }
    let search = shell.var("PATH").unwrap_or(crate::shell::DEFAULT_PATH);
    for dir in search.split(':').filter(|dir| !dir.is_empty()) {
        let path = shell.resolve(&format!("{dir}/{name}"));
        if exists(&path).is_ok() {
            return Ok(path);
        }
    }
    Err(Error::new(ENOENT))
}

/// Waits for child `pid`, retrying when interrupted.
fn wait(pid: usize) -> Result<WaitStatus, Error> {
    loop {
        match sys::waitpid(pid, 0) {
            Ok(Some((_, status))) => return Ok(status),
            Ok(None) => {}
            Err(e) if e.errno == EINTR => {}
            Err(e) => return Err(e),
        }
    }
}

/// A wait status as the shell's `$?`: the exit code, or 128 + signal
/// (reported, but for Ctrl-C's SIGINT, whose `^C` the console showed).
fn status_of(status: WaitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code as i32;
    }
    let signal = status.signal().unwrap_or(0);
    if signal != SIGINT {
        eprintln!("sh: {status}");
    }
    128 + signal as i32
}

/// The fds a command's redirections opened, in order: `(fd, opened)`.
pub struct Opened {
    fds: Vec<(usize, Target)>,
}

/// What a redirection's fd becomes.
#[derive(Clone, Copy)]
enum Target {
    /// A file the shell opened (closed again by [`Opened::close`]).
    File(usize),
    /// A copy of another of the command's fds (`>&N`).
    Copy(usize),
}

impl Opened {
    /// The builtin's view: fds 0-2 as redirected (fds above 2 are ignored).
    pub fn stdio(&self, mut stdio: Stdio) -> Stdio {
        for &(fd, target) in &self.fds {
            let source = match target {
                Target::File(file) => file,
                Target::Copy(0) => stdio.input,
                Target::Copy(1) => stdio.output,
                Target::Copy(2) => stdio.error,
                Target::Copy(other) => other,
            };
            match fd {
                0 => stdio.input = source,
                1 => stdio.output = source,
                2 => stdio.error = source,
                _ => {}
            }
        }
        stdio
    }

    /// A child's view: each redirected fd really becomes its target.
    fn install(&self) -> Result<(), Error> {
        for &(fd, target) in &self.fds {
            let source = match target {
                Target::File(file) | Target::Copy(file) => file,
            };
            if source != fd {
                sys::dup2(source, fd)?;
            }
        }
        Ok(())
    }

    /// Closes the files opened for the redirections.
    pub fn close(self) {
        for (_, target) in self.fds {
            if let Target::File(fd) = target {
                let _ = sys::close(fd);
            }
        }
    }
}

/// Opens the files of `redirections` (`O_CLOEXEC`: a child gets them only
/// where [`Opened::install`] puts them). On failure it reports why,
/// closes what it opened and returns the status to give.
pub fn open_redirections(shell: &Shell, redirections: &[Redirection]) -> Result<Opened, i32> {
    let mut opened = Opened { fds: Vec::new() };
    for redirection in redirections {
        let target = expand::text(&redirection.target, shell);
        let result = match redirection.kind {
            RedirKind::Dup => match target.parse::<usize>() {
                Ok(fd) => Ok(Target::Copy(fd)),
                Err(_) => {
                    eprintln!("sh: {target}: not an fd number");
                    opened.close();
                    return Err(REDIRECT_FAILED);
                }
            },
            kind => {
                let flags = match kind {
                    RedirKind::Read => O_RDONLY,
                    RedirKind::Write => O_WRONLY | O_CREAT | O_TRUNC,
                    _ => O_WRONLY | O_CREAT | O_APPEND,
                };
                sys::open(&shell.resolve(&target), flags | O_CLOEXEC).map(Target::File)
            }
        };
        match result {
            Ok(fd_target) => opened.fds.push((redirection.fd, fd_target)),
            Err(e) => {
                eprintln!("sh: {target}: {e}");
                opened.close();
                return Err(REDIRECT_FAILED);
            }
        }
    }
    Ok(opened)
}

/// Writes `text` to `fd`, ignoring errors (a closed pipe, say).
pub fn write(fd: usize, text: &str) {
    let _ = io::write_all(fd, text.as_bytes());
}
