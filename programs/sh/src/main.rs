//! `sh`: the Tessera shell (`docs/shell.md`).
//!
//! | invocation | runs |
//! |---|---|
//! | `sh -c TEXT [NAME [ARG...]]` | TEXT, with `$0` = NAME (default `sh`) and `$1`… = ARGs |
//! | `sh FILE [ARG...]` | the script FILE (a path resolved against `$PWD`), `$0` = FILE |
//! | `sh` | commands from stdin, line by line: with a prompt when stdin is a terminal (a character device such as `console:`), silently from a pipe or a file |
//!
//! It exits with the status of the last command (or `exit N`'s); 2 for a
//! syntax error in `-c` or a script, 127 for a script that cannot be read.
//! Interactive, it prints a banner and the prompt `tessera:PWD$ ` and asks
//! the console (`console:control`, through a named dup of fd 0) to send
//! Ctrl-C to the commands it runs.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod builtins;
#[cfg(target_os = "none")]
mod exec;
#[cfg(target_os = "none")]
mod input;
#[cfg(target_os = "none")]
mod shell;

#[cfg(target_os = "none")]
mod program {
    use alloc::string::String;
    use alloc::vec::Vec;

    use tessera_runtime::abi::FD_CLOEXEC;
    use tessera_runtime::abi::flag::{F_SETFD, MODE_CHR, MODE_TYPE};
    use tessera_runtime::{Args, eprintln, io, sys};

    use crate::input;
    use crate::shell::Shell;

    tessera_runtime::entry!(main);

    /// The status when a script cannot be read.
    const NO_SCRIPT: i32 = 127;

    fn main(args: Args) -> i32 {
        let argv: Vec<String> = args.argv().iter().map(|&a| a.into()).collect();
        match argv.get(1).map(String::as_str) {
            Some("-c") => {
                let Some(text) = argv.get(2) else {
                    eprintln!("sh: -c needs an argument");
                    return 2;
                };
                let mut positional: Vec<String> = argv[3..].to_vec();
                if positional.is_empty() {
                    positional.push("sh".into());
                }
                let mut shell = Shell::new(args.env(), positional);
                let status = shell.run_text(text);
                shell.exit.unwrap_or(status)
            }
            Some(file) => {
                let mut shell = Shell::new(args.env(), argv[1..].to_vec());
                let path = shell.resolve(file);
                let text = match io::read_file(&path) {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        eprintln!("sh: {file}: {e}");
                        return NO_SCRIPT;
                    }
                };
                let status = shell.run_text(&String::from_utf8_lossy(&text));
                shell.exit.unwrap_or(status)
            }
            None => {
                let mut shell = Shell::new(args.env(), argv.clone());
                let interactive = sys::fstat(0)
                    .is_ok_and(|stat| u32::from(stat.st_mode) & u32::from(MODE_TYPE) == u32::from(MODE_CHR));
                if interactive {
                    shell.control = sys::dup_named(0, b"control").ok();
                    // Programs the shell runs do not get the handle.
                    if let Some(fd) = shell.control {
                        let _ = sys::fcntl(fd, F_SETFD, FD_CLOEXEC);
                    }
                    let arch = if cfg!(target_arch = "aarch64") { "aarch64" } else { "x86_64" };
                    tessera_runtime::println!("Tessera shell on {arch}: type help for the commands");
                }
                input::run_stdin(&mut shell, interactive)
            }
        }
    }
}

/// On the host the shell cannot run (its language's tests can: `cargo test -p sh`).
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("sh runs on Tessera only");
    std::process::exit(2);
}
