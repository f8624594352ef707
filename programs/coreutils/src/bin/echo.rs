//! `echo [-n] [WORD...]`: prints the words separated by single spaces,
//! then a newline unless the first word is `-n`. Like POSIX `echo`, it
//! takes no other options and no `--`: every other word is printed as it
//! is, and backslashes are not interpreted.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;

use tessera_runtime::io::{self, STDOUT};
use tessera_runtime::{Args, eprintln};

tessera_runtime::entry!(main);

fn main(args: Args) -> i32 {
    let mut words = coreutils::operands(&args);
    let newline = words.first() != Some(&"-n");
    if !newline {
        words = &words[1..];
    }
    let mut text = Vec::new();
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            text.push(b' ');
        }
        text.extend_from_slice(word.as_bytes());
    }
    if newline {
        text.push(b'\n');
    }
    match io::write_all(STDOUT, &text) {
        Ok(()) => coreutils::EXIT_SUCCESS,
        Err(e) => {
            eprintln!("echo: standard output: {}", coreutils::errno::Described(e));
            coreutils::EXIT_FAILURE
        }
    }
}
