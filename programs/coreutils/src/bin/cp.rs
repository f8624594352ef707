//! `cp SRC DST`: copies the file SRC to DST (created, or truncated and
//! overwritten). When DST is a directory, the copy is `DST/NAME` with
//! SRC's last component as NAME. Directories are not copied (`EISDIR`).
#![no_std]
#![no_main]

use coreutils::files::{self, Side};
use coreutils::{Tool, path};
use tessera_runtime::Args;

tessera_runtime::entry!(main);

fn main(args: Args) -> i32 {
    let mut tool = Tool::new("cp", "SRC DST");
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
    match files::copy_file(&from, &to) {
        Ok(()) => {}
        Err((Side::Source, e)) => tool.error(src, e),
        Err((Side::Target, e)) => tool.error(&to, e),
    }
    tool.status()
}
