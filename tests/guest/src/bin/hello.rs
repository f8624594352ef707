//! `hello`: the first test program. It prints its arguments, environment
//! and auxiliary vector, checks what `exec` gave it, then checks that
//! arguments and environment survive `execve` exactly: it starts itself
//! again with a known, awkward argv and envp (empty strings, spaces,
//! non-ASCII, a long string) and the marker `TESSERA_HELLO_CHILD=1`; that
//! second run only compares what it received with what was sent.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use tessera_guest_tests::Checks;
use tessera_runtime::abi::auxv::{AT_ENTRY, AT_PAGESZ};
use tessera_runtime::{Args, println, process};

tessera_runtime::entry!(main);

/// Set in the environment of the round-trip run.
const MARKER: &str = "TESSERA_HELLO_CHILD";

/// The argv sent to the round-trip run (argv[0] first).
fn round_trip_argv() -> Vec<String> {
    let long: String = (0..300).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    ["hello", "", "two words", "ünïcödé ✓", "tab\there", &long].iter().map(|&s| s.into()).collect()
}

/// The environment sent to the round-trip run.
fn round_trip_envp() -> Vec<String> {
    [format!("{MARKER}=1"), "EMPTY=".into(), "SPACES=a b  c".into(), "EQUALS=x=y".into()].into()
}

fn main(args: Args) -> i32 {
    println!("hello: argc = {}", args.argv().len());
    for (i, arg) in args.argv().iter().enumerate() {
        println!("hello: argv[{i}] = {arg:?}");
    }
    for var in args.env() {
        println!("hello: env {var:?}");
    }
    for [key, value] in args.auxv() {
        println!("hello: auxv {key} = {value:#x}");
    }
    if args.var(MARKER) == Some("1") {
        return check_round_trip(args);
    }

    let mut checks = Checks::new("hello");
    checks.check("argc >= 1", !args.argv().is_empty(), format_args!("argc is 0"));
    checks.check(
        "argv[0] names the program",
        args.program().ends_with("hello"),
        format_args!("argv[0] is {:?}", args.program()),
    );
    if let Some(page) = args.aux(AT_PAGESZ) {
        checks.check("AT_PAGESZ is 4096", page == 4096, format_args!("AT_PAGESZ is {page}"));
    }
    if let Some(entry) = args.aux(AT_ENTRY) {
        unsafe extern "C" {
            /// The runtime's entry point.
            fn _start();
        }
        let start = _start as *const () as usize;
        checks.check("AT_ENTRY is _start", entry == start, format_args!("AT_ENTRY {entry:#x}, _start {start:#x}"));
    }

    let argv = round_trip_argv();
    let envp = round_trip_envp();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let envp: Vec<&str> = envp.iter().map(String::as_str).collect();
    let path = process::program_path("hello");
    match process::spawn(&path, &argv, &envp).and_then(process::wait) {
        Ok(status) => checks.check(
            "argv and envp round-trip through execve",
            status.success(),
            format_args!("the round-trip run {status}"),
        ),
        Err(e) => checks.check("argv and envp round-trip through execve", false, format_args!("spawn/wait: {e}")),
    }
    checks.finish()
}

/// The round-trip run: did exactly the sent strings arrive?
fn check_round_trip(args: Args) -> i32 {
    let mut checks = Checks::new("hello (round trip)");
    let (argv, envp) = (round_trip_argv(), round_trip_envp());
    checks.check(
        "argv arrived intact",
        args.argv().iter().copied().eq(argv.iter().map(String::as_str)),
        format_args!("sent {argv:?}, got {:?}", args.argv()),
    );
    checks.check(
        "envp arrived intact",
        args.env().iter().copied().eq(envp.iter().map(String::as_str)),
        format_args!("sent {envp:?}, got {:?}", args.env()),
    );
    checks.finish()
}
