//! `kill [-SIGNAL | -s SIGNAL] PID...` sends a signal (default `TERM`) to
//! each process; `kill -l` lists the signal names. SIGNAL is a number or
//! a name with or without `SIG` (`-9`, `-KILL`, `-SIGKILL`, `-TERM`,
//! `-INT`); signal 0 only checks that the process exists. The kernel has
//! no signal handlers yet: every signal ends the process, and its parent's
//! `waitpid` shows which signal it was.
#![no_std]
#![no_main]

use coreutils::{Tool, signal};
use tessera_runtime::abi::signal::SIGTERM;
use tessera_runtime::{Args, println, sys};

tessera_runtime::entry!(main);

fn main(args: Args) -> i32 {
    let mut tool = Tool::new("kill", "[-SIGNAL | -s SIGNAL] PID... | -l");
    let mut words = coreutils::operands(&args);
    let mut number = SIGTERM;
    match words.first().copied() {
        Some("-l") => {
            for (n, name) in signal::NAMED {
                println!("{n:>2} {name}");
            }
            return tool.status();
        }
        Some("--help") => return tool.help(),
        Some("-s") => {
            let Some(name) = words.get(1) else { return tool.usage_error(format_args!("-s needs a signal")) };
            let Some(n) = signal::parse(name) else { return tool.usage_error(format_args!("unknown signal {name}")) };
            number = n;
            words = &words[2..];
        }
        Some("--") => words = &words[1..],
        Some(word) if word.starts_with('-') => {
            let Some(n) = signal::parse(&word[1..]) else {
                return tool.usage_error(format_args!("unknown signal {word}"));
            };
            number = n;
            words = &words[1..];
        }
        _ => {}
    }
    if words.is_empty() {
        return tool.usage_error(format_args!("missing process id"));
    }
    for word in words {
        let Ok(pid) = word.parse::<usize>() else {
            return tool.usage_error(format_args!("not a process id: {word}"));
        };
        if let Err(e) = sys::kill(pid, number) {
            tool.error(word, e);
        }
    }
    tool.status()
}
