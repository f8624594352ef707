//! `reboot`: resets the machine, by writing `reboot` to the kernel's
//! `sys:power`. Refused (`EPERM`, status 1) for an unprivileged process.
#![no_std]
#![no_main]

use coreutils::Tool;
use tessera_runtime::Args;

tessera_runtime::entry!(main);

fn main(args: Args) -> i32 {
    coreutils::power(&mut Tool::new("reboot", ""), &args, "reboot", "restarting")
}
