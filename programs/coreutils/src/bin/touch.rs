//! `touch FILE...`: makes each file that does not exist, empty (`open`
//! with `O_CREAT`, without `O_TRUNC`: an existing file keeps its bytes).
//! Tessera's schemes keep no modification times yet, so an existing file
//! is left as it is.
#![no_std]
#![no_main]

use coreutils::{Tool, path};
use tessera_runtime::abi::O_CLOEXEC;
use tessera_runtime::abi::error::EISDIR;
use tessera_runtime::abi::flag::{O_CREAT, O_WRONLY};
use tessera_runtime::{Args, sys};

tessera_runtime::entry!(main);

fn main(args: Args) -> i32 {
    let mut tool = Tool::new("touch", "FILE...");
    let parsed = match tool.options(coreutils::operands(&args), "") {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    if parsed.operands.is_empty() {
        return tool.usage_error(format_args!("missing operand"));
    }
    let cwd = path::cwd(&args);
    for file in parsed.operands {
        match sys::open(&path::resolve(cwd, file), O_CREAT | O_WRONLY | O_CLOEXEC) {
            Ok(fd) => {
                let _ = sys::close(fd);
            }
            // An existing directory: there is nothing to make.
            Err(e) if e.errno == EISDIR && coreutils::files::stat(&path::resolve(cwd, file)).is_ok() => {}
            Err(e) => tool.error(file, e),
        }
    }
    tool.status()
}
