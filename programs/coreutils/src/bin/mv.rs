//! `mv SRC DST`: renames SRC to DST (`frename` on an open SRC: a file or
//! a directory, replacing what DST named as POSIX `rename` does). When
//! DST is a directory, SRC moves into it under its own name. Between
//! schemes (`EXDEV`), a file is copied and the original removed.
#![no_std]
#![no_main]

use coreutils::files::{self, Side};
use coreutils::{Tool, path};
use tessera_runtime::abi::O_CLOEXEC;
use tessera_runtime::abi::error::{EISDIR, EXDEV};
use tessera_runtime::abi::flag::{O_DIRECTORY, O_RDONLY};
use tessera_runtime::{Args, Error, sys};

tessera_runtime::entry!(main);

fn main(args: Args) -> i32 {
    let mut tool = Tool::new("mv", "SRC DST");
    let parsed = match tool.options(coreutils::operands(&args), "") {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    let &[src, dst] = parsed.operands.as_slice() else {
        return tool.usage_error(format_args!("expected two operands, got {}", parsed.operands.len()));
    };
    let cwd = path::cwd(&args);
    let from = path::resolve(cwd, src);
    let mut to = path::resolve(cwd, dst);
    if files::stat(&to).is_ok_and(|stat| files::is_dir(&stat)) {
        to = path::join(&to, path::file_name(&from));
    }
    // The kernel answers EXDEV for a target in another scheme.
    match rename(&from, &to) {
        Ok(()) => {}
        Err(e) if e.errno == EXDEV => match files::copy_file(&from, &to) {
            Ok(()) => {
                if let Err(e) = sys::unlink(&from) {
                    tool.error(src, e);
                }
            }
            Err((Side::Source, e)) => tool.error(src, e),
            Err((Side::Target, e)) => tool.error(&to, e),
        },
        Err(e) => tool.error(src, e),
    }
    tool.status()
}

/// Opens `from` (a file or a directory) and renames it to `to`.
fn rename(from: &str, to: &str) -> Result<(), Error> {
    let fd = match sys::open(from, O_RDONLY | O_CLOEXEC) {
        Err(e) if e.errno == EISDIR => sys::open(from, O_RDONLY | O_DIRECTORY | O_CLOEXEC)?,
        other => other?,
    };
    let renamed = sys::frename(fd, to);
    let _ = sys::close(fd);
    renamed
}
