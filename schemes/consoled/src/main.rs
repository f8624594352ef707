//! `consoled`: serves `console:` — the serial console with line editing —
//! over the kernel's raw `debug:` (which neither echoes nor edits).
//!
//! Two threads share the daemon's state under one lock:
//! - the **input** thread reads `debug:` and feeds every byte to the line
//!   editor (`tessera_consoled::line`): it echoes, queues finished lines
//!   and end-of-input marks (`tessera_consoled::cooked`), and on Ctrl-C
//!   sends SIGINT to the foreground processes and their descendants;
//! - the **request** thread serves `console:`. A read of the terminal
//!   with nothing typed yet is not answered at once: it waits in the
//!   daemon's list of pending reads, and whichever thread next has input
//!   for it writes the response (the kernel matches responses to requests
//!   by tag, so they may come in any order and from any thread).
//!
//! What `console:` offers (docs/shell.md, "Console"):
//!
//! | path / call | what it does |
//! |---|---|
//! | `open("console:")` | the terminal: `read` returns one finished line at most (0 once per Ctrl-D on an empty line), `write` goes to the serial port; `fstat` says character device |
//! | `open("console:control")`, or `dup(terminal fd, "control")` | the control handle: writing `fg PID...` names the foreground processes Ctrl-C interrupts, `fg` alone clears them |
//! | `dup(terminal fd, "winsize")` | the window size (Redox's pty name): `read` of 8 bytes gives `struct winsize` (rows, columns, x and y pixels; native-endian `u16`s; 24 × 80 until set), `write` of 8 bytes sets it (what libc's TIOCGWINSZ / TIOCSWINSZ do); other lengths EINVAL |
//!
//! Ctrl-C with no foreground process drops the line being typed and
//! what was typed ahead, and gives a waiting reader an empty line (`\n`),
//! so a shell at its prompt simply prompts again.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod daemon;

/// On the host the daemon cannot run (its line discipline's tests can:
/// `cargo test -p consoled`).
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("consoled runs on Tessera only");
    std::process::exit(2);
}
