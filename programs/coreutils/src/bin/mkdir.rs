//! `mkdir [-p] DIR...`: makes directories (`open` with `O_CREAT |
//! O_DIRECTORY | O_EXCL`). With `-p` the missing parents are made first
//! and a directory that already exists is not an error.
#![no_std]
#![no_main]

use coreutils::{Tool, files, path};
use tessera_runtime::abi::error::EEXIST;
use tessera_runtime::{Args, Error, sys};

tessera_runtime::entry!(main);

fn main(args: Args) -> i32 {
    let mut tool = Tool::new("mkdir", "[-p] DIR...");
    let parsed = match tool.options(coreutils::operands(&args), "p") {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    if parsed.operands.is_empty() {
        return tool.usage_error(format_args!("missing operand"));
    }
    let cwd = path::cwd(&args);
    let parents = parsed.has('p');
    for dir in parsed.operands {
        let target = path::resolve(cwd, dir);
        let made = if parents { make_all(&target) } else { sys::mkdir(&target) };
        if let Err(e) = made {
            tool.error(dir, e);
        }
    }
    tool.status()
}

/// Makes `dir` and its missing parents; an existing directory is fine.
fn make_all(dir: &str) -> Result<(), Error> {
    match sys::mkdir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.errno == EEXIST => {
            // Something is there: fine if it is a directory.
            let stat = files::stat(dir)?;
            if files::is_dir(&stat) { Ok(()) } else { Err(e) }
        }
        Err(e) => match path::parent(dir) {
            // A missing parent (ENOENT): make it, then try again.
            Some(parent) if e.errno == tessera_runtime::abi::error::ENOENT => {
                make_all(parent)?;
                sys::mkdir(dir)
            }
            _ => Err(e),
        },
    }
}
