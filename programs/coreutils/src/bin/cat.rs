//! `cat [FILE...]`: copies each file to standard output, in order;
//! standard input when there is no operand or for `-`. A file that cannot
//! be opened or read is reported and skipped (exit status 1).
#![no_std]
#![no_main]

extern crate alloc;

use coreutils::{Tool, path};
use tessera_runtime::abi::O_CLOEXEC;
use tessera_runtime::abi::flag::O_RDONLY;
use tessera_runtime::io::{self, STDOUT};
use tessera_runtime::{Args, Error, sys};

tessera_runtime::entry!(main);

/// Standard input's fd.
const STDIN: usize = 0;
/// Bytes moved per `read`.
const CHUNK_BYTES: usize = 4096;

/// Where a copy failed.
enum Failure {
    Read(Error),
    Write(Error),
}

fn main(args: Args) -> i32 {
    let mut tool = Tool::new("cat", "[FILE...]");
    let parsed = match tool.options(coreutils::operands(&args), "") {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    let files = if parsed.operands.is_empty() { alloc::vec!["-"] } else { parsed.operands };
    let cwd = path::cwd(&args);
    for file in files {
        let fd = if file == "-" {
            STDIN
        } else {
            match sys::open(&path::resolve(cwd, file), O_RDONLY | O_CLOEXEC) {
                Ok(fd) => fd,
                Err(e) => {
                    tool.error(file, e);
                    continue;
                }
            }
        };
        let copied = copy(fd);
        if fd != STDIN {
            let _ = sys::close(fd);
        }
        match copied {
            Ok(()) => {}
            Err(Failure::Read(e)) => tool.error(file, e),
            Err(Failure::Write(e)) => {
                // Nobody reads any more (a closed pipe): stop here.
                tool.error("standard output", e);
                break;
            }
        }
    }
    tool.status()
}

/// Copies `fd` to standard output until its end.
fn copy(fd: usize) -> Result<(), Failure> {
    let mut buf = [0u8; CHUNK_BYTES];
    loop {
        match sys::read(fd, &mut buf).map_err(Failure::Read)? {
            0 => return Ok(()),
            n => io::write_all(STDOUT, &buf[..n.min(CHUNK_BYTES)]).map_err(Failure::Write)?,
        }
    }
}
