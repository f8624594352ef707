//! `init`: the first user process.
//!
//! It prints `init: started (pid N)`, then runs the programs listed in
//! `initfs:etc/init.rc` one after the other (format: `process::program_lines`:
//! one program per line with its arguments, `#` comments; bare names are
//! `initfs:bin/<name>`). Each runs in its own process with init's
//! environment, and init reports `init: <name> exited with status N` (or the
//! signal that killed it) when it ends.
//!
//! In the test image the list is the test runner; later it starts the
//! daemons (`ramfs`, drivers) and a console program. When the list is done
//! init exits: with 0 when every program exited with 0, else with 1, so the
//! kernel, which decides what the end of init means, can pass a failure on.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;

use tessera_runtime::{Args, eprintln, io, println, process, sys};

tessera_runtime::entry!(main);

/// The program list.
const INIT_RC: &str = "initfs:etc/init.rc";

fn main(args: Args) -> i32 {
    match sys::getpid() {
        Ok(pid) => println!("init: started (pid {pid})"),
        Err(e) => println!("init: started (getpid failed: {e})"),
    }
    let text = match io::read_file(INIT_RC) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("init: cannot read {INIT_RC}: {e} (errno {})", e.errno);
            return 1;
        }
    };
    let Ok(text) = core::str::from_utf8(&text) else {
        eprintln!("init: {INIT_RC} is not UTF-8");
        return 1;
    };

    let mut failed = 0;
    for line in process::program_lines(text) {
        let argv: Vec<&str> = line.split_whitespace().collect();
        let Some(&name) = argv.first() else { continue };
        let path = process::program_path(name);
        match process::spawn(&path, &argv, args.env()).and_then(process::wait) {
            Ok(status) => {
                println!("init: {name} {status}");
                if !status.success() {
                    failed += 1;
                }
            }
            Err(e) => {
                println!("init: cannot run {name}: {e} (errno {})", e.errno);
                failed += 1;
            }
        }
    }
    if failed == 0 { 0 } else { 1 }
}
