//! `shutdown`: powers the machine off, by writing `shutdown` to the
//! kernel's `sys:power` (ACPI S5 on x86_64, PSCI SYSTEM_OFF on aarch64;
//! QEMU exits). Refused (`EPERM`, status 1) for an unprivileged process.
#![no_std]
#![no_main]

use coreutils::Tool;
use tessera_runtime::Args;

tessera_runtime::entry!(main);

fn main(args: Args) -> i32 {
    coreutils::power(&mut Tool::new("shutdown", ""), &args, "shutdown", "powering off")
}
