//! `uname [-a | -s | -r | -m]`: the system's name (`Tessera`, the default
//! and `-s`), release (`-r`, the kernel's version), machine (`-m`,
//! `x86_64` or `aarch64`), or all three (`-a`), from the kernel's
//! `sys:uname` (`Tessera VERSION ARCH`; VERSION as the boot banner's, e.g.
//! `0.1.0 (8f772490a64d)`). On a kernel without that file it
//! falls back to what the tool was built with.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;

use coreutils::Tool;
use coreutils::sysinfo::{Uname, read_text};
use tessera_runtime::{Args, println};

tessera_runtime::entry!(main);

/// What this build says when `sys:uname` is missing.
const BUILT: Uname<'static> = Uname {
    system: "Tessera",
    release: env!("CARGO_PKG_VERSION"),
    machine: if cfg!(target_arch = "aarch64") { "aarch64" } else { "x86_64" },
};

fn main(args: Args) -> i32 {
    let tool = Tool::new("uname", "[-a | -s | -r | -m]");
    let parsed = match tool.options(coreutils::operands(&args), "asrm") {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    if let Some(extra) = parsed.operands.first() {
        return tool.usage_error(format_args!("unexpected operand {extra}"));
    }
    let text = read_text("sys:uname").unwrap_or_default();
    let uname = Uname::parse(&text).unwrap_or(BUILT);
    let all = parsed.has('a');
    let mut fields = Vec::new();
    if all || parsed.has('s') || !(parsed.has('r') || parsed.has('m')) {
        fields.push(uname.system);
    }
    if all || parsed.has('r') {
        fields.push(uname.release);
    }
    if all || parsed.has('m') {
        fields.push(uname.machine);
    }
    println!("{}", fields.join(" "));
    tool.status()
}
