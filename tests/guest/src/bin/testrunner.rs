//! `testrunner`: runs test programs one at a time and reports each.
//!
//! The tests are the names given as arguments, or, with none, the lines of
//! `initfs:etc/tests.list` (format: `process::program_lines`; a line may
//! give the test arguments). Each runs as `initfs:bin/<name>` in its own
//! process (fork + execve + waitpid) with the runner's environment,
//! unprivileged (`execve` drops the privilege), unless its line starts
//! with `privileged` (`privileged mm-physical`): then it keeps the
//! runner's privilege (the test init.rc starts the runner as `privileged
//! testrunner`; docs/kernel.md, "Privilege"). A privileged line the runner
//! cannot honour (it is unprivileged itself) fails with EPERM. The
//! runner prints `ok NAME`, or `FAIL NAME: why` with the exit status or the
//! signal, then `N passed, N failed` on a line of its own, and exits with 0
//! when every test passed, else 1.
//!
//! Before the first test it waits until the root filesystem serves (one
//! request to `file:`): redoxfsd registers `file:` before it mounts
//! (docs/redoxfs.md), so init's `wait-scheme file` can return while the
//! mount still reads the disk and allocates, and a test that takes a
//! baseline of free frames first (`ramfs-files`) would count the mount's.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

use tessera_runtime::abi::O_CLOEXEC;
use tessera_runtime::abi::flag::O_RDONLY;
use tessera_runtime::{Args, io, println, process, sys};

tessera_runtime::entry!(main);

/// Where the test list lives when no test is named on the command line.
const TESTS_LIST: &str = "initfs:etc/tests.list";

fn main(args: Args) -> i32 {
    let lines: Vec<String> = if args.argv().len() > 1 {
        args.argv()[1..].iter().map(|&name| name.into()).collect()
    } else {
        match io::read_file(TESTS_LIST).map(String::from_utf8) {
            Ok(Ok(text)) => process::program_lines(&text).map(String::from).collect(),
            Ok(Err(_)) => return report_broken_list("is not UTF-8"),
            Err(e) => return report_broken_list(&alloc::format!("cannot be read: {e} (errno {})", e.errno)),
        }
    };

    wait_for_root();
    let (mut passed, mut failed) = (0, 0);
    for line in &lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (privileged, argv) = process::split_privileged(&words);
        let Some(&name) = argv.first() else { continue };
        let path = process::program_path(name);
        let spawned = if privileged {
            process::spawn_privileged(&path, argv, args.env())
        } else {
            process::spawn(&path, argv, args.env())
        };
        match spawned.and_then(process::wait) {
            Ok(status) if status.success() => {
                passed += 1;
                println!("ok {name}");
            }
            Ok(status) => {
                failed += 1;
                println!("FAIL {name}: {status}");
            }
            Err(e) => {
                failed += 1;
                println!("FAIL {name}: could not start: {e} (errno {})", e.errno);
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 { 0 } else { 1 }
}

/// The list itself is broken: one failure, so the run cannot look green.
fn report_broken_list(why: &str) -> i32 {
    println!("FAIL testrunner: {TESTS_LIST} {why}");
    println!("0 passed, 1 failed");
    1
}

/// Waits until `file:` answers a request, if the image has it (an image
/// without it answers at once with an error, which is ignored).
fn wait_for_root() {
    if let Ok(fd) = sys::open("file:", O_RDONLY | O_CLOEXEC) {
        let _ = sys::close(fd);
    }
}
