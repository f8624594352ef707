//! `console`: what the normal image runs instead of the test runner (init
//! starts it from `etc/init.rc`). A prompt on the serial console, just
//! enough to look around and run programs; a real shell comes later.
//!
//! It prints a banner and the prompt `tessera> ` on fd 1 and reads lines
//! from fd 0 (`debug:`: a read returns what the UART has, waiting for at
//! least one byte). The UART does not echo, so the console does:
//!
//! - printable bytes are echoed and added to the line (at most
//!   [`LINE_MAX_BYTES`]; a tab counts as a space);
//! - backspace (BS, 0x08) and DEL (0x7f) erase the last character;
//! - CR, LF and CR LF each end a line (a terminal in raw mode sends CR,
//!   piped input LF, some both: the LF right after a CR is dropped);
//! - Ctrl-C drops the line, Ctrl-D on an empty line exits like `exit 0`;
//!   escape sequences (arrow keys) and other control bytes are ignored.
//!
//! Commands (words split at whitespace):
//!
//! | command | does |
//! |---|---|
//! | `help` | lists the commands |
//! | `ls [DIR]` | lists a directory of `initfs:` (`ls`, `ls bin`, `ls initfs:etc`) |
//! | `cat PATH...` | prints files: `scheme:path` (`cat sys:memory`), or a path in `initfs:` (`cat etc/init.rc`) |
//! | `exit [CODE]` | ends the console with CODE (0-255, default 0); init then ends, and with it the run |
//! | `PROGRAM [ARGS...]` | runs `initfs:bin/PROGRAM` (or a `scheme:path`) with argv `PROGRAM ARGS...` (fork + execve + waitpid) and prints its status unless it exited with 0 |
//!
//! Anything else is `console: unknown command: NAME`. End of input (a read
//! of fd 0 giving 0) exits with 0, a failing read with 1.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use tessera_runtime::abi::error::{EINTR, ENOENT, ENOTDIR};
use tessera_runtime::abi::flag::{O_DIRECTORY, O_RDONLY};
use tessera_runtime::{Args, Result, eprintln, io, print, println, process, sys};

tessera_runtime::entry!(main);

/// What the console prints before reading a line.
const PROMPT: &str = "tessera> ";
/// The longest line kept; further bytes are dropped (with a bell).
const LINE_MAX_BYTES: usize = 1024;
/// Standard input's fd.
const STDIN: usize = 0;

const HELP: &str = "\
commands:
  help              this list
  ls [DIR]          list a directory of initfs: (ls bin)
  cat PATH...       print files: scheme:path (cat sys:memory) or a path in initfs: (cat etc/init.rc)
  exit [CODE]       leave the console (CODE 0-255, default 0); init then ends
  PROGRAM [ARGS]    run initfs:bin/PROGRAM with its arguments (hello a b)
keys: backspace erases, Ctrl-C drops the line, Ctrl-D on an empty line exits";

fn main(args: Args) -> i32 {
    let arch = if cfg!(target_arch = "aarch64") { "aarch64" } else { "x86_64" };
    println!("Tessera console on {arch}: type help for the commands");
    let mut input = Input::default();
    loop {
        print!("{PROMPT}");
        match input.read_line() {
            Ok(Some(line)) => {
                if let Some(code) = run(&line, args.env()) {
                    return code;
                }
            }
            Ok(None) => {
                println!();
                return 0;
            }
            Err(e) => {
                eprintln!("console: reading fd {STDIN} failed: {e} (errno {})", e.errno);
                return 1;
            }
        }
    }
}

/// Where [`Input`] is within an escape sequence.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Escape {
    #[default]
    None,
    /// After ESC.
    Started,
    /// After `ESC [`: up to a final byte in `@`..=`~`.
    Csi,
    /// After `ESC O`: one more byte.
    Ss3,
}

/// The line editor over fd 0.
#[derive(Default)]
struct Input {
    /// Bytes read from fd 0 but not handled yet.
    pending: Vec<u8>,
    line: Vec<u8>,
    /// The last byte ended a line with CR (a following LF is dropped).
    after_cr: bool,
    escape: Escape,
}

impl Input {
    /// The next line, echoed as it is typed: `None` at end of input (or
    /// Ctrl-D on an empty line). Errors: those of `sys::read` but EINTR.
    fn read_line(&mut self) -> Result<Option<String>> {
        loop {
            let Some(byte) = self.next_byte()? else { return Ok(None) };
            let after_cr = core::mem::replace(&mut self.after_cr, false);
            if self.escape != Escape::None {
                self.escape = match (self.escape, byte) {
                    (Escape::Started, b'[') => Escape::Csi,
                    (Escape::Started, b'O') => Escape::Ss3,
                    (Escape::Csi, 0x20..=0x3f) => Escape::Csi,
                    _ => Escape::None,
                };
                continue;
            }
            match byte {
                b'\n' if after_cr => {}
                b'\r' | b'\n' => {
                    self.after_cr = byte == b'\r';
                    echo(b"\n");
                    let line = String::from_utf8_lossy(&self.line).into_owned();
                    self.line.clear();
                    return Ok(Some(line));
                }
                0x08 | 0x7f => {
                    // Drop one UTF-8 character: continuation bytes, then its first byte.
                    while self.line.last().is_some_and(|b| b & 0xC0 == 0x80) {
                        self.line.pop();
                    }
                    if self.line.pop().is_some() {
                        echo(b"\x08 \x08");
                    }
                }
                0x03 => {
                    echo(b"^C\n");
                    self.line.clear();
                    return Ok(Some(String::new()));
                }
                0x04 if self.line.is_empty() => return Ok(None),
                0x1b => self.escape = Escape::Started,
                b'\t' => self.push(b' '),
                0x00..0x20 => {}
                _ => self.push(byte),
            }
        }
    }

