//! `reboot`: resets the machine, by writing `reboot` to init's
//! `init:power`; init writes it to the kernel's `sys:power`. The tool
//! itself is unprivileged, as everything the shell runs (docs/init.md,
//! "Privilege").
#![no_std]
#![no_main]

use coreutils::Tool;
use tessera_runtime::Args;

tessera_runtime::entry!(main);

fn main(args: Args) -> i32 {
    coreutils::power(&mut Tool::new("reboot", ""), &args, "reboot", "restarting")
}
