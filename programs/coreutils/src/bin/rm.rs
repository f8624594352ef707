//! `rm [-r] [-f] PATH...`: removes files (`unlink`). With `-r`, a
//! directory and everything below it goes too (depth first, `rmdir` for
//! each directory); without it a directory is refused (`EISDIR`). `-f`
//! ignores operands that do not exist.
#![no_std]
#![no_main]

use coreutils::{Tool, files, path};
use tessera_runtime::abi::error::ENOENT;
use tessera_runtime::{Args, sys};

tessera_runtime::entry!(main);

fn main(args: Args) -> i32 {
    let mut tool = Tool::new("rm", "[-r] [-f] PATH...");
    let parsed = match tool.options(coreutils::operands(&args), "rRf") {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    let (recursive, force) = (parsed.has('r') || parsed.has('R'), parsed.has('f'));
    if parsed.operands.is_empty() && !force {
        return tool.usage_error(format_args!("missing operand"));
    }
    let cwd = path::cwd(&args);
    for operand in parsed.operands {
        let target = path::resolve(cwd, operand);
        if recursive {
            files::remove_tree(&target, &mut |what, e| {
                if !(force && e.errno == ENOENT) {
                    // Name what failed as the user wrote it where it is the operand.
                    tool.error(if what == target { operand } else { what }, e);
                }
            });
        } else if let Err(e) = sys::unlink(&target)
            && !(force && e.errno == ENOENT)
        {
            tool.error(operand, e);
        }
    }
    tool.status()
}