    /// Adds `byte` to the line and echoes it, or rings the bell when full.
    fn push(&mut self, byte: u8) {
        if self.line.len() < LINE_MAX_BYTES {
            self.line.push(byte);
            echo(&[byte]);
        } else {
            echo(b"\x07");
        }
    }

    /// The next input byte, reading fd 0 when none is pending; `None` at
    /// end of input.
    fn next_byte(&mut self) -> Result<Option<u8>> {
        while self.pending.is_empty() {
            let mut buf = [0u8; 64];
            match sys::read(STDIN, &mut buf) {
                Ok(0) => return Ok(None),
                Ok(n) => self.pending.extend_from_slice(&buf[..n.min(buf.len())]),
                Err(e) if e.errno == EINTR => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Some(self.pending.remove(0)))
    }
}

/// Writes typed bytes back to the terminal.
fn echo(bytes: &[u8]) {
    let _ = io::write_all(io::STDOUT, bytes);
}

/// Runs one line; `Some(code)` when the console should exit with it.
fn run(line: &str, env: &[&str]) -> Option<i32> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [] => {}
        ["help", ..] => println!("{HELP}"),
        ["ls"] => ls(""),
        ["ls", dir] => ls(dir),
        ["ls", ..] => println!("usage: ls [DIR]"),
        ["cat"] => println!("usage: cat PATH..."),
        ["cat", paths @ ..] => paths.iter().for_each(|path| cat(path)),
        ["exit"] => return Some(0),
        ["exit", code] => match code.parse::<u8>() {
            Ok(code) => return Some(i32::from(code)),
            Err(_) => println!("exit: {code:?} is not a number from 0 to 255"),
        },
        ["exit", ..] => println!("usage: exit [CODE]"),
        [name, ..] => run_program(name, &words, env),
    }
    None
}

/// `ls DIR`: the entries of `initfs:DIR`, one per line.
fn ls(dir: &str) {
    let dir = dir.strip_prefix("initfs:").unwrap_or(dir).trim_matches('/');
    let path = format!("initfs:{dir}");
    match sys::open(&path, O_RDONLY | O_DIRECTORY) {
        Ok(fd) => {
            if let Err(e) = copy_to_stdout(fd) {
                println!("ls: {path}: {e}");
            }
            let _ = sys::close(fd);
        }
        // A file lists as itself, as in POSIX ls.
        Err(e) if e.errno == ENOTDIR => println!("{dir}"),
        Err(e) => println!("ls: {path}: {e}"),
    }
}

/// `cat PATH`: the file's bytes on fd 1.
fn cat(path: &str) {
    let path = if path.contains(':') { path.into() } else { format!("initfs:{}", path.trim_start_matches('/')) };
    match sys::open(&path, O_RDONLY) {
        Ok(fd) => {
            if let Err(e) = copy_to_stdout(fd) {
                println!("cat: {path}: {e}");
            }
            let _ = sys::close(fd);
        }
        Err(e) => println!("cat: {path}: {e}"),
    }
}

/// Copies `fd` to fd 1 until end of file, then ends the line if the data
/// did not, so the prompt starts on a line of its own.
fn copy_to_stdout(fd: usize) -> Result<()> {
    let mut buf = [0u8; 4096];
    let mut last = b'\n';
    loop {
        match sys::read(fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let data = &buf[..n.min(buf.len())];
                io::write_all(io::STDOUT, data)?;
                last = data[data.len() - 1];
            }
            Err(e) if e.errno == EINTR => {}
            Err(e) => return Err(e),
        }
    }
    if last != b'\n' {
        println!();
    }
    Ok(())
}

/// Runs `initfs:bin/NAME` (or the `scheme:path` NAME) with `argv` and
/// waits for it; reports a status other than 0.
fn run_program(name: &str, argv: &[&str], env: &[&str]) {
    let path = process::program_path(name);
    match sys::open(&path, O_RDONLY) {
        Ok(fd) => {
            let _ = sys::close(fd);
        }
        Err(e) if e.errno == ENOENT && !name.contains([':', '/']) => {
            println!("console: unknown command: {name} (help lists the commands, ls bin the programs)");
            return;
        }
        Err(e) => {
            println!("console: {path}: {e}");
            return;
        }
    }
    match process::spawn(&path, argv, env).and_then(process::wait) {
        Ok(status) if status.success() => {}
        Ok(status) => println!("console: {name} {status}"),
        Err(e) => println!("console: cannot run {name}: {e}"),
    }
}
